"""Running the tool calls of one reply: checked, run in parallel, bounded in time, talked over.

A :class:`ToolRunner` belongs to one reply. Each round of calls the model makes is announced
(:class:`~cascade.frames.ToolCallRequest`), checked (an unknown tool or bad arguments go back to
the model as an error it can correct), run in parallel under each tool's timeout on the session
clock, and answered (:class:`~cascade.frames.ToolCallResult`, and the result in the conversation).
When the tools take long a filler is spoken once (unless a tool spoke for itself through its
:class:`~cascade.llm.run_context.RunContext`). A barge-in cancels the calls that may be cancelled;
:meth:`ToolRunner.settle` then records what the interrupted round left.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import anyio
from pydantic import BaseModel

from cascade.clock import Clock
from cascade.frames import Frame, TextToSpeak, ToolCallRequest, ToolCallResult
from cascade.llm.context import Conversation, Turn
from cascade.llm.options import ChatLLMOptions
from cascade.llm.run_context import RunContext
from cascade.llm.tools import (
    Tool,
    ToolArgumentsError,
    ToolCall,
    ToolOutcome,
    loads_arguments,
    with_clock_timeout,
)
from cascade.session_info import SessionInfo
from cascade.stage import first_error

log = logging.getLogger("cascade.llm")
F = TypeVar("F", bound=Frame)

_CANCELLED = "Cancelled: the caller interrupted before this finished."


class ToolRunner:
    """The tool calls of one reply (readable after cancellation).

    ``emit`` sends frames downstream; results join ``turn`` in ``conversation``. Tools that take a
    :class:`~cascade.llm.run_context.RunContext` get one with the session's ``info`` and
    ``userdata``.
    """

    def __init__(
        self,
        tools: Mapping[str, Tool],
        options: ChatLLMOptions,
        *,
        clock: Clock,
        emit: Callable[[Frame], Awaitable[None]],
        conversation: Conversation,
        turn: Turn,
        response_id: str,
        generation: int,
        info: SessionInfo | None = None,
        userdata: Any = None,
    ) -> None:
        self.tools = tools
        self.options = options
        self.clock = clock
        self.emit = emit
        self.conversation = conversation
        self.turn = turn
        self.response_id = response_id
        self.generation = generation
        self.info = info or SessionInfo()
        self.userdata: Any = {} if userdata is None else userdata
        self.seen: set[tuple[str, str]] = set()
        """Every call this reply made, by :attr:`ToolCall.key`."""
        self.pending: list[ToolCall] = []
        """The round being run (its results are not in the conversation yet)."""
        self.outcomes: dict[str, ToolOutcome] = {}
        self.filler_said = False
        self.running = 0
        self._said = 0

    def _frame(self, kind: type[F], **fields: Any) -> F:
        """A frame of this reply, now."""
        return kind(pts=self.clock.now(), generation=self.generation, **fields)

    def repeats_any(self, calls: list[ToolCall]) -> bool:
        """Whether one of ``calls`` was made before in this reply."""
        return any(call.key in self.seen for call in calls)

    async def run(self, calls: list[ToolCall]) -> None:
        """Check and run one round of calls in parallel; results go back into the conversation."""
        self.pending = list(calls)
        runnable: list[tuple[ToolCall, Tool, BaseModel]] = []
        for call in calls:
            arguments = loads_arguments(call.arguments)
            await self.emit(
                self._frame(
                    ToolCallRequest,
                    call_id=call.id,
                    name=call.name,
                    arguments=arguments if isinstance(arguments, dict) else {},
                )
            )
            rejection = self._check(call)
            if rejection is not None:
                log.warning("LLM reply %s: tool call %s rejected: %s", self.response_id, call.name, rejection)
                self.outcomes[call.id] = ToolOutcome(call, rejection, is_error=True)
                continue
            tool = self.tools[call.name]
            try:
                args = tool.parse(call.arguments)
            except ToolArgumentsError as exc:
                log.warning("LLM reply %s: invalid arguments for %s: %s", self.response_id, call.name, exc)
                message = (
                    f"Invalid arguments for '{call.name}': {exc}. Call it again with corrected arguments."
                )
                self.outcomes[call.id] = ToolOutcome(call, message, is_error=True)
                continue
            runnable.append((call, tool, args))
        if runnable:
            async with anyio.create_task_group() as waiting:
                if self.options.filler_after is not None and not self.filler_said:
                    filler = (
                        next((t.filler for _, t, _ in runnable if t.filler), None) or self.options.filler_text
                    )
                    waiting.start_soon(self._filler, filler)
                async with anyio.create_task_group() as tg:
                    self.running = len(runnable)
                    for call, tool, args in runnable:
                        tg.start_soon(self._run_one, call, tool, args)
                waiting.cancel_scope.cancel()  # the tools are done: no filler is due any more
        for call in calls:
            outcome = self.outcomes[call.id]
            self.conversation.add_tool_result(self.turn, call.id, outcome.result)
            await self.emit(
                self._frame(
                    ToolCallResult,
                    call_id=call.id,
                    name=call.name,
                    result=outcome.result,
                    is_error=outcome.is_error,
                )
            )
        self.pending = []

    def settle(self) -> None:
        """Record the results of a round an interrupt cut off (synchronously: runs under
        cancellation); a call that did not finish is recorded as cancelled."""
        for call in self.pending:
            outcome = self.outcomes.get(call.id)
            self.conversation.add_tool_result(self.turn, call.id, outcome.result if outcome else _CANCELLED)
        self.pending = []

    def _check(self, call: ToolCall) -> str | None:
        """Why a call must not run (a tool that was not offered), or None."""
        self.seen.add(call.key)
        if call.name not in self.tools:
            return (
                f"There is no tool named '{call.name}'. Available tools: {', '.join(self.tools)}. "
                "If none fits, answer the caller in words."
            )
        return None

    def context(self, call: ToolCall) -> RunContext[Any]:
        """The session's context for one call (its ``say`` speaks as part of this reply)."""
        return RunContext(info=self.info, userdata=self.userdata, say=self._say, call_id=call.id)

    async def _say(self, text: str) -> None:
        """A tool speaks: its words join this reply (and no filler is due any more)."""
        self.filler_said = True
        self._said += 1
        await self.emit(
            self._frame(TextToSpeak, text=text, response_id=f"{self.response_id}-say-{self._said}")
        )

    async def _run_one(self, call: ToolCall, tool: Tool, args: BaseModel) -> None:
        context = self.context(call) if tool.takes_context else None

        async def work() -> str:
            return await tool.invoke(args, context)

        try:
            if tool.cancellable:
                result = await with_clock_timeout(self.clock.sleep, tool.timeout, work)
            else:
                # Side effects must not be cut by a barge-in: finish, and keep the result.
                with anyio.CancelScope(shield=True):
                    result = await with_clock_timeout(self.clock.sleep, tool.timeout, work)
            if result is None:
                log.warning(
                    "LLM reply %s: tool %s timed out after %.1fs", self.response_id, call.name, tool.timeout
                )
                outcome = ToolOutcome(
                    call, f"'{call.name}' timed out after {tool.timeout:g} s.", is_error=True
                )
            else:
                outcome = ToolOutcome(call, result)
        except Exception as group:
            exc = first_error(group)  # the tool's own error, not the timeout's task group around it
            log.warning("LLM reply %s: tool %s failed: %r", self.response_id, call.name, exc)
            outcome = ToolOutcome(call, f"'{call.name}' failed: {exc}", is_error=True)
        self.outcomes[call.id] = outcome
        self.running -= 1

    async def _filler(self, text: str) -> None:
        """Say ``text`` if the tools still run after ``filler_after`` (cancelled when they end)."""
        assert self.options.filler_after is not None
        await self.clock.sleep(self.options.filler_after)
        if self.running > 0 and not self.filler_said:
            self.filler_said = True
            await self.emit(
                self._frame(
                    TextToSpeak,
                    text=text,
                    response_id=f"{self.response_id}-filler",
                )
            )
