"""LocalAgreement: commit the words two consecutive hypotheses agree on, never change them again.

Each streaming decode re-recognizes the audio since the last trim. Words already committed are
removed from the front of a new hypothesis (by time, then by text overlap), leaving its *tail*.
The longest common prefix of the previous and the current tail is committed: Whisper seldom
changes a word once two decodes of growing audio agree on it, while the last word or two of a
decode (cut mid-word) often change.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from cascade.frames import Word

_NON_WORD = re.compile(r"[^\w']+")
_OVERLAP_SLACK = 0.1
"""A word starting this much before the committed end may still be new (timings jitter)."""
_REPEAT_SLACK = 0.3
"""Tail words starting before the committed end plus this may repeat committed text."""
_BEFORE_SLACK = 1.0
"""A new segment's first words starting this soon after the previous segment's may repeat it."""
_MAX_OVERLAP = 5
_MAX_REPEAT = 12
_LEAST_COPY = 3
"""Longest run of the previous segment's last words a new segment's start is checked against."""


def normalize(text: str) -> str:
    """Lower-case, punctuation removed: the form words are compared in."""
    return _NON_WORD.sub("", text.lower())


class LocalAgreement:
    """Committed words of one speech segment and the policy that grows them."""

    def __init__(self, before: Sequence[Word] = ()) -> None:
        """Start empty; ``before`` are the last words of the previous segment, if any.

        A segment's audio starts a little before its speech (pre-roll), so its decodes may
        repeat the previous segment's last word; :meth:`tail` drops such repetitions.
        """
        self.committed: list[Word] = []
        """Words that will not change any more, in order."""
        self.pending: list[Word] = []
        """The latest hypothesis' words after the committed ones (may still change)."""
        self._before: list[Word] = []
        self.follow(before)

    def follow(self, before: Sequence[Word]) -> None:
        """Set the previous segment's words (see the constructor)."""
        self._before = list(before[-_MAX_REPEAT:])

    @property
    def committed_end(self) -> float:
        """Session time the last committed word ends (``-inf`` when none)."""
        return self.committed[-1].end if self.committed else float("-inf")

    def tail(self, words: Sequence[Word]) -> list[Word]:
        """The part of a hypothesis after the committed words.

        Words starting before the committed end are dropped (with some slack for timing jitter);
        then leading words that repeat the end of the committed text are: compared as letters
        without spaces, so a word split or joined differently ("goodbye" / "good bye") is still
        recognized, and only while they start near the committed end (a real repetition later,
        "no, no", stays).
        """
        end = self.committed_end
        tail = [w for w in words if w.start > end - _OVERLAP_SLACK]
        known, least, most, slack = self.committed[-_MAX_OVERLAP:], 1, _MAX_OVERLAP, _REPEAT_SLACK
        if not known and self._before:
            # the previous segment's words (its audio is not decoded again): only a copy of its
            # last words, as Whisper sometimes makes of the end of its prompt, by text (times
            # jitter); a word or two said again ("five, five") is speech
            known, least, most, slack = self._before, _LEAST_COPY, _MAX_REPEAT, _BEFORE_SLACK
            end = known[-1].end
        committed = "".join(normalize(w.text) for w in known)
        for n in range(min(most, len(tail)), least - 1, -1):
            head = "".join(normalize(w.text) for w in tail[:n])
            if head and committed.endswith(head) and tail[0].start < end + slack:
                return tail[n:]
        return tail

    def update(self, words: Sequence[Word]) -> list[Word]:
        """Take a new hypothesis; return the words it newly commits."""
        tail = self.tail(words)
        agreed = 0
        for old, new in zip(self.pending, tail, strict=False):
            if normalize(old.text) != normalize(new.text):
                break
            agreed += 1
        newly = tail[:agreed]
        self.committed.extend(newly)
        self.pending = tail[agreed:]
        return newly

    def finalize(self, words: Sequence[Word]) -> list[Word]:
        """The segment's final words: the committed ones plus the whole tail of ``words``."""
        self.pending = []
        self.committed.extend(self.tail(words))
        return list(self.committed)

    def force_commit(self, until: float) -> list[Word]:
        """Commit pending words that end by ``until`` (used when the buffer must be trimmed)."""
        count = 0
        while count < len(self.pending) and self.pending[count].end <= until:
            count += 1
        newly, self.pending = self.pending[:count], self.pending[count:]
        self.committed.extend(newly)
        return newly


def join(words: Sequence[Word]) -> str:
    """Words as text."""
    return " ".join(w.text for w in words)
