"""Frame builders shared by the core tests."""

from __future__ import annotations

import numpy as np

from cascade.frames import UserAudioFrame

FRAME = 0.02
RATE = 16000


def audio(pts: float, loud: bool = False) -> UserAudioFrame:
    """One 20 ms caller frame: a 300 Hz tone when ``loud``, else silence."""
    n = int(RATE * FRAME)
    if loud:
        t = np.arange(n) / RATE
        samples = (0.5 * 32767 * np.sin(2 * np.pi * 300 * t)).astype(np.int16)
    else:
        samples = np.zeros(n, np.int16)
    return UserAudioFrame(pts=pts, pcm=samples.tobytes(), sample_rate=RATE)


def speech(start: float, end: float, total: float) -> list[UserAudioFrame]:
    """``total`` seconds of caller audio, loud between ``start`` and ``end``."""
    count = round(total / FRAME)
    return [audio(i * FRAME, start <= i * FRAME < end) for i in range(count)]
