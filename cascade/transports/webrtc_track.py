"""The audio side of a WebRTC call: the bot's paced outgoing track and the caller's decoded frames.

:class:`PlayoutTrack` is what aiortc's sender pulls every 20 ms: each pull waits for the next tick
of the session clock, takes 20 ms at the pipeline rate from whoever feeds it (the sink's
:class:`~cascade.transports.playout.Playout`) and resamples it to Opus's 48 kHz; with nothing to
play it sends silence. :func:`to_mono_s16` turns a decoded caller frame into mono samples. The
stages that use them are in :mod:`cascade.transports.webrtc`.
"""

from __future__ import annotations

import fractions
from collections.abc import Callable

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from cascade.audio import StreamResampler
from cascade.clock import Clock

WEBRTC_RATE = 48000
"""Opus runs at 48 kHz in WebRTC."""
FRAME_MS = 20
MAX_LATENESS = 0.2
"""An output tick later than this restarts the schedule instead of bursting to catch up."""


class PlayoutTrack(MediaStreamTrack):
    """The bot's outgoing audio track: paced 20 ms frames at 48 kHz, silence when idle.

    ``pull(n)`` gives up to ``n`` samples at the pipeline rate (or ``None`` when there is no bot
    audio); the sink attaches it while the pipeline runs.
    """

    kind = "audio"

    def __init__(self, clock: Clock, sample_rate: int, frame_ms: int = FRAME_MS) -> None:
        super().__init__()
        self.clock = clock
        self.sample_rate = sample_rate
        self.frame_seconds = frame_ms / 1000
        self.out_samples = WEBRTC_RATE * frame_ms // 1000
        self.in_samples = sample_rate * frame_ms // 1000
        self.pull: Callable[[int], bytes | None] | None = None
        self._resampler = StreamResampler(sample_rate, WEBRTC_RATE)
        self._dirty = False
        self._fifo = bytearray()
        self._next: float | None = None
        self._pts = 0
        self.frames_sent = 0
        self.late_ticks = 0
        """Ticks that started more than one frame late (the event loop was too busy)."""
        self.max_lateness = 0.0
        self.resyncs = 0

    def flush(self) -> None:
        """Drop audio held for resampling (the playout buffer is flushed by the sink)."""
        self._fifo.clear()
        self._resampler = StreamResampler(self.sample_rate, WEBRTC_RATE)
        self._dirty = False

    async def recv(self) -> av.AudioFrame:
        """The next 20 ms frame, on the session clock's 20 ms grid."""
        if self.readyState != "live":
            raise MediaStreamError
        now = self.clock.now()
        if self._next is None:
            self._next = now
        else:
            self._next += self.frame_seconds
            late = now - self._next
            if late > MAX_LATENESS:
                self.resyncs += 1
                self._next = now
            elif late > 0:
                self.max_lateness = max(self.max_lateness, late)
                self.late_ticks += late > self.frame_seconds
            else:
                await self.clock.sleep_until(self._next)
        return self._frame(self._take())

    def _take(self) -> bytes:
        want = self.out_samples * 2
        while len(self._fifo) < want:
            pcm = self.pull(self.in_samples) if self.pull is not None else None
            if pcm is None:
                if self._dirty:  # the reply ended: let the resampler's tail out
                    self._fifo += self._resampler(b"", last=True)
                    self._resampler = StreamResampler(self.sample_rate, WEBRTC_RATE)
                    self._dirty = False
                break
            self._fifo += self._resampler(pcm)
            self._dirty = True
        out = bytes(self._fifo[:want])
        del self._fifo[:want]
        return out + bytes(want - len(out))

    def _frame(self, pcm: bytes) -> av.AudioFrame:
        frame = av.AudioFrame(format="s16", layout="mono", samples=self.out_samples)
        frame.planes[0].update(pcm)
        frame.sample_rate = WEBRTC_RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, WEBRTC_RATE)
        self._pts += self.out_samples
        self.frames_sent += 1
        return frame


def to_mono_s16(frame: av.AudioFrame) -> np.ndarray:
    """A decoded audio frame (any layout, s16 or float) as mono int16 samples."""
    data = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if frame.format.is_planar:
        mixed = data.astype(np.float32).mean(axis=0)
    else:
        mixed = data.reshape(-1, channels).astype(np.float32).mean(axis=1)
    if data.dtype.kind == "f":
        mixed = mixed * 32767.0
    out: np.ndarray = np.clip(mixed, -32768, 32767).astype(np.int16)
    return out
