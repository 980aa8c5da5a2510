"""The VAD's start/stop state machine over window probabilities (pure; no model, no clock)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cascade.vad.options import VADOptions


@dataclass(frozen=True)
class SegmentEvent:
    """An onset, start, stop, pause or resume decided by :class:`SpeechSegmenter`."""

    what: Literal["onset", "start", "stop", "pause", "resume"]
    time: float
    """Audio time of the speech start (padded), its end (stop, pause), its going on (resume) or
    its first speech-like window (onset, not padded)."""
    speech_start: float
    """Audio time the segment started (padded)."""
    probability: float = 1.0

    @property
    def started(self) -> bool:
        """True for a start."""
        return self.what == "start"


class SpeechSegmenter:
    """The start/stop state machine over window probabilities (pure; no model, no clock)."""

    def __init__(self, options: VADOptions | None = None) -> None:
        self.options = options or VADOptions()
        self.in_speech = False
        self._origin: float | None = None
        self._candidate: float | None = None
        """Start time of a run of speech windows not yet long enough to count."""
        self._segment_start = 0.0
        self._last_speech_end = 0.0
        self._peak = 0.0
        self._paused = False

    def push(self, start: float, end: float, probability: float) -> SegmentEvent | None:
        """Feed one window; return the event it decides, if any."""
        opts = self.options
        if self._origin is None:
            self._origin = start
        if not self.in_speech:
            if probability >= opts.threshold:
                onset = self._candidate is None
                if onset:
                    self._candidate, self._peak = start, 0.0
                self._peak = max(self._peak, probability)
                candidate = self._candidate
                assert candidate is not None
                if end - candidate >= opts.min_speech:
                    self.in_speech = True
                    self._segment_start = max(self._origin, candidate - opts.speech_pad)
                    self._last_speech_end = end
                    self._candidate = None
                    return SegmentEvent("start", self._segment_start, self._segment_start, self._peak)
                if onset:
                    return SegmentEvent("onset", start, start, probability)
            else:
                self._candidate = None
            return None
        if probability >= opts.silence_threshold:
            resumed = self._paused
            self._paused = False
            self._last_speech_end = end
            return SegmentEvent("resume", start, self._segment_start) if resumed else None
        quiet = end - self._last_speech_end
        if quiet >= opts.min_silence:
            return self.stop()
        pause = opts.pause_silence
        if pause is not None and quiet >= pause and not self._paused:
            self._paused = True
            return SegmentEvent("pause", self._last_speech_end, self._segment_start)
        return None

    def stop(self) -> SegmentEvent | None:
        """Close an open segment now (end of stream); None when not in speech."""
        self._candidate = None
        if not self.in_speech:
            return None
        self.in_speech = self._paused = False
        return SegmentEvent("stop", self._last_speech_end, self._segment_start)
