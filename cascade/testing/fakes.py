"""Scripted fake stages for framework tests (never used outside tests and benchmarks)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np

from cascade.frames import (
    BotAudioFrame,
    BotSpeechEnded,
    BotSpeechStarted,
    EndOfTurn,
    FinalTranscript,
    Frame,
    Interrupt,
    LLMResponseEnded,
    LLMResponseStarted,
    LLMTextDelta,
    SpeechStarted,
    SpeechStopped,
    TextToSpeak,
    UserAudioFrame,
)
from cascade.stage import Stage


class FakeASR(Stage):
    """Energy-threshold "recognizer": speech bursts become scripted transcripts.

    Emits SpeechStarted/SpeechStopped around loud audio (``silence`` seconds end a burst) and,
    ``latency`` seconds after each stop, the next text of ``script`` as a FinalTranscript.
    Audio is forwarded.
    """

    inputs = (UserAudioFrame,)
    outputs = (SpeechStarted, SpeechStopped, FinalTranscript)

    def __init__(
        self,
        script: Sequence[str],
        *,
        threshold: float = 0.02,
        silence: float = 0.3,
        latency: float = 0.05,
    ) -> None:
        super().__init__(name="FakeASR")
        self.script = itertools.cycle(script)
        self.threshold, self.silence, self.latency = threshold, silence, latency
        self._speech_start: float | None = None
        self._last_loud = 0.0

    async def process(self, frame: Frame) -> None:
        """Track loudness and emit VAD events and transcripts."""
        assert isinstance(frame, UserAudioFrame)
        await self.emit(frame)
        loud = float(np.sqrt(np.mean(frame.floats() ** 2))) > self.threshold
        if loud:
            self._last_loud = frame.end
            if self._speech_start is None:
                self._speech_start = frame.pts
                await self.emit(SpeechStarted(pts=frame.pts, generation=frame.generation))
        elif self._speech_start is not None and frame.end - self._last_loud >= self.silence:
            start, self._speech_start = self._speech_start, None
            stop = SpeechStopped(pts=self._last_loud, generation=frame.generation, speech_start=start)
            self.ctx.metrics.mark("user_speech_end", self._last_loud)
            await self.emit(stop)
            await self.clock.sleep(self.latency)
            transcript = self.frame(FinalTranscript, generation=frame.generation, text=next(self.script))
            self.ctx.metrics.mark("final_transcript", transcript.pts)
            await self.emit(transcript)


class FakeTurnTaker(Stage):
    """Ends the turn on every final transcript; caller speech while the bot talks interrupts."""

    inputs = (SpeechStarted, FinalTranscript)
    outputs = (EndOfTurn,)
    events = (BotSpeechStarted, BotSpeechEnded)

    def __init__(self) -> None:
        super().__init__(name="FakeTurnTaker")
        self.bot_speaking = False

    async def on_event(self, frame: Frame) -> None:
        """Follow the bot's playback state."""
        self.bot_speaking = isinstance(frame, BotSpeechStarted)

    async def process(self, frame: Frame) -> None:
        """Barge in on speech during playback; answer each final transcript."""
        await self.emit(frame)
        if isinstance(frame, SpeechStarted) and self.bot_speaking:
            self.interrupt("barge-in")
        elif isinstance(frame, FinalTranscript):
            end = self.frame(EndOfTurn, text=frame.text)
            self.ctx.metrics.mark("end_of_turn", end.pts)
            await self.emit(end)


class FakeLLM(Stage):
    """Streams a scripted reply word by word: first token after ``ttft``, then every ``interval``."""

    inputs = (EndOfTurn,)
    outputs = (LLMResponseStarted, LLMTextDelta, LLMResponseEnded)
    interruptible = True

    def __init__(
        self,
        reply: str | Callable[[str], str] = "Hello there. How can I help you today?",
        *,
        ttft: float = 0.1,
        interval: float = 0.02,
    ) -> None:
        super().__init__(name="FakeLLM")
        self.reply = reply
        self.ttft, self.interval = ttft, interval
        self.heard: list[str] = []
        self._ids = itertools.count()

    events = (BotSpeechEnded,)

    async def on_event(self, frame: Frame) -> None:
        """Remember what the caller heard (as a real LLM stage keeps it in context)."""
        assert isinstance(frame, BotSpeechEnded)
        self.heard.append(frame.heard_text)

    async def process(self, frame: Frame) -> None:
        """Stream the reply to the caller's turn."""
        assert isinstance(frame, EndOfTurn)
        gen, rid = frame.generation, f"fake-{next(self._ids)}"
        text = self.reply(frame.text) if callable(self.reply) else self.reply
        await self.emit(self.frame(LLMResponseStarted, generation=gen, response_id=rid))
        await self.clock.sleep(self.ttft)
        self.ctx.metrics.mark("llm_first_token", self.clock.now())
        for i, word in enumerate(text.split(" ")):
            if i:
                await self.clock.sleep(self.interval)
            piece = word if i == 0 else " " + word
            await self.emit(self.frame(LLMTextDelta, generation=gen, response_id=rid, text=piece))
        await self.emit(self.frame(LLMResponseEnded, generation=gen, response_id=rid, text=text))


class FakeTTS(Stage):
    """Speaks each sentence as a tone, ``word_seconds`` per word, in 20 ms frames with word spans."""

    inputs = (LLMTextDelta, LLMResponseEnded, TextToSpeak)
    outputs = (BotAudioFrame,)
    interruptible = True

    def __init__(self, *, sample_rate: int = 16000, word_seconds: float = 0.2, latency: float = 0.02) -> None:
        super().__init__(name="FakeTTS")
        self.sample_rate, self.word_seconds, self.latency = sample_rate, word_seconds, latency
        self._pending = ""

    async def on_interrupt(self, frame: Interrupt) -> None:
        """Forget the interrupted reply's text."""
        self._pending = ""

    async def process(self, frame: Frame) -> None:
        """Buffer text to sentence ends and speak it."""
        if isinstance(frame, TextToSpeak):
            await self._speak(frame.text, frame.response_id or "say", frame.generation, last=True)
        elif isinstance(frame, LLMTextDelta):
            self._pending += frame.text
            if self._pending.rstrip().endswith((".", "?", "!")):
                text, self._pending = self._pending, ""
                await self._speak(text, frame.response_id, frame.generation, last=False)
        elif isinstance(frame, LLMResponseEnded):
            text, self._pending = self._pending, ""
            await self._speak(text, frame.response_id, frame.generation, last=True)

    async def _speak(self, text: str, response_id: str, generation: int, *, last: bool) -> None:
        await self.clock.sleep(self.latency)
        n = int(self.sample_rate * 0.02)
        t = np.arange(n) / self.sample_rate
        tone = (0.3 * 32767 * np.sin(2 * np.pi * 220 * t)).astype(np.int16).tobytes()
        words = text.split()
        frames_per_word = max(1, round(self.word_seconds / 0.02))
        first = True
        for word in words:
            for i in range(frames_per_word):
                if first:
                    self.ctx.metrics.mark("first_tts_audio", self.clock.now())
                    first = False
                span = (word + " ") if i == frames_per_word - 1 else ""
                await self.emit(
                    self.frame(
                        BotAudioFrame,
                        generation=generation,
                        pcm=tone,
                        sample_rate=self.sample_rate,
                        response_id=response_id,
                        text=span,
                    )
                )
                await self.clock.sleep(0.0)
        if last:
            await self.emit(
                self.frame(
                    BotAudioFrame,
                    generation=generation,
                    pcm=b"",
                    sample_rate=self.sample_rate,
                    response_id=response_id,
                    last=True,
                )
            )
