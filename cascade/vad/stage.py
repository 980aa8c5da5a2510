"""SileroVAD: the first stage after the source; forwards caller audio and marks speech in it.

Built from the layers of :mod:`cascade.vad`: :class:`~cascade.vad.silero.StreamingVAD` turns the
audio into window probabilities, :class:`~cascade.vad.segmenter.SpeechSegmenter` decides starts
and stops from them, and the stage emits :class:`~cascade.frames.SpeechStarted` /
:class:`~cascade.frames.SpeechStopped` (and the events below) after the audio that confirmed them.

Event semantics (relied on by the ASR and the turn-taker):

* Events alternate strictly: ``SpeechStarted``, ``SpeechStopped``, ``SpeechStarted``, ...; the
  end of the stream closes an open segment with a final ``SpeechStopped``.
* ``SpeechStarted.pts`` is the audio time the speech began (minus ``speech_pad``); it is emitted
  ``min_speech`` seconds of audio later, after the audio frame that confirmed it.
* ``SpeechStopped.pts`` is the audio time the speech ended; it is emitted once ``min_silence``
  seconds of audio followed, after the frame that confirmed it. ``speech_start`` repeats the
  segment's start. The stage marks the session metric ``user_speech_end`` at ``pts``.
* Before a start, ``SpeechOnset`` (``pts``: the first speech-like window) comes when the audio
  begins to sound like speech; the ``SpeechStarted`` follows once it has lasted ``min_speech``
  (``SpeechOnset.confirm_by``), or nothing does (a click). A start confirmed by the onset's own
  window comes without one.
* Inside a segment, ``SpeechPaused`` (``pts``: where the speech ended) comes once
  ``pause_silence`` of quiet followed the speech, before the stop is confirmed; then either the
  ``SpeechStopped`` with the same ``pts`` or ``SpeechResumed`` (the speech went on) follows.
* Before each audio frame that completes model windows, ``SpeechProbabilities`` gives their
  speech probabilities (the ASR schedules its decodes by them).
* Audio at any rate is accepted; other rates than 16 kHz are resampled for the model only (the
  forwarded frames are untouched).
"""

from __future__ import annotations

import logging

import numpy as np

from cascade.frames import (
    Frame,
    SpeechOnset,
    SpeechPaused,
    SpeechProbabilities,
    SpeechResumed,
    SpeechStarted,
    SpeechStopped,
    UserAudioFrame,
)
from cascade.stage import Stage
from cascade.vad.options import VADOptions
from cascade.vad.segmenter import SegmentEvent, SpeechSegmenter
from cascade.vad.silero import SileroModel, StreamingVAD

log = logging.getLogger("cascade.vad")


class SileroVAD(Stage):
    """Silero VAD v6 stage: forwards caller audio and emits speech start/stop events after it.

    See the module docstring for the exact event semantics. Marks ``user_speech_end`` in the
    session metrics at every ``SpeechStopped`` (the audio time the caller stopped).
    """

    inputs = (UserAudioFrame,)
    outputs = (
        UserAudioFrame,
        SpeechProbabilities,
        SpeechOnset,
        SpeechStarted,
        SpeechStopped,
        SpeechPaused,
        SpeechResumed,
    )

    def __init__(self, options: VADOptions | None = None, *, name: str | None = None) -> None:
        """Create the stage; the model is loaded when the session starts."""
        super().__init__(name=name)
        self.options = options or VADOptions()
        self._stream: StreamingVAD | None = None
        self._segmenter = SpeechSegmenter(self.options)
        self._generation = 0

    async def start(self) -> None:
        """Reset the state. The model's ONNX session is shared by every stream: the process's
        first one takes tens of milliseconds, so applications load it ahead of their first
        session (:meth:`load`, as ``VoiceAgent.prepare`` does); later sessions reuse it at once
        (and virtual-time tests need no worker thread)."""
        self._stream = StreamingVAD(SileroModel(self.options.model_path))
        self._segmenter = SpeechSegmenter(self.options)

    def load(self) -> None:
        """Create the shared ONNX session now (blocking; call it off the event loop)."""
        SileroModel(self.options.model_path)

    async def process(self, frame: Frame) -> None:
        """Forward the audio after the probabilities of its windows, then emit whatever
        start/stop it confirmed."""
        assert isinstance(frame, UserAudioFrame) and self._stream is not None
        self._generation = frame.generation
        samples = frame.samples()
        if samples.ndim == 2:
            samples = samples.mean(axis=1).astype(np.int16)
        windows = self._stream.push(samples, frame.sample_rate, frame.pts)
        if windows:
            await self.emit(
                SpeechProbabilities(
                    pts=windows[0][0],
                    generation=frame.generation,
                    ends=tuple(end for _, end, _ in windows),
                    probabilities=tuple(prob for _, _, prob in windows),
                )
            )
        await self.emit(frame)
        for start, end, prob in windows:
            event = self._segmenter.push(start, end, prob)
            if event is not None:
                await self._emit_event(event)

    async def finish(self) -> None:
        """End of stream: close an open segment."""
        event = self._segmenter.stop()
        if event is not None:
            await self._emit_event(event)

    async def _emit_event(self, event: SegmentEvent) -> None:
        if event.what == "onset":
            confirm_by = event.time + self.options.min_speech
            await self.emit(SpeechOnset(pts=event.time, generation=self._generation, confirm_by=confirm_by))
            return
        if event.what in ("pause", "resume"):
            kind = SpeechPaused if event.what == "pause" else SpeechResumed
            await self.emit(kind(pts=event.time, generation=self._generation))
            return
        if event.started:
            log.debug("speech started at %.3f", event.time)
            frame: Frame = SpeechStarted(
                pts=event.time, generation=self._generation, probability=event.probability
            )
        else:
            log.debug("speech stopped at %.3f (started %.3f)", event.time, event.speech_start)
            self.ctx.metrics.mark("user_speech_end", event.time)
            frame = SpeechStopped(
                pts=event.time, generation=self._generation, speech_start=event.speech_start
            )
        await self.emit(frame)
