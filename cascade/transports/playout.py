"""Bot playback shared by all transports: a buffer the transport drains at its own pace.

The sink stage pushes :class:`~cascade.frames.BotAudioFrame` s in; the transport pulls fixed-size
chunks when its output clock ticks (RTP every 20 ms, WebRTC's track, the file writer). On an
interrupt the buffer is flushed at once. Playback is reported to every stage on the priority lane:
:class:`~cascade.frames.SessionPlaysAudio` when the sink runs, :class:`~cascade.frames.BotSpeechStarted`
/ :class:`~cascade.frames.BotSpeechEnded` with the text the caller actually heard (and the rest an
interrupted reply was going to say), and :class:`~cascade.frames.BotAudioPlayed` for each chunk that
went out (its words and energy envelope). Stages hold and release playback with
:class:`~cascade.frames.PlaybackHold` / :class:`~cascade.frames.PlaybackRelease` events (a soft
hold ducks the audio for a while before it stops it); the first audio out of each turn is marked
in the metrics.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field

import anyio
import numpy as np

from cascade.audio import ENVELOPE_HOP, envelope_db
from cascade.channel import FrameReceive, FrameSend
from cascade.frames import (
    BotAudioFrame,
    BotAudioPlayed,
    BotSpeechEnded,
    BotSpeechStarted,
    Frame,
    Interrupt,
    LLMResponseEnded,
    PlaybackHold,
    PlaybackRelease,
    SessionPlaysAudio,
)
from cascade.session import SessionContext
from cascade.stage import FrameTypes, Stage


@dataclass
class _Segment:
    pcm: bytes
    response_id: str
    text: str
    last: bool
    offset: int = 0


_KEEP_SCRIPTS = 4


@dataclass
class _Hold:
    """A hold: ``soft_left`` seconds of playback at ``gain`` before it stops the audio (0: stopped)."""

    gain: float = 1.0
    soft_left: float = 0.0


@dataclass
class _Script:
    """What a response is going to say: its audio chunks' words, and the LLM's text once known."""

    chunks: list[str] = field(default_factory=list)
    text: str = ""

    def words(self) -> list[str]:
        chunked = "".join(self.chunks).strip()
        return (self.text if len(self.text.strip()) > len(chunked) else chunked).split()


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
        self._holds: dict[str, _Hold] = {}
        self._gain = 1.0
        """Gain the last read ended at (ramped to the holds' gain over each read: no clicks)."""
        self._scripts: OrderedDict[str, _Script] = OrderedDict()
        self._unenveloped = np.zeros(0, np.float32)
        """Played samples short of a whole envelope hop, carried to the next read."""
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

    @property
    def held(self) -> bool:
        """True while some stage holds the bot's audio (it stays buffered, unplayed)."""
        return any(hold.soft_left <= 0 for hold in self._holds.values())

    @property
    def gain(self) -> float:
        """The gain the last read ended at (below 1 while a soft hold ducks the audio)."""
        return self._gain

    def hold(self, reason: str, *, duck_db: float = 0.0, duck_for: float = 0.0) -> None:
        """Keep the audio buffered until :meth:`release` with the same ``reason``; with
        ``duck_for``, play on ``duck_db`` quieter for that many seconds of playback first."""
        if reason not in self._holds:
            self._holds[reason] = _Hold(10 ** (min(duck_db, 0.0) / 20), max(duck_for, 0.0))

    def release(self, reason: str) -> None:
        """Drop the hold taken for ``reason``; the audio plays (at full level) once none is left."""
        self._holds.pop(reason, None)

    def _script(self, response_id: str) -> _Script:
        script = self._scripts.get(response_id)
        if script is None:
            script = self._scripts[response_id] = _Script()
            while len(self._scripts) > _KEEP_SCRIPTS:
                self._scripts.popitem(last=False)
        return script

    def add_text(self, response_id: str, text: str) -> None:
        """The whole text of a response (from ``LLMResponseEnded``): the rest of an interrupted
        reply is told from it."""
        self._script(response_id).text = text

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
        if frame.text:
            self._script(frame.response_id).chunks.append(frame.text)

    def read(self, num_samples: int) -> bytes | None:
        """Take up to ``num_samples`` of bot audio (zero-padded), or ``None`` when idle or held."""
        if not self._segments or self.held:
            return None
        want = num_samples * 2
        out = bytearray()
        part, said = 0, ""  # where the playing response's part of this read begins; its words
        while self._segments and len(out) < want:
            seg = self._segments[0]
            if self._playing != seg.response_id:
                if not seg.pcm:
                    self._segments.popleft()  # a response without audio (no words) is not speech
                    continue
                self._report(out, part, said)  # (of a response that ended without a last chunk)
                part, said = len(out), ""
                self._start(seg.response_id)
            said += "" if seg.offset else seg.text
            take = seg.pcm[seg.offset : seg.offset + want - len(out)]
            out += take
            seg.offset += len(take)
            if seg.offset >= len(seg.pcm):
                self._segments.popleft()
                self._heard.append(seg.text)
                if seg.last:
                    self._report(out, part, said)
                    part, said = len(out), ""
                    self._end(interrupted=False)
        if not out and self._playing is None:
            return None
        self._buffered -= len(out)
        self._space.set()
        self.played_seconds += len(out) / 2 / self.sample_rate
        out = self._duck(out, num_samples / self.sample_rate)
        self._report(out, part, said)
        return bytes(out + bytes(want - len(out)))

    def _duck(self, out: bytearray, seconds: float) -> bytearray:
        """Apply the soft holds' gain to a read (ramped from the last read's), and count their time."""
        target = min((hold.gain for hold in self._holds.values()), default=1.0)
        for hold in self._holds.values():
            hold.soft_left -= seconds
        if target == self._gain == 1.0 or not out:
            self._gain = target
            return out
        samples = np.frombuffer(bytes(out), np.int16).astype(np.float32)
        samples *= np.linspace(self._gain, target, len(samples), dtype=np.float32)
        self._gain = target
        return bytearray(np.clip(samples, -32768, 32767).astype(np.int16).tobytes())

    def _report(self, out: bytearray, part: int, said: str) -> None:
        """Tell the session what the caller heard of the playing response in this read, from byte
        ``part`` of ``out`` on: the words it began saying, and the energy envelope."""
        if self._playing is None or (len(out) == part and not said):
            return
        samples = np.concatenate([self._unenveloped, np.frombuffer(bytes(out[part:]), np.int16) / 32768.0])
        hop = max(1, round(ENVELOPE_HOP * self.sample_rate))
        whole = len(samples) // hop * hop
        start = self.ctx.clock.now() + (part / 2 - len(self._unenveloped)) / self.sample_rate
        self._unenveloped = samples[whole:]
        self.ctx.broadcast(
            self.ctx.frame(
                BotAudioPlayed,
                pts=start,
                response_id=self._playing,
                duration=(len(out) - part) / 2 / self.sample_rate,
                text=said,
                envelope=tuple(float(v) for v in envelope_db(samples[:whole], self.sample_rate)),
            )
        )

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
        self._holds.clear()
        self._gain = 1.0
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
        self.ctx.broadcast(self.ctx.frame(BotSpeechStarted, pts=now, response_id=response_id))

    def _end(self, *, interrupted: bool) -> None:
        response_id, self._playing = self._playing or "", None
        heard = "".join(self._heard).strip()
        self._heard = []
        script = self._scripts.get(response_id)
        unheard = script.words()[len(heard.split()) :] if script is not None and interrupted else []
        self._unenveloped = self._unenveloped[:0]  # (a part of a hop of it is not heard as one)
        self.ctx.broadcast(
            self.ctx.frame(
                BotSpeechEnded,
                response_id=response_id,
                heard_text=heard,
                interrupted=interrupted,
                unheard_text=" ".join(unheard),
            )
        )


class PlayoutSink(Stage):
    """Base sink for transports: feeds bot audio into a :class:`Playout`, flushes on interrupt,
    follows playback holds.

    Subclasses drain ``self.playout`` at their own output pace (see :meth:`Playout.read`); those
    that override :meth:`on_event` or :meth:`process` call the base's first.
    """

    inputs: FrameTypes = (BotAudioFrame, LLMResponseEnded)
    requires: FrameTypes = (BotAudioFrame,)
    events: FrameTypes = (PlaybackHold, PlaybackRelease)
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
        # (here, not in ``start``: subclasses' ``start`` need not call the base's)
        ctx.broadcast(ctx.frame(SessionPlaysAudio))
        await super()._run(ctx, inbox, outbox)

    async def process(self, frame: Frame) -> None:
        """Queue bot audio for playback; note a response's whole text and pass it on."""
        if isinstance(frame, BotAudioFrame):
            await self.playout.push(frame)
        elif isinstance(frame, LLMResponseEnded):
            self.playout.add_text(frame.response_id, frame.text)
            await self.emit(frame)

    async def on_event(self, frame: Frame) -> None:
        """Follow playback holds and releases."""
        if isinstance(frame, PlaybackHold):
            self.playout.hold(frame.reason, duck_db=frame.duck_db, duck_for=frame.duck_for)
        elif isinstance(frame, PlaybackRelease):
            self.playout.release(frame.reason)

    async def on_interrupt(self, frame: Interrupt) -> None:
        """Barge-in: stop playing now."""
        self.playout.flush()
