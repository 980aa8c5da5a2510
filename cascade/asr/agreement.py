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
_MAX_OVERLAP = 5


def normalize(text: str) -> str:
    """Lower-case, punctuation removed: the form words are compared in."""
    return _NON_WORD.sub("", text.lower())


class LocalAgreement:
    """Committed words of one speech segment and the policy that grows them."""

    def __init__(self) -> None:
        self.committed: list[Word] = []
        """Words that will not change any more, in order."""
        self.pending: list[Word] = []
        """The latest hypothesis' words after the committed ones (may still change)."""

    @property
    def committed_end(self) -> float:
        """Session time the last committed word ends (``-inf`` when none)."""
        return self.committed[-1].end if self.committed else float("-inf")

    def tail(self, words: Sequence[Word]) -> list[Word]:
        """The part of a hypothesis after the committed words."""
        end = self.committed_end
        tail = [w for w in words if w.start > end - _OVERLAP_SLACK]
        for n in range(min(_MAX_OVERLAP, len(self.committed), len(tail)), 0, -1):
            head = [normalize(w.text) for w in tail[:n]]
            if head == [normalize(w.text) for w in self.committed[-n:]]:
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
