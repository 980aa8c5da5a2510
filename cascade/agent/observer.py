"""HookStage: the observer at the end of a pipeline that feeds the agent's hooks.

It passes every frame on untouched and turns what it sees into hook events
(:mod:`cascade.agent.hooks`): the caller's turns (``EndOfTurn``; a preemptive one once it is
confirmed -- its reply starts playing, the next turn comes or the session ends -- and never one the
turn-taker took back), tool calls (``ToolCallRequest`` + ``ToolCallResult``), what the caller heard
(``BotSpeechEnded`` on the priority lane) and finished turn timelines (the session's metrics).

The callbacks run in a task this stage owns, fed by a bounded queue, so the frames never wait for
them. Once the stage has passed the end of the stream on, the events still queued and the
:class:`~cascade.agent.hooks.SessionEnded` get ``drain_timeout`` seconds each (real time); a
session that fails or is cancelled still gets its ``SessionEnded`` (with ``error``), within the
same bound. What happens after this stage's end of stream (a reply still playing out when the
caller's input ended) is not reported.

>>> import anyio
>>> from cascade.agent.hooks import AgentHooks, SessionEnded, UserSpoke
>>> from cascade.frames import EndOfTurn
>>> from cascade.testing import run_stages
>>> hooks = AgentHooks()
>>> seen = []
>>> @hooks.on(UserSpoke)
... async def heard(event: UserSpoke) -> None:
...     seen.append(event.text)
>>> @hooks.on(SessionEnded)
... async def ended(event: SessionEnded) -> None:
...     seen.append([line.text for line in event.transcript])
>>> result = anyio.run(run_stages, [HookStage(hooks)], [EndOfTurn(pts=1.0, text="Hello?")])
>>> seen
['Hello?', ['Hello?']]
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from cascade.agent.hooks import (
    AgentEvent,
    AgentHooks,
    BotSpoke,
    SessionEnded,
    ToolCalled,
    TranscriptLine,
    TurnEnded,
    UserSpoke,
)
from cascade.channel import FrameReceive, FrameSend
from cascade.frames import (
    BotSpeechEnded,
    BotSpeechStarted,
    EndOfTurn,
    Frame,
    Interrupt,
    LLMResponseStarted,
    ToolCallRequest,
    ToolCallResult,
)
from cascade.metrics import TurnTimeline
from cascade.session import SessionContext
from cascade.stage import Stage

log = logging.getLogger("cascade.agent.hooks")


class _Turn:
    """A preemptive turn waiting to be confirmed, and the reply that answers it."""

    def __init__(self, frame: EndOfTurn) -> None:
        self.frame = frame
        self.response_id: str | None = None


class HookStage(Stage):
    """Feeds ``hooks`` with one session's events (``userdata``: what ``SessionEnded`` carries)."""

    inputs = (EndOfTurn, LLMResponseStarted, ToolCallRequest, ToolCallResult)
    events = (BotSpeechStarted, BotSpeechEnded)

    def __init__(self, hooks: AgentHooks, *, userdata: Any = None, name: str | None = None) -> None:
        super().__init__(name=name or "AgentHooks")
        self.hooks = hooks
        self.userdata = userdata
        self._reset()

    def _reset(self) -> None:
        self._session: SessionContext | None = None
        self._send: MemoryObjectSendStream[AgentEvent] | None = None
        self._drained = anyio.Event()
        self._failures: dict[int, int] = {}
        self._dropped = 0
        self._pending: _Turn | None = None
        self._arguments: dict[str, dict[str, Any]] = {}
        self.transcript: list[TranscriptLine] = []
        """The session's transcript so far."""
        self.tool_calls: list[ToolCalled] = []

    # --- the session around the stage ------------------------------------------------------------

    async def _run(self, ctx: SessionContext, inbox: FrameReceive, outbox: FrameSend) -> None:
        self._reset()
        self._session = ctx
        send, receive = anyio.create_memory_object_stream[AgentEvent](self.hooks.max_pending)
        self._send = send
        unsubscribe = ctx.metrics.subscribe(self._on_turn)
        error: str | None = None
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._deliver, receive)
                try:
                    await super()._run(ctx, inbox, outbox)
                except BaseException as exc:
                    cancelled = isinstance(exc, anyio.get_cancelled_exc_class())
                    error = "the session was cancelled" if cancelled else repr(exc)
                    tg.cancel_scope.cancel()  # the events still queued are dropped
                    raise
                finally:
                    unsubscribe()
                    send.close()
                if not await self._within(self._drained.wait):
                    log.warning(
                        "session %s: hooks still busy %.1fs after the session ended; the events "
                        "left are dropped",
                        ctx.info.session_id,
                        self.hooks.drain_timeout,
                    )
                tg.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await self._end(ctx, error)

    async def _end(self, ctx: SessionContext, error: str | None) -> None:
        ended = SessionEnded(
            session=ctx.info,
            time=ctx.clock.now(),
            transcript=tuple(self.transcript),
            tool_calls=tuple(self.tool_calls),
            timelines=tuple(t.model_copy() for t in ctx.metrics.timelines),
            userdata=self.userdata,
            error=error,
        )
        if not await self._within(lambda: self.hooks.dispatch(ended, self._failures)):
            log.warning("session %s: the SessionEnded hooks did not finish in time", ctx.info.session_id)
        failed = sum(self._failures.values())
        if failed > 1:
            log.warning("session %s: hooks failed %d times in all", ctx.info.session_id, failed)
        if self._dropped:
            log.warning(
                "session %s: %d hook events were dropped (the hooks fell behind by more than %d)",
                ctx.info.session_id,
                self._dropped,
                self.hooks.max_pending,
            )

    async def _within(self, work: Callable[[], Awaitable[Any]]) -> bool:
        """Run ``work`` for at most ``drain_timeout`` seconds; whether it finished.

        Real seconds, not the session clock's: the callbacks wait on the outside world (a
        database, a web hook), which virtual time in tests does not move.
        """
        with anyio.move_on_after(self.hooks.drain_timeout) as scope:
            await work()
        return not scope.cancelled_caught

    async def _deliver(self, receive: MemoryObjectReceiveStream[AgentEvent]) -> None:
        with receive:
            async for event in receive:
                await self.hooks.dispatch(event, self._failures)
        self._drained.set()

    def _publish(self, event: AgentEvent) -> None:
        """Queue ``event`` for the callbacks, never waiting: dropped when they are too far behind."""
        if self._send is None or not self.hooks.wants(type(event)):
            return
        try:
            self._send.send_nowait(event)
        except anyio.WouldBlock:
            self._dropped += 1
            if self._dropped == 1:
                log.warning(
                    "session %s: the hooks are %d events behind; new events are dropped until they catch up",
                    event.session.session_id,
                    self.hooks.max_pending,
                )
        except anyio.ClosedResourceError:
            pass  # the session is over

    # --- frames and events -----------------------------------------------------------------------

    async def process(self, frame: Frame) -> None:
        """Note the turn or tool call, then pass the frame on."""
        if isinstance(frame, EndOfTurn):
            self._confirm()
            if frame.preemptive:
                self._pending = _Turn(frame)
            else:
                self._user_spoke(frame)
        elif isinstance(frame, LLMResponseStarted):
            pending = self._pending
            if pending is not None and pending.response_id is None:
                pending.response_id = frame.response_id
        elif isinstance(frame, ToolCallRequest):
            self._arguments[frame.call_id] = dict(frame.arguments)
        elif isinstance(frame, ToolCallResult):
            called = ToolCalled(
                session=self.ctx.info,
                time=frame.pts,
                call_id=frame.call_id,
                name=frame.name,
                arguments=self._arguments.pop(frame.call_id, {}),
                result=frame.result,
                is_error=frame.is_error,
            )
            self.tool_calls.append(called)
            self._publish(called)
        await self.emit(frame)

    async def on_event(self, frame: Frame) -> None:
        """A reply started playing (confirming its preemptive turn) or ended: what was heard."""
        if isinstance(frame, BotSpeechStarted):
            if self._pending is not None and self._pending.response_id == frame.response_id:
                self._confirm()
        elif isinstance(frame, BotSpeechEnded):
            if frame.heard_text:
                line = TranscriptLine("assistant", frame.heard_text, frame.pts, frame.interrupted)
                self.transcript.append(line)
            self._publish(
                BotSpoke(
                    session=self.ctx.info,
                    time=frame.pts,
                    response_id=frame.response_id,
                    text=frame.heard_text,
                    interrupted=frame.interrupted,
                    unheard_text=frame.unheard_text,
                )
            )

    async def on_interrupt(self, frame: Interrupt) -> None:
        """A preemptive turn the turn-taker took back was never the caller's turn."""
        if frame.discards_preemptive:
            self._pending = None

    async def finish(self) -> None:
        """A preemptive turn still waiting stands."""
        self._confirm()

    def _confirm(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            self._user_spoke(pending.frame)

    def _user_spoke(self, frame: EndOfTurn) -> None:
        if not frame.text.strip():
            return
        self.transcript.append(TranscriptLine("user", frame.text, frame.pts))
        self._publish(UserSpoke(session=self.ctx.info, time=frame.pts, text=frame.text))

    def _on_turn(self, timeline: TurnTimeline) -> None:
        """A finished turn timeline (called synchronously by the metrics collector)."""
        ctx = self._session
        if ctx is not None:
            self._publish(TurnEnded(session=ctx.info, time=ctx.clock.now(), timeline=timeline.model_copy()))
