"""Voice activity detection: Silero VAD v6 (ONNX, no torch) as a streaming stage.

The model is the ``silero_vad_v6.onnx`` file that ships inside ``faster-whisper``; onnxruntime runs
it in well under a millisecond per 32 ms window, so it runs on the event loop with no thread.

Three layers, each usable alone:

* :class:`SileroModel` -- probabilities of speech for consecutive 512-sample windows at 16 kHz,
  carrying the model's recurrent state between calls (one instance per audio stream).
* :class:`SpeechSegmenter` -- the pure start/stop state machine (threshold with hysteresis,
  minimum speech, minimum silence, start padding) over a stream of window probabilities.
* :class:`SileroVAD` -- the pipeline stage: forwards caller audio unchanged and emits
  :class:`~cascade.frames.SpeechStarted` / :class:`~cascade.frames.SpeechStopped` after it.

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
* Audio at any rate is accepted; other rates than 16 kHz are resampled for the model only (the
  forwarded frames are untouched).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cascade.audio import StreamResampler
from cascade.frames import (
    Frame,
    SpeechOnset,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    SpeechStopped,
    UserAudioFrame,
)
from cascade.stage import Stage

log = logging.getLogger("cascade.turn.vad")

MODEL_RATE = 16000
"""The rate Silero VAD v6 runs at."""
WINDOW = 512
"""Samples per model window (32 ms at 16 kHz)."""
CONTEXT = 64
"""Samples of the previous window the model sees in front of each window."""
WINDOW_SECONDS = WINDOW / MODEL_RATE
_GAP_TOLERANCE = 0.1
"""A frame starting this much later than the audio so far re-anchors the timeline (lost audio)."""


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


class VADModelError(RuntimeError):
    """The Silero VAD model file is missing or cannot be loaded."""


def default_model_path() -> Path:
    """The Silero VAD v6 ONNX file inside the installed ``faster-whisper`` package."""
    try:
        import faster_whisper
    except ImportError as exc:  # pragma: no cover - faster-whisper is a declared dependency
        raise VADModelError(
            "Silero VAD ships inside faster-whisper, which is not installed: pip install 'cascade-voice[asr]'"
        ) from exc
    return Path(faster_whisper.__file__).parent / "assets" / "silero_vad_v6.onnx"


@functools.lru_cache(maxsize=4)
def _session(path: str) -> Any:
    """One onnxruntime session per model file, shared by every stream (``run`` is thread-safe)."""
    import onnxruntime

    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 4
    try:
        return onnxruntime.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise VADModelError(
            f"cannot load the Silero VAD model {path}: {exc}. Reinstall faster-whisper "
            "(pip install --force-reinstall faster-whisper==1.2.1) or pass VADOptions(model_path=...) "
            "pointing to silero_vad_v6.onnx"
        ) from exc


class SileroModel:
    """Streaming Silero VAD v6: one speech probability per 512-sample 16 kHz window.

    Keeps the recurrent state and the 64-sample context between calls, so consecutive calls must
    be consecutive audio of one stream. Use one instance per stream.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        """Load (or reuse) the ONNX session for ``path`` (default: faster-whisper's copy)."""
        model_path = Path(path) if path is not None else default_model_path()
        if not model_path.is_file():
            raise VADModelError(
                f"Silero VAD model not found at {model_path}; it ships with faster-whisper "
                "(pip install 'cascade-voice[asr]') or pass VADOptions(model_path=...)"
            )
        self._session = _session(str(model_path))
        self.reset()

    def reset(self) -> None:
        """Forget the stream so far (state and context)."""
        self._h = np.zeros((1, 1, 128), np.float32)
        self._c = np.zeros((1, 1, 128), np.float32)
        self._context = np.zeros(CONTEXT, np.float32)

    def __call__(self, window: np.ndarray) -> float:
        """Speech probability of the next window (512 float32 samples in [-1, 1] at 16 kHz)."""
        if window.shape != (WINDOW,):
            raise ValueError(f"Silero VAD needs windows of {WINDOW} samples, got shape {window.shape}")
        x = np.concatenate([self._context, window.astype(np.float32, copy=False)])[None, :]
        prob, self._h, self._c = self._session.run(None, {"input": x, "h": self._h, "c": self._c})
        self._context = x[0, -CONTEXT:]
        return float(np.asarray(prob).reshape(-1)[0])


