"""WhisperASR schedules its decodes by the VAD's speech probabilities (virtual time, fake decodes)."""

from __future__ import annotations

import numpy as np
import pytest

from cascade.asr import Hypothesis, WhisperASR, WhisperEngine
from cascade.audio import load_audio
from cascade.clock import VirtualClock
from cascade.frames import SpeechProbabilities, SpeechStopped, UserAudioFrame
from cascade.testing import run_stages
from cascade.vad import SileroVAD, VADOptions
from tests.asr.speech import SHORT, speech


class InstantEngine(WhisperEngine):
    """Decodes nothing at no cost; records the session time of every decode."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__()
        self.clock = clock
        self.decoded_at: list[float] = []

    async def load(self) -> None:
        """Nothing to load."""

    async def decode(
        self, audio: np.ndarray, *, offset: float = 0.0, prompt: str | None = None, limiter: object = None
    ) -> Hypothesis:
        """An empty hypothesis of ``audio``."""
        self.decoded_at.append(self.clock.now())
        return Hypothesis(
            words=(), confidence=0.0, language="en", audio_end=offset + len(audio) / 16000, seconds=0.0
        )


@pytest.mark.anyio
async def test_final_decode_starts_at_the_pause_and_probabilities_stop_here() -> None:
    rate = 16000
    audio = np.concatenate(
        [np.zeros(rate // 2, np.int16), load_audio(speech(SHORT), rate), np.zeros(rate, np.int16)]
    )
    frames = [
        UserAudioFrame(pts=i / rate, pcm=audio[i : i + 320].tobytes(), sample_rate=rate)
        for i in range(0, len(audio) - 319, 320)
    ]
    clock = VirtualClock()
    engine = InstantEngine(clock)
    asr = WhisperASR(engine=engine)
    vad = VADOptions(min_silence=0.5)
    result = await run_stages([SileroVAD(vad), asr], frames, tail=0.5, clock=clock)

    stops = [f for f in result.frames if isinstance(f, SpeechStopped)]
    assert len(stops) == 1
    # the speculative final decode starts once the VAD's probabilities show speculation_silence of
    # quiet, well before the VAD confirms the stop min_silence after the speech end
    early = [t for t in engine.decoded_at if stops[0].pts < t < stops[0].pts + vad.min_silence]
    assert early and early[0] <= stops[0].pts + asr.streaming.speculation_silence + 0.04
    assert asr.stats.speculative_finals == 1
    assert not [f for f in result.frames if isinstance(f, SpeechProbabilities)]
