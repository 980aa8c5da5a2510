"""Whisper log-mel features in numpy, as the Smart Turn model was trained on them.

The recipe is Whisper's feature extractor with an 8 s window: 16 kHz mono float audio, the last
8 s kept (zero-padded at the front when shorter), normalized to zero mean and unit variance, then a
log10 mel spectrogram (400-sample periodic Hann frames, hop 160, reflect padding, 80 Slaney mel
bands from 0 to 8 kHz), the last frame dropped, clamped to 8 below its maximum and scaled as
``(x + 4) / 4``. Only numpy is needed.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

SAMPLE_RATE = 16000
"""The rate the features (and Smart Turn) expect."""
WINDOW_SECONDS = 8
"""Length of audio the model looks at, ending now."""
N_FFT = 400
HOP = 160
N_MELS = 80
NUM_FRAMES = WINDOW_SECONDS * SAMPLE_RATE // HOP
"""Feature frames per window (800)."""
_NORM_EPS = 1e-7
_LOG_FLOOR = 1e-10


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney mel scale: linear below 1 kHz, logarithmic above."""
    linear_step = 200.0 / 3.0
    break_hz, break_mel = 1000.0, 1000.0 / linear_step
    log_step = np.log(6.4) / 27.0
    mel = hz / linear_step
    above = hz >= break_hz
    mel[above] = break_mel + np.log(hz[above] / break_hz) / log_step
    return mel


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    linear_step = 200.0 / 3.0
    break_hz, break_mel = 1000.0, 1000.0 / linear_step
    log_step = np.log(6.4) / 27.0
    hz = mel * linear_step
    above = mel >= break_mel
    hz[above] = break_hz * np.exp(log_step * (mel[above] - break_mel))
    return hz


@lru_cache(maxsize=1)
def mel_filterbank() -> np.ndarray:
    """Triangular Slaney-normalized mel filters, shape (N_MELS, N_FFT // 2 + 1)."""
    fft_hz = np.linspace(0.0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    edges_mel = np.linspace(_hz_to_mel(np.array([0.0]))[0], _hz_to_mel(np.array([8000.0]))[0], N_MELS + 2)
    edges_hz = _mel_to_hz(edges_mel)
    widths = np.diff(edges_hz)
    offsets = edges_hz[None, :] - fft_hz[:, None]
    rising = -offsets[:, :-2] / widths[:-1]
    falling = offsets[:, 2:] / widths[1:]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= 2.0 / (edges_hz[2:] - edges_hz[:-2])  # equal area per band (Slaney)
    return np.asarray(weights.T, dtype=np.float64)


@lru_cache(maxsize=1)
def _hann() -> np.ndarray:
    n = np.arange(N_FFT)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * n / N_FFT)  # periodic window


def fit_window(audio: np.ndarray) -> np.ndarray:
    """The last ``WINDOW_SECONDS`` of 16 kHz ``audio`` (float), zero-padded at the front."""
    want = WINDOW_SECONDS * SAMPLE_RATE
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    if len(audio) >= want:
        return audio[-want:]
    return np.concatenate([np.zeros(want - len(audio), np.float32), audio])


def log_mel(audio: np.ndarray) -> np.ndarray:
    """Smart Turn input features for 16 kHz float ``audio``: float32 array (N_MELS, NUM_FRAMES).

    ``audio`` may be any length; the last 8 s are used (see the module docstring).
    """
    x = fit_window(audio).astype(np.float32)
    x = (x - x.mean()) / np.sqrt(x.var() + _NORM_EPS)
    padded = np.pad(x.astype(np.float64), N_FFT // 2, mode="reflect")
    count = 1 + (len(padded) - N_FFT) // HOP
    frames = np.lib.stride_tricks.as_strided(
        padded, shape=(count, N_FFT), strides=(padded.strides[0] * HOP, padded.strides[0])
    )
    power = np.abs(np.fft.rfft(frames * _hann(), axis=1)) ** 2
    mel = mel_filterbank() @ power.T
    logs = np.log10(np.maximum(mel, _LOG_FLOOR))[:, :-1]
    logs = np.maximum(logs, logs.max() - 8.0)
    return np.asarray((logs + 4.0) / 4.0, dtype=np.float32)
