"""Local speech engines: one blocking interface shared by the TTS stages and the speech server."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from cascade.errors import CascadeError


class TTSError(CascadeError, RuntimeError):
    """Speech synthesis failed or was asked for something it cannot do."""


class UnknownVoiceError(TTSError, ValueError):
    """A voice name the engine does not have."""

    def __init__(self, engine: str, voice: str, available: list[str]) -> None:
        super().__init__(
            f"{engine}: unknown voice {voice!r}; available voices: {', '.join(available) or 'none'}"
        )
        self.voice = voice
        self.available = available


class TTSEngine(ABC):
    """A local synthesizer: text in, mono float32 audio at :attr:`sample_rate` out (blocking).

    Subclasses implement :meth:`_load` and :meth:`_synthesize`; this base makes loading idempotent
    and thread-safe and runs one synthesis at a time (ONNX sessions and phonemizers are shared).
    Call it from worker threads, never on the event loop.
    """

    name: ClassVar[str] = "engine"
    """Engine name (also the model id the speech server announces)."""

    def __init__(self, voice: str) -> None:
        self.default_voice = voice
        self._lock = threading.Lock()
        self._loaded = False
        self._warm = False

    @property
    @abstractmethod
    def sample_rate(self) -> int:
        """Rate of the audio :meth:`synthesize` returns."""

    @abstractmethod
    def voices(self) -> list[str]:
        """Voices this engine can speak with now (offline)."""

    @abstractmethod
    def _load(self) -> None:
        """Load models (called once, under the lock)."""

    @abstractmethod
    def _synthesize(self, text: str, voice: str, speed: float) -> np.ndarray:
        """Synthesize ``text`` (called under the lock, after loading)."""

    def load(self) -> None:
        """Load the models now (idempotent). Raises :class:`TTSError` with what to install."""
        with self._lock:
            if not self._loaded:
                self._load()
                self._loaded = True

    def check_voice(self, voice: str | None) -> str:
        """The voice to use for ``voice`` (``None``: the default); raises :class:`UnknownVoiceError`."""
        chosen = voice or self.default_voice
        available = self.voices()
        if chosen not in available:
            raise UnknownVoiceError(self.name, chosen, available)
        return chosen

    def synthesize(self, text: str, voice: str | None = None, speed: float = 1.0) -> np.ndarray:
        """Mono float32 audio of ``text`` at :attr:`sample_rate` (may be empty for punctuation)."""
        if not text.strip():
            raise TTSError(f"{self.name}: nothing to synthesize (empty text)")
        if not 0.25 <= speed <= 4.0:
            raise TTSError(f"{self.name}: speed {speed} is out of range; use 0.25 to 4.0")
        chosen = self.check_voice(voice)
        self.load()
        with self._lock:
            audio = self._synthesize(text, chosen, speed)
        return np.asarray(audio, dtype=np.float32).reshape(-1)

    def warm_up(self) -> None:
        """Load and synthesize once, so the first real request pays no lazy-loading cost.

        Idempotent: an engine shared by many sessions warms up only once.
        """
        if not self._warm:
            self.load()
            self.synthesize("Hello there, this is a warm up.")
            self._warm = True
