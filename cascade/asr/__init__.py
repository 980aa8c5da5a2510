"""Streaming speech recognition with faster-whisper.

The stage goes after the VAD, whose speech events and probabilities it needs:

>>> from cascade import Pipeline
>>> from cascade.asr import WhisperASR, WhisperEngine, WhisperOptions
>>> from cascade.turn import TurnTaker
>>> from cascade.vad import SileroVAD
>>> pipeline = Pipeline([SileroVAD(), WhisperASR(WhisperOptions(model="base")), TurnTaker()])

Its engine also decodes whole files; load it once and share it between sessions
(``WhisperASR(engine=engine)``):

>>> engine = WhisperEngine()
>>> hypothesis = engine.transcribe_file("examples/question.wav")
>>> hypothesis.text, hypothesis.language
('What are your opening hours on Saturday?', 'en')
>>> [(word.text, round(word.end, 1)) for word in hypothesis.words[-2:]]  # seconds into the file
[('on', 2.3), ('Saturday?', 2.6)]

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
