"""Stages: small async workers with declared input and output frame types.

A stage reads frames from its inbox and writes frames to its outbox; it never reaches into another
stage. Subclasses declare what they handle and override a few hooks; the test kit runs one alone
on a list of frames, in virtual time:

>>> import anyio
>>> from cascade.frames import FinalTranscript, Frame
>>> from cascade.testing import run_stages
>>> class Upper(Stage):
...     inputs = (FinalTranscript,)
...     outputs = (FinalTranscript,)
...
...     async def process(self, frame: Frame) -> None:
...         assert isinstance(frame, FinalTranscript)
...         await self.emit(frame.model_copy(update={"text": frame.text.upper()}))
>>> result = anyio.run(run_stages, [Upper()], [FinalTranscript(pts=0.5, text="hi")])
>>> [frame.text for frame in result.of(FinalTranscript)]
['HI']

Frames of types not in ``inputs`` pass through unchanged. A stage forwards the frames it handles
but does not transform away (caller audio, VAD events, transcripts, ``EndOfTurn``,
``LLMResponseEnded``) so later stages and the transport see them too; new frames carry the
generation of the frame that caused them. Interrupts and broadcast events arrive on a separate
priority lane (:meth:`on_interrupt`, :meth:`on_event`).
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ClassVar, TypeVar

import anyio
from anyio.abc import TaskGroup

from cascade.channel import FrameReceive, FrameSend, create_channel
from cascade.clock import Clock
from cascade.frames import EndOfStream, Frame, Interrupt
from cascade.session import SessionContext

T = TypeVar("T")
F = TypeVar("F", bound=Frame)
FrameTypes = tuple[type[Frame], ...]

log = logging.getLogger("cascade.stage")


class StageError(RuntimeError):
    """A stage failed; the pipeline ended. ``stage`` names it, ``__cause__`` is the original error."""

    def __init__(self, stage: str, error: BaseException) -> None:
        super().__init__(f"stage '{stage}' failed: {type(error).__name__}: {error}")
        self.stage = stage


class Stage:
    """Base class of pipeline stages. See the module docstring."""

    inputs: FrameTypes = ()
    """Frame types this stage handles (the rest pass through)."""
    requires: FrameTypes = ()
    """Input types that must be produced upstream (checked when the pipeline is built)."""
    outputs: FrameTypes = ()
    """Frame types this stage may emit."""
    events: FrameTypes = ()
    """Broadcast event types delivered to :meth:`on_event`."""
    interruptible: ClassVar[bool] = False
    """True for stages producing the bot's reply: an interrupt cancels their stale work."""

    def __init__(self, *, name: str | None = None) -> None:
        self.name = name or type(self).__name__
        self._runtime: StageRuntime | None = None

    # --- hooks -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Called once before the first frame (load models, open connections)."""

    async def process(self, frame: Frame) -> None:
        """Handle one frame of a type in :attr:`inputs`. Emit results with :meth:`emit`.

        The default forwards the frame unchanged (for stages that only observe).
        """
        await self.emit(frame)

    async def on_event(self, frame: Frame) -> None:
        """Handle a broadcast event of a type in :attr:`events` (priority lane)."""

    async def on_interrupt(self, frame: Interrupt) -> None:
        """Called after stale work was cancelled (priority lane): reset per-reply state here."""

    async def finish(self) -> None:
        """End of stream: emit whatever is still held. Spawned work is awaited after this."""

    async def close(self) -> None:
        """Always called last, also after errors and cancellation: release resources."""

    # --- API for subclasses ------------------------------------------------------------------

    @property
    def ctx(self) -> SessionContext:
        """The running session (only valid while the pipeline runs)."""
        if self._runtime is None:
            raise RuntimeError(f"stage '{self.name}' is not running")
        return self._runtime.ctx

    @property
    def clock(self) -> Clock:
        """The session clock."""
        return self.ctx.clock

    @property
    def generation(self) -> int:
        """The session's current interruption generation."""
        return self.ctx.generation

    def frame(self, kind: type[F], **fields: Any) -> F:
        """A new ``kind`` frame of now: ``pts`` is the session clock's time and ``generation`` the
        session's current one, unless ``fields`` give them (a reply keeps the generation of the
        turn it answers)."""
        return self.ctx.frame(kind, **fields)

    def emit(self, frame: Frame) -> Awaitable[None]:
        """Send a frame downstream: ``await self.emit(frame)`` (stale droppable frames are dropped
        here)."""
        # not ``async def``: the channel's send is returned to be awaited, one coroutine less on
        # the hot path of every stage
        runtime = self._runtime
        if runtime is None:
            raise RuntimeError(f"stage '{self.name}' is not running")
        if frame.droppable and frame.generation < runtime.ctx.generation:
            return anyio.lowlevel.checkpoint()  # stale work gets its cancellation here
        return runtime.outbox.send(frame)

    def broadcast(self, frame: Frame) -> None:
        """Send an event to every stage listening for its type (priority lane)."""
        self.ctx.broadcast(frame)

    def interrupt(self, reason: str = "") -> Interrupt:
        """Start a new generation in the whole session (barge-in)."""
        return self.ctx.interrupt(reason)

    def spawn(
        self,
        fn: Callable[..., Awaitable[Any]],
        *args: Any,
        generation: int | None = None,
        service: bool = False,
    ) -> None:
        """Run ``fn(*args)`` concurrently, owned by this stage (awaited at end of stream).

        In an interruptible stage it is cancelled when an interrupt makes ``generation`` (default:
        the current one) stale. A ``service`` task (an output clock, a reader) is never
        interrupted; it is cancelled after :meth:`finish` instead of awaited.
        """
        runtime = self._runtime
        if runtime is None:
            raise RuntimeError(f"stage '{self.name}' is not running")
        gen = runtime.ctx.generation if generation is None else generation
        if service:
            gen = sys.maxsize
        runtime.spawn(fn, args, gen)

    @staticmethod
    def uninterruptible() -> anyio.CancelScope:
        """``with self.uninterruptible():`` protects work that must finish (side effects)."""
        return anyio.CancelScope(shield=True)

    def _run(self, ctx: SessionContext, inbox: FrameReceive, outbox: FrameSend) -> Coroutine[Any, Any, None]:
        """Run this stage between ``inbox`` and ``outbox`` until end of stream (a coroutine)."""
        # returned, not awaited here: every frame's wake-up passes through each awaiting
        # coroutine of the stage's task, so the chain is kept short
        return StageRuntime(self, ctx, outbox).run(inbox)


