"""The naive cascade the latency benchmark compares against (benchmark-only code).

Same models as the embedded default, none of the tricks: end of turn after a fixed 0.8 s of VAD
silence, the whole turn transcribed after it ended, the whole LLM reply awaited before TTS, the
whole reply synthesized before playback starts.
"""

from __future__ import annotations

import itertools

import numpy as np
from openai import AsyncOpenAI

from cascade.asr.engine import WhisperEngine
from cascade.audio import resample, to_int16
from cascade.frames import (
    BotAudioFrame,
    EndOfTurn,
    FinalTranscript,
    Frame,
    LLMResponseEnded,
    LLMResponseStarted,
    SpeechProbabilities,
    SpeechStarted,
    SpeechStopped,
    UserAudioFrame,
)
from cascade.pipeline import Pipeline
from cascade.stage import Stage, run_sync_cancellable
from cascade.tts.engine import TTSEngine
from cascade.vad import SileroVAD, VADOptions

SILENCE = 0.8


class WholeTurnASR(Stage):
    """Buffers the caller's speech; when the VAD says it stopped, transcribes all of it."""

    inputs = (UserAudioFrame, SpeechProbabilities, SpeechStarted, SpeechStopped)
    outputs = (FinalTranscript, EndOfTurn)

    def __init__(self, engine: WhisperEngine) -> None:
        super().__init__(name="WholeTurnASR")
        self.engine = engine
        self.audio: list[np.ndarray] = []
        self.speaking = False

    async def process(self, frame: Frame) -> None:
        if isinstance(frame, UserAudioFrame):
            if self.speaking:
                self.audio.append(frame.samples())
        elif isinstance(frame, SpeechStarted):
            self.speaking = True
        elif isinstance(frame, SpeechStopped):
            self.speaking = False
            self.ctx.metrics.mark("end_of_turn", self.clock.now())
            audio, self.audio = np.concatenate(self.audio or [np.zeros(160, np.int16)]), []
            hypothesis = await run_sync_cancellable(self.engine.transcribe, audio)
            now = self.clock.now()
            self.ctx.metrics.mark("final_transcript", now)
            await self.emit(FinalTranscript(pts=now, text=hypothesis.text))
            if hypothesis.text.strip():
                await self.emit(EndOfTurn(pts=now, generation=self.generation, text=hypothesis.text))


class WholeReplyLLM(Stage):
    """Asks for the complete reply (no streaming) and passes it on in one piece."""

    inputs = (EndOfTurn,)
    outputs = (LLMResponseStarted, LLMResponseEnded)

    def __init__(self, base_url: str, model: str, system_prompt: str, max_tokens: int = 200) -> None:
        super().__init__(name="WholeReplyLLM")
        self.client = AsyncOpenAI(base_url=base_url, api_key="EMPTY")
        self.model, self.max_tokens = model, max_tokens
        self.messages: list[dict[str, str]] = [{"role": "system", "content": system_prompt}]
        self.ids = itertools.count()

    async def process(self, frame: Frame) -> None:
        assert isinstance(frame, EndOfTurn)
        self.messages.append({"role": "user", "content": frame.text})
        response = await self.client.chat.completions.create(
            model=self.model,
            messages=self.messages,  # type: ignore[arg-type]
            max_tokens=self.max_tokens,
            temperature=0.3,
        )
        text = response.choices[0].message.content or ""
        self.messages.append({"role": "assistant", "content": text})
        self.ctx.metrics.mark("llm_first_token", self.clock.now())
        rid = f"naive-{next(self.ids)}"
        await self.emit(LLMResponseStarted(pts=self.clock.now(), response_id=rid))
        await self.emit(LLMResponseEnded(pts=self.clock.now(), response_id=rid, text=text))

    async def close(self) -> None:
        await self.client.close()


class WholeReplyTTS(Stage):
    """Synthesizes the complete reply, then sends all of its audio."""

    inputs = (LLMResponseEnded,)
    outputs = (BotAudioFrame,)

    def __init__(self, engine: TTSEngine, sample_rate: int) -> None:
        super().__init__(name="WholeReplyTTS")
        self.engine, self.sample_rate = engine, sample_rate

    async def process(self, frame: Frame) -> None:
        assert isinstance(frame, LLMResponseEnded)
        if not frame.text.strip():
            return
        audio = await run_sync_cancellable(self.engine.synthesize, frame.text)
        pcm = to_int16(resample(np.asarray(audio, np.float32), self.engine.sample_rate, self.sample_rate))
        self.ctx.metrics.mark("first_tts_audio", self.clock.now())
        step = self.sample_rate // 50
        for start in range(0, len(pcm), step):
            chunk = pcm[start : start + step].tobytes()
            await self.emit(BotAudioFrame(pts=self.clock.now(), pcm=chunk, response_id=frame.response_id))
        await self.emit(
            BotAudioFrame(
                pts=self.clock.now(), pcm=b"", response_id=frame.response_id, text=frame.text, last=True
            )
        )


def naive_pipeline(
    asr: WhisperEngine,
    tts: TTSEngine,
    base_url: str,
    model: str,
    system_prompt: str,
    sample_rate: int = 16000,
) -> Pipeline:
    """The reference cascade built from the same models."""
    return Pipeline(
        [
            SileroVAD(VADOptions(min_silence=SILENCE)),
            WholeTurnASR(asr),
            WholeReplyLLM(base_url, model, system_prompt),
            WholeReplyTTS(tts, sample_rate),
        ],
        name="NaiveCascade",
    )
