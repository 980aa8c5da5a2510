"""Voice activity detection: Silero VAD v6 (ONNX, no torch), the first stage after the source.

>>> from cascade import Pipeline
>>> from cascade.asr import WhisperASR
>>> from cascade.turn import TurnTaker
>>> from cascade.vad import SileroVAD, VADOptions
>>> pipeline = Pipeline([SileroVAD(VADOptions(min_silence=0.5)), WhisperASR(), TurnTaker()])

On its own, on a recorded question in 20 ms frames (in virtual time), it passes the audio on and
marks one segment of speech (its start moved back by ``speech_pad``), announced by an onset and a
pause:

>>> import anyio
>>> from cascade.audio import load_audio
>>> from cascade.frames import SpeechProbabilities, SpeechStarted, SpeechStopped, UserAudioFrame
>>> from cascade.testing import run_stages
>>> audio = load_audio("examples/question.wav", 16000)
>>> frames = [
...     UserAudioFrame(pts=i / 16000, pcm=audio[i : i + 320].tobytes(), sample_rate=16000)
...     for i in range(0, len(audio), 320)
... ]
>>> result = anyio.run(run_stages, [SileroVAD()], frames)
>>> len(result.of(UserAudioFrame)) == len(frames)
True
>>> result.kinds(skip=(UserAudioFrame, SpeechProbabilities))
['SpeechOnset', 'SpeechStarted', 'SpeechPaused', 'SpeechStopped', 'EndOfStream']
>>> [(f.kind, round(f.pts, 2)) for f in result.frames if isinstance(f, SpeechStarted | SpeechStopped)]
[('SpeechStarted', 0.63), ('SpeechStopped', 2.75)]

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
