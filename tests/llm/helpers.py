"""Helpers for the LLM tests: turns as frames, and a real-time runner for network timing."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import anyio

from cascade.clock import RealClock
from cascade.frames import EndOfTurn, Frame, Interrupt
from cascade.pipeline import run_session
from cascade.session import SessionContext
from cascade.stage import Stage
from cascade.testing import ListSource, RunResult, assert_no_leaked_tasks


def turns(*texts: str, every: float = 10.0) -> list[EndOfTurn]:
    """One EndOfTurn per text, ``every`` seconds apart (starting at 0.1 s)."""
    return [EndOfTurn(pts=0.1 + i * every, text=text) for i, text in enumerate(texts)]


class _Events(Stage):
    events = (Frame,)

    def __init__(self, result: RunResult) -> None:
        super().__init__(name="Events")
        self.result = result

    async def on_event(self, frame: Frame) -> None:
        self.result.events.append(frame)

    async def on_interrupt(self, frame: Interrupt) -> None:
        self.result.interrupts.append(frame)


async def run_realtime(
    stages: Sequence[Stage],
    frames: Sequence[Frame],
    *,
    tail: float = 1.0,
    actions: dict[float, Callable[[SessionContext], None]] | None = None,
    limit: float = 30.0,
) -> RunResult:
    """Like :func:`cascade.testing.run_stages`, on the real clock (for real network I/O)."""
    result = RunResult()
    ctx = SessionContext(clock=RealClock())
    result.ctx = ctx
    source = ListSource(frames, tail=tail, actions=actions)

    async def session() -> None:
        with anyio.fail_after(limit):
            await run_session([source, *stages, _Events(result)], ctx, collect=result.frames)

    await assert_no_leaked_tasks(session)
    return result
