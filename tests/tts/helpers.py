"""A deterministic test engine for the shared TTS stage logic (virtual time, no model)."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import numpy as np

from cascade.tts.base import TTSOptions, TTSStage


class ToneTTS(TTSStage):
    """Speaks ``seconds_per_char`` of a 24 kHz tone per character, streamed in ``piece`` pieces.

    ``padding`` seconds of silence go before and after each chunk (as real engines add).
    Each piece takes ``delay`` seconds of (virtual) time to "synthesize"; texts containing
    ``fail_on`` raise like a crashing engine. Records what it started, finished and when it was
    cancelled, so tests can check the stage's behaviour rather than the audio.
    """

    def __init__(
        self,
        options: TTSOptions | None = None,
        *,
        seconds_per_char: float = 0.05,
        piece: float = 0.1,
        delay: float = 0.01,
        fail_on: str | None = None,
        whole: bool = False,
        padding: float = 0.0,
    ) -> None:
        super().__init__(options, name="ToneTTS")
        self.seconds_per_char, self.piece, self.delay, self.fail_on = seconds_per_char, piece, delay, fail_on
        self.whole_chunks = whole
        self.padding = padding
        self.started: list[str] = []
        self.finished: list[str] = []
        self.cancelled_at: list[float] = []

    @property
    def source_rate(self) -> int:
        return 24000

    async def synthesize(self, text: str) -> AsyncGenerator[np.ndarray, None]:
        self.started.append(text)
        if self.fail_on and self.fail_on in text:
            raise RuntimeError(f"engine crashed on {self.fail_on!r}")
        total = round(len(text) * self.seconds_per_char * self.source_rate)
        step = total if self.whole_chunks else round(self.piece * self.source_rate)
        t = np.arange(total) / self.source_rate
        tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
        if self.padding:
            silence = np.zeros(round(self.padding * self.source_rate), np.float32)
            tone = np.concatenate([silence, tone, silence])
            total = len(tone)
            step = total if self.whole_chunks else step
        done = False
        try:
            for start in range(0, total, step):
                await self.clock.sleep(self.delay)
                yield tone[start : start + step]
            done = True
            self.finished.append(text)
        finally:
            if not done:
                self.cancelled_at.append(self.clock.now())
