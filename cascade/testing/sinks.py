"""A transport sink for tests: plays bot audio on the session clock and records what went out."""

from __future__ import annotations

from cascade.transports.playout import PlayoutSink


class PacedSink(PlayoutSink):
    """Drains the playout ``frame_ms`` at a time on the session clock, like a real transport.

    ``played`` holds ``(session time, pcm)`` of every chunk that went out; ``played_at`` its times;
    ``ducked_at`` the times of those played lowered by a soft hold.
    """

    def __init__(self, sample_rate: int = 16000, frame_ms: int = 20) -> None:
        super().__init__(sample_rate, name="PacedSink")
        self.tick = frame_ms / 1000
        self.samples_per_tick = sample_rate * frame_ms // 1000
        self.played: list[tuple[float, bytes]] = []
        self.ducked_at: list[float] = []

    @property
    def played_at(self) -> list[float]:
        """Session times at which bot audio went out."""
        return [t for t, _ in self.played]

    async def start(self) -> None:
        """Start the output clock."""
        self.spawn(self._tick, service=True)

    async def _tick(self) -> None:
        while True:
            await self.clock.sleep(self.tick)
            chunk = self.playout.read(self.samples_per_tick)
            if chunk is not None:
                self.played.append((self.clock.now(), chunk))
                if self.playout.gain < 1.0:
                    self.ducked_at.append(self.clock.now())
