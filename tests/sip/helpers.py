"""Test stages and factories for the SIP tests (recorded speech in, recorded speech out)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np

from cascade.agent.phone import call_control_tools
from cascade.audio import load_audio
from cascade.frames import BotAudioFrame, DTMFFrame, Frame, LLMResponseEnded, TextToSpeak
from cascade.pipeline import Pipeline
from cascade.stage import Stage
from cascade.testing.fakes import FakeASR, FakeLLM, FakeTurnTaker
from cascade.transports.sip import CallControl, CallInfo

SOUNDS = Path("/usr/share/asterisk/sounds/en")
LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
QUESTION_WAV = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0880.wav"
REPLY_WAV = SOUNDS / "check-number-dial-again.wav"
REPLY_TEXT = "Please check the number and dial again."


async def run_tool(controls: CallControl, name: str, arguments: dict[str, Any]) -> str:
    """Run one of the phone agent's call-control tools as the LLM stage does (parse, then invoke)."""
    tool = next(t for t in call_control_tools(controls) if t.name == name)
    return await tool.invoke(tool.parse(arguments))


class RecordedReply(Stage):
    """Speaks a recorded prompt for every LLM response (real speech, so ASR can check the reply)."""

    inputs = (LLMResponseEnded, TextToSpeak)
    outputs = (BotAudioFrame,)
    interruptible = True

    def __init__(self, wav: Path = REPLY_WAV, text: str = REPLY_TEXT, sample_rate: int = 16000) -> None:
        super().__init__(name="RecordedReply")
        self.audio = load_audio(wav, sample_rate)
        self.text = text
        self.sample_rate = sample_rate

    async def process(self, frame: Frame) -> None:
        """Emit the prompt in 20 ms frames, a little ahead of real time, then pass the frame on."""
        assert isinstance(frame, LLMResponseEnded | TextToSpeak)
        rid = frame.response_id or "say"
        step = self.sample_rate // 50
        self.ctx.metrics.mark("first_tts_audio", self.clock.now())
        words = self.text.split()
        chunks = range(0, len(self.audio), step)
        per_word = max(1, len(chunks) // len(words))
        for i, start in enumerate(chunks):
            text = (
                words[i // per_word] + " "
                if i % per_word == per_word - 1 and i // per_word < len(words)
                else ""
            )
            pcm = np.asarray(self.audio[start : start + step], dtype=np.int16).tobytes()
            await self.emit(
                BotAudioFrame(
                    pts=self.clock.now(),
                    generation=frame.generation,
                    pcm=pcm,
                    sample_rate=self.sample_rate,
                    response_id=rid,
                    text=text,
                )
            )
            if i % 10 == 9:
                await self.clock.sleep(0.15)
        await self.emit(
            BotAudioFrame(
                pts=self.clock.now(),
                generation=frame.generation,
                pcm=b"",
                sample_rate=self.sample_rate,
                response_id=rid,
                last=True,
            )
        )
        await self.emit(frame)


class DigitRecorder(Stage):
    """Collects DTMF digits the transport delivered (and forwards them)."""

    inputs = (DTMFFrame,)

    def __init__(self, sink: list[str]) -> None:
        super().__init__(name="DigitRecorder")
        self.sink = sink

    async def process(self, frame: Frame) -> None:
        """Remember the digit."""
        assert isinstance(frame, DTMFFrame)
        self.sink.append(frame.digit)
        await self.emit(frame)


def fake_agent(info: CallInfo, *, digits: list[str] | None = None, ttft: float = 0.1) -> Pipeline:
    """FakeASR → FakeTurnTaker → FakeLLM → RecordedReply: answers every caller turn with speech."""
    stages: list[Stage] = [DigitRecorder(digits if digits is not None else [])]
    stages += [
        FakeASR(["hello"], silence=0.4),
        FakeTurnTaker(),
        FakeLLM(REPLY_TEXT, ttft=ttft),
        RecordedReply(),
    ]
    return Pipeline(stages)


def question_audio() -> np.ndarray:
    """The caller's question: recorded speech at 8 kHz, with a little lead-in silence."""
    speech = load_audio(QUESTION_WAV, 8000)
    return np.concatenate([np.zeros(4000, np.int16), speech, np.zeros(800, np.int16)])


class ActOnTurn(Stage):
    """Calls ``action(info)`` once, on the first LLM response (an LLM deciding to use a tool)."""

    inputs = (LLMResponseEnded,)

    def __init__(
        self, info: CallInfo, action: Callable[[CallInfo], Awaitable[str]], results: list[str]
    ) -> None:
        super().__init__(name="ActOnTurn")
        self.info, self.action, self.results = info, action, results

    async def process(self, frame: Frame) -> None:
        """Pass the response on, then run the action once."""
        await self.emit(frame)
        if not self.results:
            self.results.append("pending")
            self.results[0] = await self.action(self.info)
