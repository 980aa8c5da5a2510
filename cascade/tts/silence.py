"""The silence around synthesized chunks: cut what the engine adds, put a natural pause instead.

Engines pad every synthesis with silence (hibari: ~0.3 s before and after). A reply spoken in
chunks would then start 0.3 s late and stop ~0.6 s between chunks, mid-sentence too ("He was ...
not a young man"). :class:`SilenceTrimmer` drops a chunk's leading silence and holds its trailing
silence back while the audio streams in; at the chunk's end the pause that fits its last
punctuation follows (the TTS stage picks it by :func:`~cascade.tts.chunker.chunk_ending`): a
sentence end, a clause end, or none at all for a chunk cut inside a clause.
"""

from __future__ import annotations

import numpy as np


class SilenceTrimmer:
    """Streams one chunk's int16 audio with its leading and trailing silence cut.

    ``threshold_db`` (dBFS) tells sound from silence; ``margin`` seconds of silence are kept
    before the first and after the last sound so soft onsets and decays are not clipped.
    """

    def __init__(self, rate: int, *, threshold_db: float = -50.0, margin: float = 0.03) -> None:
        self.rate = rate
        self.threshold = 32768.0 * 10 ** (threshold_db / 20)
        self.margin = round(margin * rate)
        self._started = False
        self._held = np.zeros(0, np.int16)
        """Silence not sent yet: before the first sound, or after the latest one."""

    def push(self, samples: np.ndarray) -> np.ndarray:
        """The part of ``samples`` (int16) that can be sent now."""
        audio = np.concatenate([self._held, samples.astype(np.int16, copy=False)])
        loud = np.flatnonzero(np.abs(audio.astype(np.int32)) > self.threshold)
        if loud.size == 0:
            self._held = audio if self._started else audio[len(audio) - self.margin :]
            return np.zeros(0, np.int16)
        first = 0 if self._started else max(0, int(loud[0]) - self.margin)
        last = int(loud[-1]) + 1
        self._started = True
        self._held = audio[last:]
        return audio[first:last]

    def end(self, pause: float) -> np.ndarray:
        """The chunk's ending: its decay (up to ``margin``) and silence, ``pause`` seconds in all."""
        if not self._started:
            return np.zeros(0, np.int16)  # a chunk without sound stays silent, adds no pause
        total = self.margin + round(pause * self.rate)
        tail = self._held[:total]
        return np.concatenate([tail, np.zeros(total - len(tail), np.int16)])
