"""LocalAgreement: commit the words two consecutive hypotheses agree on, never change them again.

Each streaming decode re-recognizes the audio since the last trim. Words already committed are
removed from the front of a new hypothesis (aligned by text, then time), leaving its *tail*.
The longest common prefix of the previous and the current tail is committed: Whisper seldom
changes a word once two decodes of growing audio agree on it, while the last word or two of a
decode (cut mid-word) often change.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from cascade.frames import Word

_NON_WORD = re.compile(r"[^\w']+")
_COVER_SLACK = 0.3
"""Committed words ending this long before a hypothesis' first word may still be in its audio."""
_BEFORE_SLACK = 1.0
"""A new segment's first words starting this soon after the previous segment's may repeat it."""
_MAX_REPEAT = 12
_LEAST_AGAIN = 2
"""Fewest words of the committed end a tail may start with to count as saying them again."""
_LEAST_COPY = 3
"""Longest run of the previous segment's last words a new segment's start is checked against."""


_NUMBER_NAMES = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
]  # fmt: skip


def normalize(text: str) -> str:
    """Lower-case, punctuation removed, a number up to twenty spelled out ("6." and "six" are the
    same word: Whisper writes either): the form words are compared in."""
    word = _NON_WORD.sub("", text.lower())
    if word.isdigit() and int(word) < len(_NUMBER_NAMES):
        return _NUMBER_NAMES[int(word)]
    return word


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

        The hypothesis re-recognizes the committed words its audio covers; where they end is
        found by aligning its words with them (:func:`context_end`), not by times alone (a
        committed word that was the last of its decode is often stretched over the next word).
        Without committed words, leading words copying the previous segment's last words (as
        Whisper sometimes copies the end of its prompt) are dropped: a run of at least three,
        compared as letters without spaces, so "goodbye" / "good bye" match; a word or two
        said again ("five, five") is speech.
        """
        if self.committed:
            first = words[0].start if words else 0.0
            known = [w for w in self.committed if w.end > first - _COVER_SLACK]
            tail = list(words[context_end(words, known, self.committed_end) :]) if known else list(words)
            # the committed end said again right after itself ("to change your to change your"):
            # the alignment missed it (the hypothesis moved it in time); a single word said twice
            # ("no, no") is speech
            ends = [normalize(w.text) for w in self.committed[-_MAX_REPEAT:]]
            heads = [normalize(w.text) for w in tail[:_MAX_REPEAT]]
            for n in range(min(len(ends), len(heads)), _LEAST_AGAIN - 1, -1):
                if heads[:n] == ends[-n:]:
                    return tail[n:]
            return tail
        tail = list(words)
        if not self._before:
            return tail
        known, end = self._before, self._before[-1].end
        committed = "".join(normalize(w.text) for w in known)
        for n in range(min(_MAX_REPEAT, len(tail)), _LEAST_COPY - 1, -1):
            head = "".join(normalize(w.text) for w in tail[:n])
            if head and committed.endswith(head) and tail[0].start < end + _BEFORE_SLACK:
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


_WRONG_SIDE = 0.3
"""Cost of a word on the wrong side of the boundary time, against 1 per differing word."""
_POOR_MATCH = 0.5
"""Edit distance, per known word, above which a hypothesis is taken not to repeat them."""
_JOINED = 0.3
"""Cost of one word written as two ("forever more" / "forevermore")."""


def context_end(words: Sequence[Word], again: Sequence[Word], boundary: float) -> int:
    """How many of ``words`` (a hypothesis) recognize ``again`` (known words) once more.

    A hypothesis decoded from audio that starts at known words (committed words of the same
    segment, or the previous segment's last words decoded again as context) begins with those
    words once more -- usually a little different (a word joined or split, misheard) and with
    other times (Whisper stretches the last word of a decode, and a word before a pause, into
    the silence after it, so times alone cut a short next word like "and"). The split is where
    the words before it differ least from ``again`` (word edit distance; one word written as
    two costs little), each word whose middle lies on the wrong side of ``boundary`` (where
    the known words end) counting a little; ties keep the earlier split. When even the best
    split differs from ``again`` in more than half its words, the hypothesis does not say them
    again and the words whose middle lies before ``boundary`` are the ones dropped.
    """
    old = [normalize(w.text) for w in again]
    new = [normalize(w.text) for w in words]
    m = len(old)
    # rows[i][j]: edit distance between new[:i] and old[:j]
    rows = [[float(j) for j in range(m + 1)]]
    for i in range(1, len(new) + 1):
        prev, row = rows[i - 1], [float(i)]
        for j in range(1, m + 1):
            best = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (new[i - 1] != old[j - 1]))
            if j >= 2 and new[i - 1] == old[j - 2] + old[j - 1]:
                best = min(best, prev[j - 2] + _JOINED)
            if i >= 2 and new[i - 2] + new[i - 1] == old[j - 1]:
                best = min(best, rows[i - 2][j - 1] + _JOINED)
            row.append(best)
        rows.append(row)
    middles = [(w.start + w.end) / 2 for w in words]
    best_split, best_cost = 0, float("inf")
    for split in range(len(words) + 1):
        wrong = sum(t > boundary for t in middles[:split]) + sum(t < boundary for t in middles[split:])
        cost = rows[split][m] + _WRONG_SIDE * wrong
        if cost < best_cost - 1e-9:
            best_split, best_cost = split, cost
    if rows[best_split][m] > _POOR_MATCH * m:
        # the hypothesis does not say the known words again (it skipped or garbled them): a few
        # new words resembling them must not count as them; split by time alone
        return sum(t < boundary for t in middles)
    return best_split


def after_context(words: Sequence[Word], again: Sequence[Word], start: float) -> list[Word]:
    """The words of a hypothesis that belong to a segment whose own audio starts at ``start``,
    decoded with the audio of the known words ``again`` in front of it.

    Split where the words say ``again`` once more (:func:`context_end`); words after the split
    that still end before ``start`` are context too: a decode that garbled the context (copying
    its prompt, squeezed in time) says it again after the garble, and the alignment then finds
    its end too early.
    """
    rest = words[context_end(words, again, start) :]
    before = 0
    while before < len(rest) and rest[before].end < start:
        before += 1
    return list(rest[before:])


_UNPLACED = 0.01
"""A word this short was not found in the audio by the word alignment."""


def drop_unplaced_tail(words: Sequence[Word]) -> list[Word]:
    """``words`` without what Whisper wrote after the speech it heard.

    A decode that goes on past its audio (often saying its prompt once more) ends with words the
    alignment cannot place: each gets no duration, at the end of the window. A run of at least
    two such words at the end is dropped; a single one may be a real word cut off by the window.
    """
    placed = len(words)
    while placed and words[placed - 1].end - words[placed - 1].start <= _UNPLACED:
        placed -= 1
    return list(words[:placed] if len(words) - placed >= 2 else words)


_LEAST_LOOP = 3
"""Shortest run of words whose immediate repetition counts as a decoding loop."""


def drop_loops(words: Sequence[Word]) -> list[Word]:
    """``words`` without a run of at least three words (two of them different) repeated at once.

    Whisper sometimes says the last sentence of its audio again in the silence that follows it
    ("Press 2 to listen to it. Press 2 to listen to it."), with times squeezed into the speech;
    people rarely repeat a whole phrase back to back. A repetition cut off at the end of the
    hypothesis (a loop stopped by the token budget) is dropped too.
    """
    out = list(words)
    keys = [normalize(w.text) for w in out]
    i = 0
    while i < len(out):
        for size in range((len(out) - i) // 2, _LEAST_LOOP - 1, -1):
            if keys[i + size] != keys[i]:
                continue
            run = keys[i : i + size]
            if len(set(run)) > 1 and keys[i + size : i + 2 * size] == run:
                del out[i + size : i + 2 * size], keys[i + size : i + 2 * size]
                rest = keys[i + size :]
                if rest and rest == run[: len(rest)]:  # the loop went on until the budget ran out
                    del out[i + size :], keys[i + size :]
                break
        else:
            i += 1
    return out


def join(words: Sequence[Word]) -> str:
    """Words as text."""
    return " ".join(w.text for w in words)
