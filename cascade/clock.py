"""The session clock: real time in production, virtual time in tests.

All session times are seconds since the clock was created (the session start), so frames' ``pts``,
VAD events and metrics share one timeline.
"""

from __future__ import annotations

import heapq
import itertools
import time
from typing import Protocol

import anyio


class Clock(Protocol):
    """What stages use for time: never ``time.time()`` or ``asyncio.sleep`` directly."""

    def now(self) -> float:
        """Seconds since the session started."""
        ...

    async def sleep_until(self, deadline: float) -> None:
        """Sleep until session time ``deadline`` (returns at once if it has passed)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Sleep for ``seconds`` of session time."""
        ...


class RealClock:
    """Monotonic wall-clock time, zeroed at construction."""

    def __init__(self) -> None:
        self._origin = time.monotonic()
        self.wall_origin = time.time()
        """Epoch seconds at session time 0 (for exporters that need wall time)."""

    def now(self) -> float:
        """Seconds since this clock was created."""
        return time.monotonic() - self._origin

    async def sleep_until(self, deadline: float) -> None:
        """Sleep until session time ``deadline``."""
        await anyio.sleep(max(0.0, deadline - self.now()))

    async def sleep(self, seconds: float) -> None:
        """Sleep for ``seconds``."""
        await anyio.sleep(max(0.0, seconds))


class VirtualClock:
    """Manually advanced time for deterministic tests.

    Sleepers wake when :meth:`advance_to` passes their deadline. :func:`cascade.testing.autojump`
    advances it to the next deadline whenever every task is blocked, so timeouts of seconds run in
    microseconds.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._sleepers: list[tuple[float, int, anyio.Event]] = []
        self._seq = itertools.count()
        self.wall_origin = 0.0

    def now(self) -> float:
        """Current virtual time."""
        return self._now

    async def sleep_until(self, deadline: float) -> None:
        """Block until virtual time reaches ``deadline``."""
        if deadline <= self._now:
            await anyio.lowlevel.checkpoint()
            return
        event = anyio.Event()
        heapq.heappush(self._sleepers, (deadline, next(self._seq), event))
        await event.wait()

    async def sleep(self, seconds: float) -> None:
        """Block for ``seconds`` of virtual time."""
        await self.sleep_until(self._now + max(0.0, seconds))

    def next_deadline(self) -> float | None:
        """The earliest pending sleeper's deadline, if any."""
        while self._sleepers and self._sleepers[0][2].is_set():
            heapq.heappop(self._sleepers)
        return self._sleepers[0][0] if self._sleepers else None

    def advance_to(self, t: float) -> None:
        """Move time forward to ``t`` and wake every sleeper whose deadline passed."""
        self._now = max(self._now, t)
        while self._sleepers and self._sleepers[0][0] <= self._now:
            heapq.heappop(self._sleepers)[2].set()

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``."""
        self.advance_to(self._now + seconds)
