"""Streaming speech recognition with faster-whisper.

>>> from cascade.asr import WhisperASR, WhisperOptions
>>> from cascade.vad import SileroVAD
>>> Pipeline([SileroVAD(), WhisperASR(WhisperOptions(model="base")), ...])

Shipped models: ``tiny.en`` (default) and ``base``; any CTranslate2 directory or faster-whisper
name works too. See :mod:`cascade.asr.stage` for the partial/final transcript semantics.
"""

from cascade.asr.engine import Hypothesis, WhisperEngine
from cascade.asr.models import CorruptModelError, ModelNotFoundError, WhisperModelError, resolve_model
from cascade.asr.options import StreamingOptions, WhisperOptions
from cascade.asr.stage import ASRStats, WhisperASR

__all__ = [
    "ASRStats",
    "CorruptModelError",
    "Hypothesis",
    "ModelNotFoundError",
    "StreamingOptions",
    "WhisperASR",
    "WhisperEngine",
    "WhisperModelError",
    "WhisperOptions",
    "resolve_model",
]
