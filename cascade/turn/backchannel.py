"""Backchannels: a short "Mm-hmm." at a pause in a long caller turn, never over the caller."""

from __future__ import annotations

import itertools

from cascade.turn.heard import BACKCHANNEL_PREFIX
from cascade.turn.options import BackchannelOptions


class Backchannels:
    """When the next acknowledgement is due, and which phrase it says."""

    def __init__(self, options: BackchannelOptions) -> None:
        self.options = options
        self.due: float | None = None
        """When to say one, if the caller is still silent and the turn still open then."""
        self._last = -1e9
        self._count = itertools.count()

    def schedule(self, turn_start: float | None, speech_end: float, wait: float) -> None:
        """The caller paused at ``speech_end`` in a turn that began at ``turn_start``; the turn's
        end will not be taken for ``wait`` seconds: one fits if the turn is long and the last
        one was a while ago."""
        opts = self.options
        if not opts.enabled or turn_start is None:
            return
        if speech_end - turn_start < opts.min_turn_duration or wait <= opts.min_pause:
            return
        if speech_end - self._last < opts.min_interval:
            return
        self.due = speech_end + opts.min_pause

    def cancel(self) -> None:
        """The caller spoke again, or the turn ended: none is due."""
        self.due = None

    def take(self, now: float) -> tuple[str, str] | None:
        """The due one: ``(phrase, response_id)``, or None when there are no phrases."""
        self.due = None
        phrases = self.options.phrases
        if not phrases:
            return None
        n = next(self._count)
        self._last = now
        return phrases[n % len(phrases)], f"{BACKCHANNEL_PREFIX}{n}"