class StageRuntime:
    """The machinery around one running leaf stage: data loop, priority lane, work scopes."""

    def __init__(self, stage: Stage, ctx: SessionContext, outbox: FrameSend) -> None:
        self.stage = stage
        self.ctx = ctx
        self.outbox = outbox
        # The priority lane's queue and the task serving it exist only for a stage with hooks to
        # run there: a stage that keeps the default no-op hooks (a pass-through, an observer) gets
        # its stale work cancelled all the same, and costs an idle session no task.
        self._control: FrameSend | None = None
        self._control_receive: FrameReceive | None = None
        if stage.events or type(stage).on_interrupt is not Stage.on_interrupt:
            self._control, self._control_receive = create_channel(math.inf)
        self._processing: tuple[anyio.CancelScope, int] | None = None
        """The scope of the frame being processed by an interruptible stage, and its generation."""
        self._work: dict[anyio.CancelScope, int] = {}
        self._idle: anyio.Event | None = None
        """Set when the owned work ends; ``None`` while there is none."""
        self._tg: TaskGroup | None = None

    # called synchronously by SessionContext (priority lane)
    def on_interrupt(self, frame: Interrupt) -> None:
        """Cancel stale interruptible work and queue the interrupt for the stage's hook."""
        if self.stage.interruptible:
            for scope, gen in list(self._work.items()):
                if gen < frame.generation:
                    scope.cancel()
            if self._processing is not None and self._processing[1] < frame.generation:
                self._processing[0].cancel()
        if self._control is not None:
            self._control.send_nowait(frame)

    def deliver(self, frame: Frame) -> None:
        """Queue a broadcast event for the stage's hook."""
        if self._control is not None:
            self._control.send_nowait(frame)

    def spawn(self, fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...], gen: int) -> None:
        """Start owned background work in the stage's task group."""
        if self._tg is None:
            raise RuntimeError(f"stage '{self.stage.name}' is not running")
        scope = anyio.CancelScope()
        self._enter(scope, gen)  # busy from now: an end of stream queued behind waits for it
        self._tg.start_soon(self._guarded, scope, fn, args)

    async def _guarded(
        self, scope: anyio.CancelScope, fn: Callable[..., Awaitable[Any]], args: tuple[Any, ...]
    ) -> None:
        with scope:
            try:
                await fn(*args)
            finally:
                self._leave(scope)

    def _enter(self, scope: anyio.CancelScope, gen: int) -> None:
        if self.stage.interruptible and gen < self.ctx.generation:
            scope.cancel()
        self._work[scope] = gen
        if self._idle is None:  # idle -> busy: a fresh event (waiters of a busy one keep theirs)
            self._idle = anyio.Event()

    def _leave(self, scope: anyio.CancelScope) -> None:
        self._work.pop(scope, None)
        if not self._work and self._idle is not None:
            self._idle.set()
            self._idle = None

    async def _control_loop(self, receive: FrameReceive) -> None:
        stage = self.stage
        async for frame in receive:
            if isinstance(frame, Interrupt):
                await stage.on_interrupt(frame)
            else:
                await stage.on_event(frame)

    async def run(self, inbox: FrameReceive) -> None:
        """Start the stage, pump frames until end of stream, then finish and close."""
        stage, ctx = self.stage, self.ctx
        stage._runtime = self
        ctx.register(self)
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                if self._control_receive is not None:
                    tg.start_soon(self._control_loop, self._control_receive)
                await stage.start()
                with inbox:
                    await self._pump(inbox)
                await stage.finish()
                for scope, gen in list(self._work.items()):
                    if gen == sys.maxsize:
                        scope.cancel()
                if self._idle is not None:
                    await self._idle.wait()
                await self.outbox.send(ctx.frame(EndOfStream))
                tg.cancel_scope.cancel()
        except Exception as exc:
            raise_stage_error(exc)
            error = first_error(exc)
            raise StageError(stage.name, error) from error
        finally:
            ctx.unregister(self)
            if self._control is not None:
                self._control.close()
            self.outbox.close()
            with anyio.CancelScope(shield=True):
                await stage.close()
            stage._runtime = None

    def _pump(self, inbox: FrameReceive) -> Coroutine[Any, Any, None]:
        """Feed the stage from ``inbox`` until end of stream (a coroutine, see :meth:`Stage._run`)."""
        return self._pump_interruptible(inbox) if self.stage.interruptible else self._pump_plain(inbox)

    async def _pump_plain(self, inbox: FrameReceive) -> None:
        stage, ctx, outbox = self.stage, self.ctx, self.outbox
        handled, receive = stage.inputs, inbox.receive
        while True:
            try:
                frame = await receive()  # (not ``async for``: one coroutine less per frame)
            except anyio.EndOfStream:
                return
            if isinstance(frame, EndOfStream):
                return
            if frame.droppable and frame.generation < ctx.generation:
                continue
            if isinstance(frame, handled):
                await stage.process(frame)
            else:
                await outbox.send(frame)

    async def _pump_interruptible(self, inbox: FrameReceive) -> None:
        """Like :meth:`_pump_plain`, with the frames of one generation processed inside one cancel
        scope, which an interrupt cancels while one of them is being processed (a scope per frame
        would cost more than the hop itself). A frame of another generation, or any frame after an
        interrupt, gets a fresh scope; a frame being passed through when the scope is cancelled is
        passed on after it."""
        stage, ctx, outbox = self.stage, self.ctx, self.outbox
        handled = stage.inputs
        pending: Frame | None = None  # received, to be processed in a scope of its generation
        forwarding: Frame | None = None
        while True:
            generation = ctx.generation if pending is None else pending.generation
            with anyio.CancelScope() as scope:
                if generation < ctx.generation:
                    scope.cancel()
                while True:
                    frame, pending = pending, None
                    if frame is None:  # (a pending frame was checked when it was received)
                        try:
                            frame = await inbox.receive()
                        except anyio.EndOfStream:
                            return
                        if isinstance(frame, EndOfStream):
                            return
                        if frame.droppable and frame.generation < ctx.generation:
                            continue
                        if not isinstance(frame, handled):
                            forwarding = frame
                            await outbox.send(frame)
                            forwarding = None
                            continue
                        if frame.generation != generation or generation < ctx.generation:
                            pending = frame  # processed in a scope of its own generation
                            break
                    self._processing = (scope, generation)
                    try:
                        await stage.process(frame)
                    finally:
                        self._processing = None
            if forwarding is not None:
                await outbox.send(forwarding)
                forwarding = None


def first_error(exc: BaseException) -> BaseException:
    """The first real error inside (possibly nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def raise_stage_error(exc: BaseException) -> None:
    """Raise the :class:`StageError` that ended a run, if ``exc`` (or the first error inside its
    exception groups) is one, with its original cause; return otherwise.

    Task groups wrap a failing stage's error at every level they pass it up; callers see the one
    error naming the stage instead.
    """
    error = first_error(exc)
    if isinstance(error, StageError):
        raise error from error.__cause__


async def run_sync_cancellable(
    fn: Callable[..., T], *args: Any, limiter: anyio.CapacityLimiter | None = None
) -> T:
    """Run blocking ``fn`` in a worker thread without stalling the event loop.

    If the caller is cancelled, it stops waiting at once (the thread finishes in the background and
    its result is discarded), so an interrupt never waits for a model call to end.
    """
    return await anyio.to_thread.run_sync(fn, *args, limiter=limiter, abandon_on_cancel=True)
