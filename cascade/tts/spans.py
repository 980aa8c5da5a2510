"""Which words each audio frame speaks, estimated from durations.

None of the bundled engines reports word alignment, so a chunk's words are laid out over its
audio in proportion to their length (letters and digits), with extra weight for the pause after
punctuation. A word is attributed to the frame in which its estimated end falls; the chunk's
last frame carries every word not yet attributed. The estimate is coarse within a chunk but exact
at chunk boundaries, which is what the heard-text accounting needs most.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"\s*\S+")
_PAUSES = {",": 2.0, ";": 2.5, ":": 2.5, "—": 2.5, ".": 4.0, "!": 4.0, "?": 4.0, "…": 4.0}

SPEAKING_RATE = 12.0
"""Letters per second used to guess a streamed chunk's duration (slow on purpose: words are
attributed late rather than early, so the caller is never credited with words not yet played)."""


def word_weights(text: str) -> list[tuple[str, float]]:
    """``text`` split into words (each with its leading whitespace) and their relative durations."""
    out = []
    for token in _TOKEN.findall(text):
        core = token.strip()
        weight = max(1.0, float(sum(ch.isalnum() for ch in core)))
        weight += _PAUSES.get(core.rstrip("\"'”’)]")[-1:], 0.0)
        out.append((token, weight))
    return out


def estimate_duration(text: str) -> float:
    """A rough spoken duration of ``text`` in seconds."""
    return sum(w for _, w in word_weights(text)) / SPEAKING_RATE


class SpanAllocator:
    """Hands out a chunk's words to its audio frames as playback time passes.

    ``duration`` is the chunk's audio length when known (an engine that returns whole chunks),
    else an estimate (:func:`estimate_duration`); :meth:`rest` returns whatever is left.
    """

    def __init__(self, text: str, duration: float | None = None) -> None:
        words = word_weights(text)
        total = sum(w for _, w in words) or 1.0
        self.duration = duration if duration is not None else estimate_duration(text)
        self._ends: list[tuple[str, float]] = []
        acc = 0.0
        for token, weight in words:
            acc += weight
            self._ends.append((token, acc / total))
        self._next = 0

    def take(self, until: float) -> str:
        """Words whose estimated end is at or before ``until`` seconds into the chunk."""
        fraction = until / self.duration if self.duration > 0 else 1.0
        start = self._next
        while self._next < len(self._ends) and self._ends[self._next][1] <= fraction + 1e-9:
            self._next += 1
        return "".join(token for token, _ in self._ends[start : self._next])

    def rest(self) -> str:
        """All words not handed out yet."""
        start, self._next = self._next, len(self._ends)
        return "".join(token for token, _ in self._ends[start:])
