"""File transport: caller audio from WAV files, the bot's answer to WAV + a JSON transcript.

The caller's files are played one after another (in real time by default); after each one the
source keeps feeding silence until the bot has answered (or ``reply_timeout`` passed), so several
files make a multi-turn conversation in one session. Outputs, written as the session goes so that
a crash loses nothing:

* ``reply.wav`` -- the bot's audio on the caller's timeline,
* ``reply.conversation.wav`` -- stereo, caller left, bot right,
* ``reply.json`` -- transcripts (caller finals, what the bot said and what was heard) and the
  per-turn latency timelines.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
import numpy as np

from cascade.audio import load_audio, write_wav
from cascade.clock import Clock
from cascade.frames import (
    BotSpeechEnded,
    BotSpeechStarted,
    DTMFFrame,
    FinalTranscript,
    Frame,
    LLMResponseEnded,
    UserAudioFrame,
)
from cascade.metrics import TurnTimeline
from cascade.transport import Source, Transport
from cascade.transports.playout import PlayoutSink


class FileTransport(Transport):
    """Plays WAV files as the caller and records the bot.

    Args:
        inputs: one audio file or several (one caller turn each).
        reply_path: where the bot's track goes; the stereo conversation and JSON transcript are
            written beside it (``<stem>.conversation.wav``, ``<stem>.json``). ``None``: no files.
        sample_rate: the pipeline's audio rate.
        realtime: pace the caller audio on the clock (``False``: as fast as back-pressure allows).
        reply_timeout: longest wait for the bot's answer after each file, in seconds.
        gap: silence kept after the bot finished before the next file starts, in seconds.
        clock: session clock (a :class:`~cascade.clock.VirtualClock` in tests).
    """

    kind = "file"

    def __init__(
        self,
        inputs: str | Path | Sequence[str | Path],
        reply_path: str | Path | None = None,
        *,
        sample_rate: int = 16000,
        realtime: bool = True,
        frame_ms: int = 20,
        reply_timeout: float = 30.0,
        gap: float = 0.5,
        clock: Clock | None = None,
    ) -> None:
        paths = [inputs] if isinstance(inputs, str | Path) else list(inputs)
        if not paths:
            raise ValueError("FileTransport needs at least one input file")
        self.audio = [load_audio(p, sample_rate) for p in paths]  # fail early on bad files
        self.inputs = [Path(p) for p in paths]
        self.reply_path = Path(reply_path) if reply_path else None
        self.sample_rate = sample_rate
        self.realtime = realtime
        self.frame_samples = sample_rate * frame_ms // 1000
        self.reply_timeout = reply_timeout
        self.gap = gap
        self.clock = clock
        self._caller_chunks: list[np.ndarray] = []
        self._bot = np.zeros(sample_rate * 60, dtype=np.int16)
        """Bot track buffer, grown by doubling (``bot_end`` samples are in use)."""
        self.bot_end = 0
        self.position = 0
        """Caller samples sent so far (the session's audio position)."""
        self.transcript: list[dict[str, Any]] = []
        self.turns: list[dict[str, Any]] = []

    def source(self) -> FileSource:
        """The caller side."""
        return FileSource(self)

    def sink(self) -> FileSink:
        """The bot side."""
        return FileSink(self)

    @property
    def conversation_path(self) -> Path | None:
        """Stereo caller/bot recording next to the reply."""
        return self.reply_path.with_suffix(".conversation.wav") if self.reply_path else None

    @property
    def transcript_path(self) -> Path | None:
        """JSON transcript next to the reply."""
        return self.reply_path.with_suffix(".json") if self.reply_path else None

    def put_bot_audio(self, at_sample: int, samples: np.ndarray) -> None:
        """Place bot samples on the caller's timeline."""
        end = at_sample + len(samples)
        if end > len(self._bot):
            grown = np.zeros(max(end, 2 * len(self._bot)), np.int16)
            grown[: self.bot_end] = self._bot[: self.bot_end]
            self._bot = grown
        self._bot[at_sample:end] = samples
        self.bot_end = max(self.bot_end, end)

    def add_caller_audio(self, samples: np.ndarray) -> None:
        """Record a chunk of the caller's audio as sent."""
        self._caller_chunks.append(samples)

    @property
    def caller_track(self) -> np.ndarray:
        """The caller's audio as sent so far."""
        return np.concatenate(self._caller_chunks) if self._caller_chunks else np.zeros(0, np.int16)

    @property
    def bot_track(self) -> np.ndarray:
        """The bot's audio on the caller's timeline so far."""
        return self._bot[: self.bot_end]

    def save(self) -> None:
        """Write the transcript JSON (cheap; called after every change)."""
        if self.transcript_path is None:
            return
        doc = {
            "inputs": [str(p) for p in self.inputs],
            "sample_rate": self.sample_rate,
            "transcript": self.transcript,
            "turns": self.turns,
        }
        self.transcript_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.transcript_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(doc, indent=2))
        tmp.replace(self.transcript_path)

    def save_audio(self) -> None:
        """Write the reply and conversation WAVs."""
        if self.reply_path is None or self.conversation_path is None:
            return
        caller_track, bot_track = self.caller_track, self.bot_track
        length = max(len(caller_track), len(bot_track))
        bot = np.pad(bot_track, (0, length - len(bot_track)))
        caller = np.pad(caller_track, (0, length - len(caller_track)))
        write_wav(self.reply_path, bot, self.sample_rate)
        write_wav(self.conversation_path, np.stack([caller, bot], axis=1), self.sample_rate)


