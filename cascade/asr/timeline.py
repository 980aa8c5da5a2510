"""Caller audio on the session timeline, at Whisper's 16 kHz, with cheap appends and slices."""

from __future__ import annotations

import numpy as np

from cascade.audio import StreamResampler
from cascade.frames import AudioFrame

RATE = 16000
_GAP_TOLERANCE = 0.1
"""Audio arriving this much after the buffered audio ends is preceded by silence (lost frames)."""


class AudioTimeline:
    """Recent audio as float32 16 kHz samples; sample ``i`` is at session time ``start + i / RATE``.

    Frames at other rates are resampled (one resampler per input rate, keeping filter state).
    Times follow the first frame's ``pts`` and then the sample count; a gap in the incoming
    ``pts`` is filled with silence so timings stay on the session clock.
    """

    def __init__(self) -> None:
        self.start = 0.0
        self._chunks: list[np.ndarray] = []
        self._length = 0
        self._rate = 0
        self._resampler: StreamResampler | None = None
        self._started = False

    @property
    def end(self) -> float:
        """Session time just after the last buffered sample."""
        return self.start + self._length / RATE

    def append(self, frame: AudioFrame) -> None:
        """Add a frame's audio (any rate, mono or stereo)."""
        if frame.sample_rate != self._rate:
            self._rate = frame.sample_rate
            self._resampler = StreamResampler(frame.sample_rate, RATE)
        assert self._resampler is not None
        mono = frame.samples()
        if mono.ndim == 2:
            mono = mono.mean(axis=1).astype(np.int16)
        pcm = self._resampler(mono.astype("<i2", copy=False).tobytes())
        data = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        if not self._started:
            self._started = True
            self.start = frame.pts
        elif frame.pts > self.end + _GAP_TOLERANCE:
            self._push(np.zeros(round((frame.pts - self.end) * RATE), np.float32))
        self._push(data)

    def _push(self, data: np.ndarray) -> None:
        if data.size:
            self._chunks.append(data)
            self._length += data.size

    def _joined(self) -> np.ndarray:
        if len(self._chunks) != 1:
            self._chunks = [np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32)]
        return self._chunks[0]

    def slice(self, t0: float, t1: float) -> np.ndarray:
        """Samples between session times ``t0`` and ``t1`` (clipped to what is buffered)."""
        data = self._joined()
        i0 = max(0, round((t0 - self.start) * RATE))
        i1 = min(self._length, round((t1 - self.start) * RATE))
        return data[i0:i1] if i1 > i0 else np.zeros(0, np.float32)

    def drop_before(self, t: float) -> None:
        """Forget audio before session time ``t`` (lazily: in steps of at least half a second)."""
        cut = min(self._length, round((t - self.start) * RATE))
        if cut < RATE // 2:  # amortized: copy the buffer at most every half second
            return
        data = self._joined()[cut:]
        self._chunks = [data]
        self._length = data.size
        self.start += cut / RATE