class StreamingVAD:
    """Buffers mono audio of any rate into model windows and yields their probabilities.

    Times are session seconds: the first chunk's ``pts`` anchors the timeline and later chunks
    follow on by sample count (a chunk arriving well after the audio so far re-anchors it).
    """

    def __init__(self, model: SileroModel) -> None:
        self.model = model
        self._resampler: StreamResampler | None = None
        self._rate = 0
        self._pending = np.zeros(0, np.float32)
        self._t0 = 0.0
        """Session time of ``_pending[0]``."""
        self._input_end: float | None = None

    def push(self, samples: np.ndarray, sample_rate: int, pts: float) -> list[tuple[float, float, float]]:
        """Add int16 mono ``samples`` starting at ``pts``; return ``(start, end, prob)`` per window."""
        if sample_rate != self._rate:
            self._rate = sample_rate
            self._resampler = StreamResampler(sample_rate, MODEL_RATE)
        if self._input_end is None or pts > self._input_end + _GAP_TOLERANCE:
            self._pending = np.zeros(0, np.float32)
            self._t0 = pts
        self._input_end = pts + len(samples) / sample_rate
        assert self._resampler is not None
        pcm = self._resampler(samples.astype("<i2", copy=False).tobytes())
        data = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        self._pending = np.concatenate([self._pending, data])
        out: list[tuple[float, float, float]] = []
        while len(self._pending) >= WINDOW:
            window, self._pending = self._pending[:WINDOW], self._pending[WINDOW:]
            start = self._t0
            self._t0 += WINDOW_SECONDS
            out.append((start, self._t0, self.model(window)))
        return out


@dataclass(frozen=True)
class SegmentEvent:
    """An onset, start, stop, pause or resume decided by :class:`SpeechSegmenter`."""

    what: Literal["onset", "start", "stop", "pause", "resume"]
    time: float
    """Audio time of the speech start (padded), its end (stop, pause), its going on (resume) or
    its first speech-like window (onset, not padded)."""
    speech_start: float
    """Audio time the segment started (padded)."""
    probability: float = 1.0

    @property
    def started(self) -> bool:
        """True for a start."""
        return self.what == "start"


class SpeechSegmenter:
    """The start/stop state machine over window probabilities (pure; no model, no clock)."""

    def __init__(self, options: VADOptions | None = None) -> None:
        self.options = options or VADOptions()
        self.in_speech = False
        self._origin: float | None = None
        self._candidate: float | None = None
        """Start time of a run of speech windows not yet long enough to count."""
        self._segment_start = 0.0
        self._last_speech_end = 0.0
        self._peak = 0.0
        self._paused = False

    def push(self, start: float, end: float, probability: float) -> SegmentEvent | None:
        """Feed one window; return the event it decides, if any."""
        opts = self.options
        if self._origin is None:
            self._origin = start
        if not self.in_speech:
            if probability >= opts.threshold:
                onset = self._candidate is None
                if onset:
                    self._candidate, self._peak = start, 0.0
                self._peak = max(self._peak, probability)
                candidate = self._candidate
                assert candidate is not None
                if end - candidate >= opts.min_speech:
                    self.in_speech = True
                    self._segment_start = max(self._origin, candidate - opts.speech_pad)
                    self._last_speech_end = end
                    self._candidate = None
                    return SegmentEvent("start", self._segment_start, self._segment_start, self._peak)
                if onset:
                    return SegmentEvent("onset", start, start, probability)
            else:
                self._candidate = None
            return None
        if probability >= opts.silence_threshold:
            resumed = self._paused
            self._paused = False
            self._last_speech_end = end
            return SegmentEvent("resume", start, self._segment_start) if resumed else None
        quiet = end - self._last_speech_end
        if quiet >= opts.min_silence:
            return self.stop()
        pause = opts.pause_silence
        if pause is not None and quiet >= pause and not self._paused:
            self._paused = True
            return SegmentEvent("pause", self._last_speech_end, self._segment_start)
        return None

    def stop(self) -> SegmentEvent | None:
        """Close an open segment now (end of stream); None when not in speech."""
        self._candidate = None
        if not self.in_speech:
            return None
        self.in_speech = self._paused = False
        return SegmentEvent("stop", self._last_speech_end, self._segment_start)


class SileroVAD(Stage):
    """Silero VAD v6 stage: forwards caller audio and emits speech start/stop events after it.

    See the module docstring for the exact event semantics. Marks ``user_speech_end`` in the
    session metrics at every ``SpeechStopped`` (the audio time the caller stopped).
    """

    inputs = (UserAudioFrame,)
    outputs = (UserAudioFrame, SpeechOnset, SpeechStarted, SpeechStopped, SpeechPaused, SpeechResumed)

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
        """Forward the audio, then emit whatever start/stop it confirmed."""
        assert isinstance(frame, UserAudioFrame) and self._stream is not None
        await self.emit(frame)
        self._generation = frame.generation
        samples = frame.samples()
        if samples.ndim == 2:
            samples = samples.mean(axis=1).astype(np.int16)
        for start, end, prob in self._stream.push(samples, frame.sample_rate, frame.pts):
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