class FileSource(Source):
    """Feeds the caller's files, then silence until the bot has answered each one."""

    outputs = (UserAudioFrame, DTMFFrame)
    events = (BotSpeechStarted, BotSpeechEnded)

    def __init__(self, transport: FileTransport) -> None:
        super().__init__(name="FileSource")
        self.t = transport
        self._answered = anyio.Event()
        self._bot_speaking = False

    async def on_event(self, frame: Frame) -> None:
        """Track whether the bot has finished answering."""
        if isinstance(frame, BotSpeechStarted):
            self._bot_speaking = True
        elif isinstance(frame, BotSpeechEnded):
            self._bot_speaking = False
            if not frame.interrupted:
                self._answered.set()

    async def produce(self) -> None:
        """Play every file, each followed by silence until the bot's answer is over."""
        t = self.t
        silence = np.zeros(t.frame_samples, np.int16)
        for audio in t.audio:
            self._answered = anyio.Event()
            for start in range(0, len(audio), t.frame_samples):
                await self._send(audio[start : start + t.frame_samples])
            deadline = self.clock.now() + t.reply_timeout
            while not self._answered.is_set() or self._bot_speaking:
                if self.clock.now() >= deadline:
                    break
                await self._send(silence, paced=True)
            gap_end = self.clock.now() + t.gap
            while self.clock.now() < gap_end:
                await self._send(silence, paced=True)

    async def _send(self, chunk: np.ndarray, paced: bool = False) -> None:
        """Send one frame; silence while waiting for the bot is always paced on the clock."""
        t = self.t
        if len(chunk) < t.frame_samples:
            chunk = np.pad(chunk, (0, t.frame_samples - len(chunk)))
        pts = t.position / t.sample_rate
        if t.realtime:
            await self.clock.sleep_until(pts)
        elif paced:
            await self.clock.sleep(len(chunk) / t.sample_rate)
        t.add_caller_audio(chunk)
        t.position += len(chunk)
        frame = self.frame(UserAudioFrame, pts=pts, pcm=chunk.tobytes(), sample_rate=t.sample_rate)
        await self.emit(frame)
        if not t.realtime:
            await anyio.lowlevel.checkpoint()


class FileSink(PlayoutSink):
    """Plays the bot's audio onto the caller's timeline and keeps the transcript file current."""

    inputs = (*PlayoutSink.inputs, FinalTranscript)
    events = (*PlayoutSink.events, BotSpeechEnded)

    def __init__(self, transport: FileTransport) -> None:
        super().__init__(transport.sample_rate, name="FileSink")
        self.t = transport

    async def start(self) -> None:
        """Start the output clock and the metrics feed into the transcript."""
        self.ctx.metrics.subscribe(self._on_turn)
        self.spawn(self._play, service=True)

    async def _play(self) -> None:
        t, playout = self.t, self.playout
        tick = t.frame_samples / t.sample_rate
        next_tick = self.clock.now()
        while True:
            if t.realtime:
                next_tick += tick
                await self.clock.sleep_until(next_tick)
            else:
                await anyio.sleep(0.001)
            chunk = playout.read(t.frame_samples)
            if chunk is not None:
                at = int(self.clock.now() * t.sample_rate) if t.realtime else t.position
                t.put_bot_audio(max(0, at - t.frame_samples), np.frombuffer(chunk, np.int16))

    async def process(self, frame: Frame) -> None:
        """Bot audio to the playout; transcripts to the file."""
        if isinstance(frame, FinalTranscript):
            self._record("user", frame.text, frame.pts)
        else:
            if isinstance(frame, LLMResponseEnded):
                self._record("assistant_generated", frame.text, frame.pts, response_id=frame.response_id)
            await super().process(frame)

    async def on_event(self, frame: Frame) -> None:
        """Follow playback holds; record what the caller heard of each response."""
        await super().on_event(frame)
        if isinstance(frame, BotSpeechEnded):
            self._record(
                "assistant",
                frame.heard_text,
                frame.pts,
                response_id=frame.response_id,
                interrupted=frame.interrupted,
            )

    async def finish(self) -> None:
        """Let queued bot audio play out before the session ends (bounded)."""
        deadline = self.clock.now() + self.playout.buffered_seconds + 1.0
        while self.playout.buffered_seconds > 0 and self.clock.now() < deadline:
            await self.clock.sleep(0.02)

    def _record(self, role: str, text: str, pts: float, **extra: Any) -> None:
        self.t.transcript.append({"role": role, "text": text, "time": round(pts, 3), **extra})
        self.t.save()

    def _on_turn(self, timeline: TurnTimeline) -> None:
        self.t.turns.append(timeline.summary())
        self.t.save()

    async def close(self) -> None:
        """Write the audio files."""
        self.t.save()
        self.t.save_audio()
