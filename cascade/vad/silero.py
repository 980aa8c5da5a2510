"""Silero VAD v6 (ONNX, no torch): speech probabilities of a stream of audio.

The model is the ``silero_vad_v6.onnx`` file that ships inside ``faster-whisper``; onnxruntime runs
it in well under a millisecond per 32 ms window, so it runs on the event loop with no thread.

* :class:`SileroModel` -- probabilities of speech for consecutive 512-sample windows at 16 kHz,
  carrying the model's recurrent state between calls (one instance per audio stream).
* :class:`StreamingVAD` -- buffers audio of any rate into the model's windows, timed in session
  seconds.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np

from cascade.audio import StreamResampler
from cascade.errors import CascadeError

MODEL_RATE = 16000
"""The rate Silero VAD v6 runs at."""
WINDOW = 512
"""Samples per model window (32 ms at 16 kHz)."""
CONTEXT = 64
"""Samples of the previous window the model sees in front of each window."""
WINDOW_SECONDS = WINDOW / MODEL_RATE
_GAP_TOLERANCE = 0.1
"""A frame starting this much later than the audio so far re-anchors the timeline (lost audio)."""


class VADModelError(CascadeError, RuntimeError):
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
