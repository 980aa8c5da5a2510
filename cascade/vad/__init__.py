"""Voice activity detection: Silero VAD v6 (ONNX, no torch), the first stage after the source.

>>> from cascade.vad import SileroVAD, VADOptions
>>> Pipeline([SileroVAD(VADOptions(min_silence=0.2)), WhisperASR(), TurnTaker(), ...])

Three layers, each usable alone:

* :class:`SileroModel` (:mod:`cascade.vad.silero`) -- probabilities of speech for consecutive
  512-sample windows at 16 kHz; :class:`StreamingVAD` feeds it audio of any rate.
* :class:`SpeechSegmenter` (:mod:`cascade.vad.segmenter`) -- the pure start/stop state machine
  (threshold with hysteresis, minimum speech, minimum silence, start padding).
* :class:`SileroVAD` (:mod:`cascade.vad.stage`) -- the pipeline stage; its module docstring gives
  the exact event semantics the ASR and the turn-taker rely on.
"""

from cascade.vad.options import VADOptions
from cascade.vad.segmenter import SegmentEvent, SpeechSegmenter
from cascade.vad.silero import SileroModel, StreamingVAD, VADModelError, default_model_path
from cascade.vad.stage import SileroVAD

__all__ = [
    "SegmentEvent",
    "SileroModel",
    "SileroVAD",
    "SpeechSegmenter",
    "StreamingVAD",
    "VADModelError",
    "VADOptions",
    "default_model_path",
]
