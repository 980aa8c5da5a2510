"""A session-wide tiny.en engine (the model loads once for every ASR test)."""

from __future__ import annotations

import pytest

from cascade.asr import WhisperEngine, WhisperOptions


@pytest.fixture(scope="session")
def tiny_engine() -> WhisperEngine:
    """The shipped Whisper tiny.en, loaded."""
    engine = WhisperEngine(WhisperOptions())
    assert engine.loaded is not None
    return engine
