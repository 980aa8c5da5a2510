"""Audio helpers: load any audio file, resample (one-shot and streaming), write WAV, energy envelopes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import soundfile
import soxr

from cascade.errors import CascadeError


class AudioFormatError(CascadeError, ValueError):
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
    """Chunk-by-chunk mono int16 resampling with a fixed, small delay (``LOOKAHEAD``).

    soxr's own stream resampler works in blocks: fed 20 ms frames it returns nothing for several
    of them and then about 100 ms at once, so the audio behind it arrived up to 0.2 s late (phone
    audio at 8 kHz reached the recognizer late and in bursts). Here each chunk is resampled
    together with the input just before it (``HISTORY``, covering the filter's start-up) and the
    output is cut where the next chunk cannot change it any more: everything up to ``LOOKAHEAD``
    before the input's end. ``last=True`` flushes the rest.
    """

    HISTORY = 0.02
    """Seconds of earlier input resampled again in front of each chunk."""
    LOOKAHEAD = 0.01
    """Seconds of the newest input whose output waits for the next chunk (the filter reads
    ahead); the delay this resampler adds."""

    def __init__(self, from_rate: int, to_rate: int) -> None:
        self.from_rate, self.to_rate = from_rate, to_rate
        common = math.gcd(from_rate, to_rate)
        self._up, self._down = to_rate // common, from_rate // common
        self._input = np.zeros(0, np.int16)
        self._input_start = 0
        """Index of ``_input[0]`` in the whole input (a multiple of ``_down``: output-aligned)."""
        self._emitted = 0
        """Output samples emitted so far."""

    def __call__(self, pcm: bytes, last: bool = False) -> bytes:
        """Resample a chunk of s16le mono PCM (``last``: the stream ends, flush everything)."""
        if self.from_rate == self.to_rate:
            return pcm
        self._input = np.concatenate([self._input, np.frombuffer(pcm, dtype="<i2")])
        input_end = self._input_start + len(self._input)
        ready = input_end if last else input_end - round(self.LOOKAHEAD * self.from_rate)
        until = ready * self._up // self._down  # output samples whose input is all here
        if until <= self._emitted or not len(self._input):
            return b""
        out = resample(self._input, self.from_rate, self.to_rate)
        first = self._input_start * self._up // self._down
        chunk = out[self._emitted - first : until - first]
        self._emitted += len(chunk)
        # keep the input the next output needs, plus the history, from an output-aligned index
        needed = self._emitted * self._down // self._up - round(self.HISTORY * self.from_rate)
        keep_from = max(self._input_start, needed - needed % self._down)
        self._input = self._input[keep_from - self._input_start :]
        self._input_start = keep_from
        return chunk.astype("<i2").tobytes()


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


ENVELOPE_HOP = 0.02
"""Envelope resolution in seconds."""
FLOOR_DB = -80.0
"""Energy floor of envelopes (digital silence)."""


def envelope_db(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Energy in dB per ``ENVELOPE_HOP`` of float samples (a trailing partial hop is dropped)."""
    hop = max(1, round(ENVELOPE_HOP * sample_rate))
    count = len(samples) // hop
    if count == 0:
        return np.zeros(0, np.float32)
    frames = np.asarray(samples[: count * hop], dtype=np.float64).reshape(count, hop)
    power = np.mean(frames**2, axis=1)
    return np.asarray(np.maximum(10.0 * np.log10(power + 1e-12), FLOOR_DB), dtype=np.float32)
