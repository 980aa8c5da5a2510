"""What the bot is playing: text and audio of its replies on the session timeline.

The turn-taker needs it for two things: resuming a reply after a false interruption (the unheard
rest of the text) and telling the bot's own echo from the caller (the played audio and words).
:class:`BotPlaybackMonitor` is a pass-through stage placed after the TTS, right before the
transport; it fills a :class:`PlaybackLog` that the :class:`~cascade.turn.taker.TurnTaker` reads.
Build both with ``turn = TurnTaker(); monitor = turn.playback_monitor()``.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from cascade.frames import BotAudioFrame, BotSpeechEnded, BotSpeechStarted, Frame, LLMResponseEnded
from cascade.stage import Stage
from cascade.turn.echo import ENVELOPE_HOP, FLOOR_DB, envelope_db

_KEEP_RESPONSES = 4


@dataclass
class _Reply:
    chunks: list[str] = field(default_factory=list)
    text: str = ""
    envelope: list[np.ndarray] = field(default_factory=list)
    rest: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    started: float | None = None
    ended: float | None = None
    pauses: list[tuple[float, float]] = field(default_factory=list)
    """Session-time spans in which playback was paused (the audio went on after each)."""
    paused_at: float | None = None

    def played_envelope(self) -> np.ndarray:
        """The envelope so far as one array (joined once, not again for every caller frame)."""
        if len(self.envelope) > 1:
            self.envelope[:] = [np.concatenate(self.envelope)]
        return self.envelope[0]

    def spoken_text(self) -> str:
        chunked = "".join(self.chunks).strip()
        return self.text if len(self.text.strip()) > len(chunked) else chunked


class PlaybackLog:
    """The bot's recent replies: their text and the energy envelope of what was played when."""

    def __init__(self) -> None:
        self._replies: OrderedDict[str, _Reply] = OrderedDict()
        self.playing: str | None = None
        """The response being played now."""
        self.attached = False
        """True once a :class:`BotPlaybackMonitor` runs in the session."""

    def _reply(self, response_id: str) -> _Reply:
        reply = self._replies.get(response_id)
        if reply is None:
            reply = self._replies[response_id] = _Reply()
            while len(self._replies) > _KEEP_RESPONSES:
                self._replies.popitem(last=False)
        return reply

    def add_audio(self, frame: BotAudioFrame) -> None:
        """Record a chunk the TTS produced (played in order after the response starts)."""
        reply = self._reply(frame.response_id)
        if frame.text:
            reply.chunks.append(frame.text)
        if frame.pcm:
            samples = np.concatenate([reply.rest, frame.floats()])
            hop = max(1, round(ENVELOPE_HOP * frame.sample_rate))
            whole = len(samples) // hop * hop
            if whole:
                reply.envelope.append(envelope_db(samples[:whole], frame.sample_rate))
            reply.rest = samples[whole:]

    def add_text(self, response_id: str, text: str) -> None:
        """Record the complete text of a reply (from ``LLMResponseEnded``)."""
        self._reply(response_id).text = text

    def started(self, response_id: str, t: float) -> None:
        """The transport began playing ``response_id`` at session time ``t``."""
        self._reply(response_id).started = t
        self.playing = response_id

    def ended(self, response_id: str, t: float) -> None:
        """The transport stopped playing ``response_id``."""
        self._reply(response_id).ended = t
        if self.playing == response_id:
            self.playing = None

    def pause(self, t: float) -> None:
        """Playback of the current reply stopped at session time ``t``; it resumes later."""
        reply = self._replies.get(self.playing) if self.playing else None
        if reply is not None and reply.paused_at is None:
            reply.paused_at = t

    def resume(self, t: float) -> None:
        """The paused reply plays on from session time ``t``."""
        reply = self._replies.get(self.playing) if self.playing else None
        if reply is not None and reply.paused_at is not None:
            reply.pauses.append((reply.paused_at, t))
            reply.paused_at = None

    def text(self, response_id: str) -> str:
        """Everything the reply was going to say, as far as it is known."""
        reply = self._replies.get(response_id)
        return reply.spoken_text() if reply else ""

    def current_text(self) -> str:
        """Text of the reply being played (empty when idle)."""
        return self.text(self.playing) if self.playing else ""

    def envelope(self, t0: float, t1: float) -> np.ndarray:
        """Played bot energy (dB per ``ENVELOPE_HOP``) over session times ``[t0, t1)``."""
        count = max(0, round((t1 - t0) / ENVELOPE_HOP))
        out = np.full(count, FLOOR_DB, np.float32)
        times = t0 + np.arange(count) * ENVELOPE_HOP
        for reply in self._replies.values():
            if reply.started is None or not reply.envelope:
                continue
            env = reply.played_envelope()
            played = times < (reply.ended if reply.ended is not None else np.inf)
            position = times - reply.started
            spans = [*reply.pauses, *([(reply.paused_at, np.inf)] if reply.paused_at is not None else [])]
            for a, b in spans:
                played &= (times < a) | (times >= b)
                position = position - np.clip(times - a, 0.0, b - a)  # audio time stood still
            index = np.round(position / ENVELOPE_HOP).astype(np.int64)
            played &= (index >= 0) & (index < len(env))
            out[played] = env[index[played]]
        return out


class BotPlaybackMonitor(Stage):
    """Pass-through stage after the TTS that records the bot's replies into a :class:`PlaybackLog`."""

    inputs = (BotAudioFrame, LLMResponseEnded)
    outputs = (BotAudioFrame, LLMResponseEnded)
    events = (BotSpeechStarted, BotSpeechEnded)

    def __init__(self, log: PlaybackLog, *, name: str | None = None) -> None:
        super().__init__(name=name or "BotPlaybackMonitor")
        self.log = log

    async def start(self) -> None:
        """Tell the turn-taker that playback is being recorded."""
        self.log.attached = True

    async def process(self, frame: Frame) -> None:
        """Record and forward."""
        if isinstance(frame, BotAudioFrame):
            self.log.add_audio(frame)
        elif isinstance(frame, LLMResponseEnded):
            self.log.add_text(frame.response_id, frame.text)
        await self.emit(frame)

    async def on_event(self, frame: Frame) -> None:
        """Follow the transport's playback."""
        if isinstance(frame, BotSpeechStarted):
            self.log.started(frame.response_id, frame.pts)
        elif isinstance(frame, BotSpeechEnded):
            self.log.ended(frame.response_id, frame.pts)
