"""Run stages on scripted input, in virtual time (or on the real clock); record outputs, events and
interrupts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass, field

import anyio

from cascade.clock import Clock, VirtualClock
from cascade.frames import EndOfStream, Frame, Interrupt
from cascade.metrics import MetricsCollector, TurnTimeline
from cascade.pipeline import check_chain, run_session
from cascade.session import SessionContext
from cascade.session_info import SessionInfo
from cascade.stage import Stage, raise_stage_error
from cascade.transport import Source


class LeakedTasksError(AssertionError):
    """Tasks created during a run were still alive after it ended."""


class ListSource(Source):
    """Emits scripted frames, each when the clock reaches its ``pts``, then waits ``tail`` seconds.

    ``actions`` maps a session time to a callback run at that time (e.g. ``ctx.interrupt``).
    """

    def __init__(
        self,
        frames: Sequence[Frame],
        *,
        tail: float = 5.0,
        actions: dict[float, Callable[[SessionContext], None]] | None = None,
    ) -> None:
        super().__init__(name="ListSource")
        self.frames = list(frames)
        self.tail = tail
        self.actions = sorted((actions or {}).items())
        self.outputs = tuple({type(f) for f in self.frames})

    async def produce(self) -> None:
        """Emit the frames and run the actions on schedule (actions never wait for the frames)."""
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._run_actions)
            for frame in self.frames:
                await self.clock.sleep_until(frame.pts)
                await self.emit(frame)
        last = max([f.pts for f in self.frames] + [a[0] for a in self.actions] + [0.0])
        await self.clock.sleep_until(last + self.tail)

    async def _run_actions(self) -> None:
        for at, action in self.actions:
            await self.clock.sleep_until(at)
            action(self.ctx)


class _Recorder(Stage):
    """Last stage of a test run: records every broadcast event and interrupt."""

    events = (Frame,)

    def __init__(self, result: RunResult) -> None:
        super().__init__(name="Recorder")
        self.result = result

    async def on_event(self, frame: Frame) -> None:
        self.result.events.append(frame)

    async def on_interrupt(self, frame: Interrupt) -> None:
        self.result.interrupts.append(frame)


@dataclass
class RunResult:
    """What came out of a test run."""

    frames: list[Frame] = field(default_factory=list)
    """Frames that left the last stage, in order (ending with EndOfStream)."""
    events: list[Frame] = field(default_factory=list)
    """Broadcast events, in order."""
    interrupts: list[Interrupt] = field(default_factory=list)
    timelines: list[TurnTimeline] = field(default_factory=list)
    ctx: SessionContext | None = None

    def of(self, kind: type[Frame]) -> list[Frame]:
        """Output frames of one type (subclasses included)."""
        return [f for f in self.frames if isinstance(f, kind)]

    def kinds(self, *, skip: tuple[type[Frame], ...] = ()) -> list[str]:
        """Type names of the output frames, optionally skipping some types."""
        return [f.kind for f in self.frames if not isinstance(f, skip)]


async def _all_tasks_blocked() -> None:
    """Return once every other task waits on a future (anyio's version polls every 0.1 s)."""
    me = asyncio.current_task()
    while True:
        await asyncio.sleep(0)
        for task in asyncio.all_tasks():
            waiter = getattr(task, "_fut_waiter", None)
            if task is not me and (waiter is None or waiter.done()):
                break
        else:
            return


@asynccontextmanager
async def autojump(clock: VirtualClock) -> AsyncIterator[None]:
    """Advance ``clock`` to the next sleeper's deadline whenever every task is blocked."""

    async def jumper() -> None:
        while True:
            await _all_tasks_blocked()
            deadline = clock.next_deadline()
            if deadline is None:
                await anyio.sleep(0.001)  # waiting on something outside the clock
            else:
                clock.advance_to(deadline)

    async with anyio.create_task_group() as tg:
        tg.start_soon(jumper)
        try:
            yield
        finally:
            tg.cancel_scope.cancel()


async def run_stages(
    stages: Sequence[Stage],
    frames: Sequence[Frame],
    *,
    tail: float = 5.0,
    actions: dict[float, Callable[[SessionContext], None]] | None = None,
    clock: Clock | None = None,
    queue_size: int = 64,
    info: SessionInfo | None = None,
) -> RunResult:
    """Run ``stages`` on ``frames`` and return everything that came out.

    Frames are delivered when the clock reaches their ``pts``; ``tail`` seconds follow the last
    one so timers can fire. The clock is virtual unless given: a
    :class:`~cascade.clock.VirtualClock` jumps ahead whenever every task waits, any other clock
    (a :class:`~cascade.clock.RealClock`, for stages doing real network I/O) runs at its own pace.
    ``info`` describes the session (as a transport would: caller, call actions). Fails with
    :class:`LeakedTasksError` if any task outlives the run.
    """
    clock = clock or VirtualClock()
    result = RunResult()
    ctx = SessionContext(clock=clock, metrics=MetricsCollector(), info=info)
    ctx.metrics.subscribe(result.timelines.append)
    result.ctx = ctx
    source = ListSource(frames, tail=tail, actions=actions)
    check_chain(stages, source.outputs, source=source.name)
    jumping: AbstractAsyncContextManager[None] = (
        autojump(clock) if isinstance(clock, VirtualClock) else nullcontext()
    )

    async def session() -> None:
        try:
            async with jumping:
                chain = [source, *stages, _Recorder(result)]
                await run_session(chain, ctx, queue_size=queue_size, collect=result.frames)
        except BaseExceptionGroup as group:
            raise_stage_error(group)
            raise

    await assert_no_leaked_tasks(session)
    if ctx.stage_names():
        raise LeakedTasksError(f"stages still registered after the run: {ctx.stage_names()}")
    if not result.frames or not isinstance(result.frames[-1], EndOfStream):
        raise AssertionError("the run did not end with EndOfStream")
    return result


async def assert_no_leaked_tasks(fn: Callable[[], Awaitable[object]]) -> None:
    """Run ``fn`` and fail if it leaves tasks running behind it."""
    before = set(asyncio.all_tasks())
    await fn()
    await anyio.lowlevel.checkpoint()
    leaked = [t for t in asyncio.all_tasks() - before if not t.done()]
    if leaked:
        raise LeakedTasksError(f"{len(leaked)} task(s) outlived the run: {leaked}")
