"""Real voices (hibari, Piper) as pipeline stages in real time, checked by a real recognizer."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import jiwer
import numpy as np
import pytest

from cascade.clock import RealClock
from cascade.frames import BotAudioFrame, ErrorFrame, Frame, LLMResponseEnded, LLMTextDelta
from cascade.session import SessionContext
from cascade.stage import Stage
from cascade.testing import run_stages
from cascade.tts.base import EngineTTS, TTSOptions
from cascade.tts.chunker import ChunkerOptions, speakable_text
from cascade.tts.engine import TTSEngine, TTSError
from cascade.tts.normalize import normalize_for_speech
from tests.tts.conftest import needs_piper, transcribe

pytestmark = pytest.mark.integration

SENTENCES = [
    "The weather today is sunny with a light breeze from the west.",
    "Please hold on while I look up your account.",
    "Your appointment with Dr. Smith is on Monday at 3:30 pm.",
    "The total comes to $42.50, including tax.",
    "Thank you for calling, and have a wonderful evening.",
]


async def run_real(
    stages: Sequence[Stage],
    frames: Sequence[Frame],
    actions: dict[float, Callable[[SessionContext], None]] | None = None,
) -> tuple[list[Frame], SessionContext]:
    """Run stages on scripted frames in real time (models run in threads)."""
    result = await run_stages(stages, frames, tail=0.0, actions=actions, clock=RealClock())
    assert result.ctx is not None
    return result.frames, result.ctx


def deltas(text: str, start: float = 0.05, interval: float = 0.02, rid: str = "r") -> list[Frame]:
    frames: list[Frame] = []
    for i, piece in enumerate(re.findall(r"\s*\S+", text)):
        frames.append(LLMTextDelta(pts=start + i * interval, response_id=rid, text=piece))
    frames.append(LLMResponseEnded(pts=start + len(frames) * interval, response_id=rid, text=text))
    return frames


def words(text: str) -> str:
    spoken = normalize_for_speech(text).lower().replace("-", " ")
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", spoken).split())


def check_intelligible(whisper: Any, audio: list[BotAudioFrame], text: str, max_wer: float) -> None:
    samples = np.concatenate([f.samples() for f in audio])
    heard = transcribe(whisper, samples, audio[0].sample_rate)
    error = jiwer.wer(words(text), words(heard))
    assert error <= max_wer, f"WER {error:.2f}: said {text!r}, recognized {heard!r}"


async def speak_and_check(engine: TTSEngine, whisper: Any, max_wer: float) -> None:
    text = " ".join(SENTENCES)
    out, ctx = await run_real([EngineTTS(engine, TTSOptions(sample_rate=16000))], deltas(text))
    audio = [f for f in out if isinstance(f, BotAudioFrame)]
    assert not [f for f in out if isinstance(f, ErrorFrame)]
    assert all(f.sample_rate == 16000 and f.num_samples <= 320 for f in audio)
    assert audio[-1].last and "".join(f.text for f in audio) == speakable_text(text)
    assert ctx.metrics.timelines[0].first_tts_audio is not None
    check_intelligible(whisper, [f for f in audio if f.pcm], text, max_wer)


@pytest.mark.anyio
async def test_hibari_streams_intelligible_speech(hibari_engine: TTSEngine, whisper: Any) -> None:
    await speak_and_check(hibari_engine, whisper, max_wer=0.15)


@needs_piper
@pytest.mark.anyio
async def test_piper_streams_intelligible_speech(piper_engine: TTSEngine, whisper: Any) -> None:
    await speak_and_check(piper_engine, whisper, max_wer=0.15)


@pytest.mark.anyio
async def test_hibari_first_audio_comes_before_the_reply_ends(hibari_engine: TTSEngine) -> None:
    text = "Sure, let me check that for you. " + "This part of the answer keeps going for a while. " * 3
    frames = deltas(text, interval=0.05)
    out, _ = await run_real([EngineTTS(hibari_engine)], frames)
    first = next(f for f in out if isinstance(f, BotAudioFrame) and f.pcm)
    assert first.pts < frames[-1].pts  # audio started long before the LLM finished
    assert first.text == "" or "Sure,".startswith(first.text.strip())


def silences(audio: list[BotAudioFrame], threshold_db: float = -45.0) -> list[float]:
    """Lengths of the quiet runs before each sound, in seconds (the first one leads)."""
    runs, quiet = [], 0.0
    for frame in audio:
        rms = np.sqrt(np.mean(frame.samples().astype(np.float64) ** 2)) / 32768
        if 20 * np.log10(rms + 1e-9) < threshold_db:
            quiet += frame.duration
        else:
            runs.append(quiet)
            quiet = 0.0
    return runs


@pytest.mark.anyio
async def test_hibari_speaks_at_once_and_without_gaps_inside_a_sentence(hibari_engine: TTSEngine) -> None:
    # "He was" is a chunk of its own (cut after two words), then the rest of the sentence
    text = "He was not a young man. He was old."
    options = TTSOptions(chunker=ChunkerOptions(first_max_words=2))
    out, _ = await run_real([EngineTTS(hibari_engine, options)], deltas(text))
    lead, *gaps = silences([f for f in out if isinstance(f, BotAudioFrame) and f.pcm])
    assert lead < 0.12  # the first word begins at once (its soft onset), not after padding
    assert max(gaps) < 0.5  # the pause after a sentence; nothing as long inside it
    untrimmed = options.model_copy(update={"trim_silence": False})
    out, _ = await run_real([EngineTTS(hibari_engine, untrimmed)], deltas(text))
    lead, *gaps = silences([f for f in out if isinstance(f, BotAudioFrame) and f.pcm])
    assert lead > 0.2 and max(gaps) > 0.5  # what the trimming removes


class InterruptOnFirstAudio(Stage):
    """Barges in as soon as the first bot audio arrives (like a caller talking over the bot)."""

    inputs = (BotAudioFrame,)

    def __init__(self) -> None:
        super().__init__(name="InterruptOnFirstAudio")
        self.at: float | None = None

    async def process(self, frame: Frame) -> None:
        await self.emit(frame)
        if self.at is None:
            self.at = self.clock.now()
            self.interrupt("barge-in")


@pytest.mark.anyio
async def test_hibari_interrupt_mid_reply_stops_synthesis(hibari_engine: TTSEngine) -> None:
    counting = CountingEngine(hibari_engine)
    text = "This is sentence number one. " * 8
    barge = InterruptOnFirstAudio()
    out, ctx = await run_real([EngineTTS(counting), barge], deltas(text, interval=0.02))
    audio = [f for f in out if isinstance(f, BotAudioFrame)]
    assert barge.at is not None and ctx.generation == 1
    # the frames already queued when the caller barged in are dropped; nothing else is made
    assert len(audio) <= 1 and not any(f.last for f in audio)
    assert len(counting.calls) <= 3 < 8


class CountingEngine(TTSEngine):
    """A real engine wrapper that records its calls and crashes on the word "explode"."""

    name = "counting"

    def __init__(self, inner: TTSEngine) -> None:
        super().__init__(inner.default_voice)
        self.inner = inner
        self.calls: list[str] = []

    @property
    def sample_rate(self) -> int:
        return self.inner.sample_rate

    def voices(self) -> list[str]:
        return self.inner.voices()

    def _load(self) -> None:
        self.inner.load()

    def _synthesize(self, text: str, voice: str, speed: float) -> np.ndarray:
        self.calls.append(text)
        if "explode" in text:
            raise RuntimeError("onnxruntime session died")
        return self.inner.synthesize(text, voice, speed)


@pytest.mark.anyio
async def test_engine_crash_is_reported_and_speech_goes_on(hibari_engine: TTSEngine) -> None:
    out, _ = await run_real(
        [EngineTTS(CountingEngine(hibari_engine))], deltas("Hello there. Now explode. Bye now.")
    )
    errors = [f for f in out if isinstance(f, ErrorFrame)]
    assert len(errors) == 1 and "onnxruntime session died" in errors[0].message
    audio = [f for f in out if isinstance(f, BotAudioFrame)]
    assert "".join(f.text for f in audio) == "Hello there. Bye now." and audio[-1].last


def test_engine_rejects_empty_text_and_unknown_voice(hibari_engine: TTSEngine) -> None:
    with pytest.raises(TTSError, match="empty text"):
        hibari_engine.synthesize("   ")
    with pytest.raises(TTSError, match="unknown voice 'zed'; available voices: heart"):
        hibari_engine.synthesize("Hi.", voice="zed")
    with pytest.raises(TTSError, match="speed 9"):
        hibari_engine.synthesize("Hi.", speed=9)


@needs_piper
def test_piper_voice_and_missing_model(piper_engine: TTSEngine, tmp_path: Any) -> None:
    from cascade.tts.piper import PiperEngine

    assert piper_engine.voices() == ["joe"] and piper_engine.sample_rate == 22050
    with pytest.raises(TTSError, match="Piper voice files not found"):
        PiperEngine(tmp_path / "nope.onnx")
