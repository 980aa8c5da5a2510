"""Agent hooks: your callbacks on what happens in a session, without writing a stage.

Register a callback for an event type with :meth:`AgentHooks.on` (or ``VoiceAgent.on``); it gets
each event of that type (a subclass of :class:`AgentEvent`; register ``AgentEvent`` itself for
all of them):

* :class:`UserSpoke` -- the caller's text of each turn the agent answers,
* :class:`ToolCalled` -- a tool call's name, arguments and result (or error),
* :class:`TurnEnded` -- a turn's latency timeline (when its reply starts playing),
* :class:`BotSpoke` -- what the caller actually heard of each reply, interrupted or not,
* :class:`SessionEnded` -- the session's transcript, tool calls, timelines and ``userdata``.

>>> import anyio
>>> from cascade.agent.hooks import AgentHooks, BotSpoke, UserSpoke
>>> hooks = AgentHooks()
>>> @hooks.on(UserSpoke)
... async def log_caller(event: UserSpoke) -> None:
...     print(f"caller: {event.text}")
>>> @hooks.on(BotSpoke)
... def log_bot(event: BotSpoke) -> None:  # sync callbacks run in a worker thread
...     print(f"bot: {event.text}" + (" (interrupted)" if event.interrupted else ""))
>>> anyio.run(hooks.dispatch, UserSpoke(text="Are you open on Sunday?"))
caller: Are you open on Sunday?

Callbacks run in a task of their own, off the audio path, one event at a time in the order the
events happened (``VoiceAgent.pipeline()`` adds a :class:`~cascade.agent.observer.HookStage` to
each session for them). A callback that raises is logged (once per callback and session) and the
session goes on. A slow callback delays only the events after it: up to ``max_pending`` events
wait; beyond that new events are dropped (a warning says how many). When the session ends, the
events still waiting and the :class:`SessionEnded` get ``drain_timeout`` seconds more.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, overload

import anyio

from cascade.metrics import TurnTimeline
from cascade.session_info import SessionInfo

log = logging.getLogger("cascade.agent.hooks")


@dataclass(frozen=True, kw_only=True)
class AgentEvent:
    """What every hook event carries: the session it happened in and when (session seconds)."""

    session: SessionInfo = field(default_factory=SessionInfo)
    time: float = 0.0


@dataclass(frozen=True, kw_only=True)
class UserSpoke(AgentEvent):
    """The caller's words of one turn, as the agent answers them (ASR final text)."""

    text: str


@dataclass(frozen=True, kw_only=True)
class BotSpoke(AgentEvent):
    """One reply (or greeting, filler, tool's ``say``) as the caller heard it."""

    response_id: str
    text: str
    """The words the caller heard."""
    interrupted: bool = False
    unheard_text: str = ""
    """What an interrupted reply was still going to say."""


@dataclass(frozen=True, kw_only=True)
class ToolCalled(AgentEvent):
    """A tool call and its outcome (``is_error``: rejected, failed, timed out)."""

    call_id: str
    name: str
    arguments: dict[str, Any]
    result: str
    is_error: bool = False


@dataclass(frozen=True, kw_only=True)
class TurnEnded(AgentEvent):
    """A turn's latency timeline is complete (its reply started playing, or the turn ended)."""

    timeline: TurnTimeline

    @property
    def voice_to_voice(self) -> float | None:
        """Caller speech end to first bot audio out, in seconds."""
        return self.timeline.voice_to_voice


@dataclass(frozen=True)
class TranscriptLine:
    """One line of a session's transcript."""

    role: Literal["user", "assistant"]
    text: str
    time: float
    interrupted: bool = False


@dataclass(frozen=True, kw_only=True)
class SessionEnded(AgentEvent):
    """The session is over (``error`` says why when it failed)."""

    transcript: tuple[TranscriptLine, ...] = ()
    """The caller's turns and what they heard of the agent, in order."""
    tool_calls: tuple[ToolCalled, ...] = ()
    timelines: tuple[TurnTimeline, ...] = ()
    userdata: Any = None
    """The session's ``RunContext.userdata``, as the tools left it."""
    error: str | None = None


E = TypeVar("E", bound=AgentEvent)
Hook = Callable[[E], Awaitable[None] | None]
"""A callback: ``async def f(event)`` or a plain ``def f(event)`` (run in a worker thread)."""


class AgentHooks:
    """The callbacks registered for an agent, and how they are run (shared by its sessions).

    Args:
        max_pending: events that may wait for a slow callback before new ones are dropped.
        drain_timeout: seconds the session's last events and :class:`SessionEnded` get once the
            session is over.
    """

    def __init__(self, *, max_pending: int = 256, drain_timeout: float = 5.0) -> None:
        if max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        self.max_pending = max_pending
        self.drain_timeout = drain_timeout
        self._hooks: list[tuple[type[AgentEvent], Hook[Any]]] = []

    @overload
    def on(self, kind: type[E]) -> Callable[[Hook[E]], Hook[E]]: ...

    @overload
    def on(self, kind: type[E], fn: Hook[E]) -> Hook[E]: ...

    def on(self, kind: type[E], fn: Hook[E] | None = None) -> Hook[E] | Callable[[Hook[E]], Hook[E]]:
        """Call ``fn`` with every event of type ``kind`` (as a decorator: ``@hooks.on(UserSpoke)``)."""
        if not (isinstance(kind, type) and issubclass(kind, AgentEvent)):
            raise TypeError(f"hooks are registered for an AgentEvent type (e.g. UserSpoke), not {kind!r}")

        def register(function: Hook[E]) -> Hook[E]:
            if not callable(function):
                raise TypeError(f"a hook must be callable, not {function!r}")
            self._hooks.append((kind, function))
            return function

        return register if fn is None else register(fn)

    def __bool__(self) -> bool:
        return bool(self._hooks)

    def wants(self, kind: type[AgentEvent]) -> bool:
        """Whether some callback takes events of type ``kind``."""
        return any(issubclass(kind, registered) for registered, _ in self._hooks)

    async def dispatch(self, event: AgentEvent, failures: dict[int, int] | None = None) -> None:
        """Call every callback registered for ``event``'s type, in registration order.

        A callback that raises is logged the first time (``failures`` counts them per callback,
        for a session) and the others still run.
        """
        failures = {} if failures is None else failures
        for kind, fn in list(self._hooks):
            if not isinstance(event, kind):
                continue
            try:
                await _call(fn, event)
            except Exception:
                count = failures[id(fn)] = failures.get(id(fn), 0) + 1
                if count == 1:
                    log.exception(
                        "hook %s failed on %s (session %s); further failures of it in this session "
                        "are counted, not logged",
                        _name(fn),
                        type(event).__name__,
                        event.session.session_id,
                    )


async def _call(fn: Hook[Any], event: AgentEvent) -> None:
    if inspect.iscoroutinefunction(fn):
        await fn(event)
        return
    result = await anyio.to_thread.run_sync(fn, event, abandon_on_cancel=True)
    if inspect.isawaitable(result):
        await result


def _name(fn: Any) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)
