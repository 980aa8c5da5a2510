"""Bot playback shared by all transports: a buffer the transport drains at its own pace.

The sink stage pushes :class:`~cascade.frames.BotAudioFrame` s in; the transport pulls fixed-size
chunks when its output clock ticks (RTP every 20 ms, WebRTC's track, the file writer). On an
interrupt the buffer is flushed at once. Playback is reported to every stage as
:class:`~cascade.frames.BotSpeechStarted` / :class:`~cascade.frames.BotSpeechEnded` with the text
the caller actually heard, and the first audio out of each turn is marked in the metrics.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import anyio

from cascade.channel import FrameReceive, FrameSend
from cascade.frames import BotAudioFrame, BotSpeechEnded, BotSpeechStarted, Frame, Interrupt
from cascade.session import SessionContext
from cascade.stage import FrameTypes, Stage


@dataclass
class _Segment:
    pcm: bytes
    response_id: str
    text: str
    last: bool
    offset: int = 0


class Playout:
    """Buffer of bot audio at ``sample_rate`` (mono s16le) with heard-text accounting."""

    def __init__(self, ctx: SessionContext, sample_rate: int, max_buffered: float = 30.0) -> None:
        self.ctx = ctx
        self.sample_rate = sample_rate
        self.max_buffered_bytes = int(max_buffered * sample_rate) * 2
        self._segments: deque[_Segment] = deque()
        self._buffered = 0
        self._space = anyio.Event()
        self._playing: str | None = None
        self._heard: list[str] = []
        self.played_seconds = 0.0
        """Total bot audio played so far."""

    @property
    def buffered_seconds(self) -> float:
        """Bot audio waiting to be played."""
        return self._buffered / 2 / self.sample_rate

    @property
    def speaking(self) -> bool:
        """True while a response is being played."""
        return self._playing is not None

    async def push(self, frame: BotAudioFrame) -> None:
        """Queue a frame for playback; waits while the buffer is full (back-pressure)."""
        if frame.sample_rate != self.sample_rate or frame.channels != 1:
            raise ValueError(
                f"playout expects mono {self.sample_rate} Hz audio, got {frame.channels} channel(s) "
                f"at {frame.sample_rate} Hz from the TTS stage: set the TTS output rate to the "
                "transport's rate"
            )
        while self._buffered >= self.max_buffered_bytes:
            self._space = anyio.Event()
            await self._space.wait()
        self._segments.append(_Segment(frame.pcm, frame.response_id, frame.text, frame.last))
        self._buffered += len(frame.pcm)

    def read(self, num_samples: int) -> bytes | None:
        """Take up to ``num_samples`` of bot audio (zero-padded), or ``None`` when idle or held."""
        if not self._segments or self.ctx.playback_held:
            return None
        want = num_samples * 2
        out = bytearray()
        while self._segments and len(out) < want:
            seg = self._segments[0]
            if self._playing != seg.response_id:
                if not seg.pcm:
                    self._segments.popleft()  # a response without audio (no words) is not speech
                    continue
                self._start(seg.response_id)
            take = seg.pcm[seg.offset : seg.offset + want - len(out)]
            out += take
            seg.offset += len(take)
            if seg.offset >= len(seg.pcm):
                self._segments.popleft()
                self._heard.append(seg.text)
                if seg.last:
                    self._end(interrupted=False)
        if not out and self._playing is None:
            return None
        self._buffered -= len(out)
        self._space.set()
        self.played_seconds += len(out) / 2 / self.sample_rate
        out += bytes(want - len(out))
        return bytes(out)

    def flush(self) -> float:
        """Drop everything queued (barge-in). Returns the seconds of audio dropped."""
        dropped = self._buffered / 2 / self.sample_rate
        partial = self._segments[0] if self._segments else None
        if partial is not None and partial.offset and partial.text:
            # the caller heard part of this chunk: keep the words in proportion to the audio played
            words = partial.text.split()
            keep = int(len(words) * partial.offset / max(1, len(partial.pcm)))
            self._heard.append(" ".join(words[:keep]) + (" " if keep else ""))
        self._segments.clear()
        self._buffered = 0
        self._space.set()
        if self._playing is not None:
            self._end(interrupted=True)
        return dropped

    def _start(self, response_id: str) -> None:
        if self._playing is not None:
            self._end(interrupted=False)
        self._playing = response_id
        self._heard = []
        now = self.ctx.clock.now()
        self.ctx.metrics.mark("first_audio_out", now)
        self.ctx.broadcast(BotSpeechStarted(pts=now, generation=self.ctx.generation, response_id=response_id))

    def _end(self, *, interrupted: bool) -> None:
        response_id, self._playing = self._playing or "", None
        heard = "".join(self._heard).strip()
        self._heard = []
        self.ctx.broadcast(
            BotSpeechEnded(
                pts=self.ctx.clock.now(),
                generation=self.ctx.generation,
                response_id=response_id,
                heard_text=heard,
                interrupted=interrupted,
            )
        )


class PlayoutSink(Stage):
    """Base sink for transports: feeds bot audio into a :class:`Playout`, flushes on interrupt.

    Subclasses drain ``self.playout`` at their own output pace (see :meth:`Playout.read`).
    """

    inputs: FrameTypes = (BotAudioFrame,)
    requires: FrameTypes = (BotAudioFrame,)
    interruptible = True

    def __init__(self, sample_rate: int, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.sample_rate = sample_rate
        self._playout: Playout | None = None

    @property
    def playout(self) -> Playout:
        """This session's playback buffer."""
        if self._playout is None:
            self._playout = Playout(self.ctx, self.sample_rate)
        return self._playout

    async def _run(self, ctx: SessionContext, inbox: FrameReceive, outbox: FrameSend) -> None:
        ctx.plays_audio = True
        await super()._run(ctx, inbox, outbox)

    async def process(self, frame: Frame) -> None:
        """Queue bot audio for playback."""
        assert isinstance(frame, BotAudioFrame)
        await self.playout.push(frame)

    async def on_interrupt(self, frame: Interrupt) -> None:
        """Barge-in: stop playing now."""
        self.playout.flush()
