"""Streaming resampling: the same signal as resampling the whole, frame by frame, without bursts."""

from __future__ import annotations

import numpy as np
import pytest

from cascade.audio import StreamResampler, resample


@pytest.mark.parametrize(
    ("from_rate", "to_rate"),
    [(8000, 16000), (16000, 8000), (48000, 16000), (16000, 48000), (22050, 16000), (16000, 22050)],
)
def test_streamed_frames_match_the_whole_signal_and_come_out_at_once(from_rate: int, to_rate: int) -> None:
    rng = np.random.default_rng(0)
    t = np.arange(from_rate) / from_rate
    signal = (np.sin(2 * np.pi * 440 * t) * 8000 + rng.standard_normal(len(t)) * 500).astype(np.int16)
    resampler = StreamResampler(from_rate, to_rate)
    step = from_rate // 50  # 20 ms frames, as transports and stages feed it
    pieces = [
        np.frombuffer(resampler(signal[i : i + step].tobytes()), dtype="<i2") for i in range(0, len(t), step)
    ]
    pieces.append(np.frombuffer(resampler(b"", last=True), dtype="<i2"))
    streamed = np.concatenate(pieces)
    whole = resample(signal, from_rate, to_rate)
    assert len(streamed) == len(whole)
    assert np.max(np.abs(streamed.astype(int) - whole.astype(int))) <= 1
    # every frame's output comes out with that frame (soxr's stream held ~100 ms, then burst)
    per_frame = to_rate // 50
    assert [len(p) for p in pieces[1:-2]] == [per_frame] * (len(pieces) - 3)
    lookahead = round(StreamResampler.LOOKAHEAD * to_rate)
    assert abs(len(pieces[0]) - (per_frame - lookahead)) <= 1  # the resampler's only delay


def test_same_rate_passes_through() -> None:
    pcm = np.arange(320, dtype="<i2").tobytes()
    assert StreamResampler(16000, 16000)(pcm) == pcm
