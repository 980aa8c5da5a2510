"""Typed options of the VAD: when speech counts as started, paused and stopped."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator


class VADOptions(BaseModel):
    """Tuning of speech start/stop detection (all durations in seconds of audio)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    threshold: float = Field(0.5, gt=0.0, lt=1.0)
    """Speech probability at or above which a window counts as speech."""
    neg_threshold: float | None = Field(None, gt=0.0, lt=1.0)
    """Probability below which a window counts as silence while in speech (hysteresis).
    Default: ``threshold - 0.15`` (at least 0.01)."""
    min_speech: float = Field(0.15, ge=0.0, le=5.0)
    """Speech must last this long before ``SpeechStarted`` (filters clicks and short noises)."""
    min_silence: float = Field(0.2, ge=0.0, le=10.0)
    """Silence that must follow speech before ``SpeechStopped``. Short values suit a turn-taker
    that decides the end of turn itself; pauses shorter than this stay inside one segment."""
    pause_silence: float | None = Field(0.06, ge=0.0, le=10.0)
    """Silence after speech at which ``SpeechPaused`` announces a possible stop: the turn-taker
    judges the turn then, and answers the recognizer's text of the pause (the recognizer
    decodes at the same silence) before the stop is confirmed. ``None``, or not below
    ``min_silence``: no pause events."""
    speech_pad: float = Field(0.2, ge=0.0, le=2.0)
    """Audio before the detected onset that is reported as part of the segment
    (``SpeechStarted.pts`` is moved back by this much, never before the stream start)."""
    model_path: Path | None = None
    """Silero VAD ONNX file; default: the one shipped inside ``faster-whisper``."""

    @model_validator(mode="after")
    def _check_thresholds(self) -> VADOptions:
        if self.neg_threshold is not None and self.neg_threshold > self.threshold:
            raise ValueError(
                f"neg_threshold ({self.neg_threshold}) must not exceed threshold ({self.threshold})"
            )
        return self

    @property
    def silence_threshold(self) -> float:
        """The effective probability below which speech is considered paused."""
        if self.neg_threshold is not None:
            return self.neg_threshold
        return max(0.01, self.threshold - 0.15)
