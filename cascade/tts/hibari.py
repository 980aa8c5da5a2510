"""The embedded default voice: hibari-tts (Apache-2.0; weights ship in the wheel; numpy + onnxruntime).

Hibari is a small distillation of Kokoro-82M. The voice ``heart`` (American English) is inside the
package; its other voices are downloaded from the model hub on first use, so offline only voices
already in hibari's cache are offered. Output is 24 kHz; the first synthesis loads the G2P lazily
(~0.3 s), which :meth:`~cascade.tts.engine.TTSEngine.warm_up` pays at start.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from pydantic import Field

from cascade.tts.base import EngineTTS, TTSOptions
from cascade.tts.engine import TTSEngine, TTSError

DEFAULT_VOICE = "heart"


def _hibari_module() -> Any:
    try:
        import hibari
        import hibari.voices
    except ImportError as exc:
        raise TTSError(
            "hibari-tts is not installed; install the TTS extra: pip install 'cascade-voice[tts]'"
        ) from exc
    return hibari


class HibariEngine(TTSEngine):
    """hibari-tts as a :class:`~cascade.tts.engine.TTSEngine` (one ONNX session per voice used)."""

    name = "hibari"

    def __init__(self, voice: str = DEFAULT_VOICE, *, threads: int = 1) -> None:
        """``threads``: onnxruntime intra-op threads per voice (one is plenty: RTF ~0.005)."""
        super().__init__(voice)
        self.threads = threads
        self._models: dict[str, Any] = {}

    @property
    def sample_rate(self) -> int:
        """24 kHz."""
        return int(_hibari_module().SAMPLE_RATE)

    def voices(self) -> list[str]:
        """Bundled voices plus those already downloaded into hibari's cache."""
        registry = _hibari_module().voices
        available = []
        for name, info in registry.VOICES.items():
            if info.get("bundled") or os.path.exists(os.path.join(registry.cache_dir(), info["file"])):
                available.append(name)
        return available

    def _load(self) -> None:
        self._model(self.default_voice)

    def _model(self, voice: str) -> Any:
        if voice not in self._models:
            self._models[voice] = _hibari_module().Hibari(voice=voice, threads=self.threads)
        return self._models[voice]

    def _synthesize(self, text: str, voice: str, speed: float) -> np.ndarray:
        audio: np.ndarray = self._model(voice)(text, speed=speed)
        return audio


class HibariOptions(TTSOptions):
    """Options of :class:`HibariTTS`."""

    threads: int = Field(default=1, ge=1)
    """onnxruntime intra-op threads."""


class HibariTTS(EngineTTS):
    """The default voice as a pipeline stage: ``HibariTTS()`` speaks with ``heart`` at 16 kHz.

    >>> from cascade.tts import HibariEngine, HibariOptions, HibariTTS
    >>> tts = HibariTTS(HibariOptions(sample_rate=48000, speed=1.1))  # a 48 kHz pipeline

    The engine synthesizes at 24 kHz (the stage resamples); load it once and share it between
    sessions' stages:

    >>> engine = HibariEngine()
    >>> engine.load()
    >>> tts = HibariTTS(engine=engine)
    >>> audio = engine.synthesize("Hello!")
    >>> engine.sample_rate, audio.dtype, round(len(audio) / engine.sample_rate, 1)
    (24000, dtype('float32'), 1.1)
    """

    def __init__(
        self,
        options: HibariOptions | None = None,
        *,
        engine: HibariEngine | None = None,
        name: str | None = None,
    ) -> None:
        """``engine``: share a loaded engine between sessions (default: a new one)."""
        options = options or HibariOptions()
        engine = engine or HibariEngine(options.voice or DEFAULT_VOICE, threads=options.threads)
        super().__init__(engine, options, name=name)
