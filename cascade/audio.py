"""Audio helpers: load any audio file, resample (one-shot and streaming), write WAV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile
import soxr


class AudioFormatError(ValueError):
    """An audio file or buffer that cannot be used (unreadable, not audio, empty, wrong layout)."""


def to_int16(samples: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] to int16 (clipped)."""
    clipped: np.ndarray = np.clip(samples, -1.0, 1.0) * 32767.0
    return clipped.astype(np.int16)


def to_float(samples: np.ndarray) -> np.ndarray:
    """int16 samples to float32 in [-1, 1]."""
    return samples.astype(np.float32) / 32768.0


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample a whole mono signal (int16 or float32; returns the same dtype)."""
    if from_rate == to_rate or samples.size == 0:
        return samples
    if samples.dtype == np.int16:
        return to_int16(soxr.resample(to_float(samples), from_rate, to_rate, quality="HQ"))
    return np.asarray(soxr.resample(samples, from_rate, to_rate, quality="HQ"), dtype=np.float32)


class StreamResampler:
    """Chunk-by-chunk mono int16 resampling that keeps filter state between chunks."""

    def __init__(self, from_rate: int, to_rate: int) -> None:
        self.from_rate, self.to_rate = from_rate, to_rate
        self._stream = (
            None if from_rate == to_rate else soxr.ResampleStream(from_rate, to_rate, 1, dtype="int16")
        )

    def __call__(self, pcm: bytes, last: bool = False) -> bytes:
        """Resample a chunk of s16le mono PCM."""
        if self._stream is None:
            return pcm
        out = self._stream.resample_chunk(np.frombuffer(pcm, dtype="<i2"), last=last)
        return np.asarray(out, dtype="<i2").tobytes()


def load_audio(path: str | Path, sample_rate: int) -> np.ndarray:
    """Read an audio file (any rate, channels, WAV/FLAC/OGG sample format) as mono int16.

    Raises :class:`AudioFormatError` naming the file when it is missing, unreadable or empty.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioFormatError(f"audio file not found: {path}")
    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, soundfile.LibsndfileError) as exc:
        raise AudioFormatError(
            f"cannot read {path} as audio ({exc}); expected a WAV, FLAC or OGG file"
        ) from exc
    if data.size == 0:
        raise AudioFormatError(f"{path} contains no audio samples")
    mono = data.mean(axis=1)
    return to_int16(resample(mono, int(rate), sample_rate))


def write_wav(path: str | Path, samples: np.ndarray, sample_rate: int) -> Path:
    """Write int16 samples, shape (n,) or (n, channels), as a 16-bit PCM WAV."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), samples, sample_rate, subtype="PCM_16")
    return path
