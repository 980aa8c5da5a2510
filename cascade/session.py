"""The per-session context every stage sees: clock, generation, metrics, interrupt, broadcast.

Process-wide :class:`SessionHook` objects (added with :func:`add_session_hook`) hear of every
session :meth:`~cascade.pipeline.Pipeline.run` runs: when it starts, each problem a stage reports
(an :class:`~cascade.frames.ErrorFrame`), and when it ends. Observability
(:mod:`cascade.observability`) uses them to subscribe its turn observers and count sessions and
errors without any stage or transport knowing about it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from cascade.clock import Clock, RealClock
from cascade.frames import ErrorFrame, Frame, Interrupt
from cascade.metrics import MetricsCollector
from cascade.session_info import SessionInfo

log = logging.getLogger("cascade.session")

F = TypeVar("F", bound=Frame)


class _ListeningStage(Protocol):
    """What the session needs of a stage (described here so that ``stage`` imports ``session``,
    never the reverse)."""

    @property
    def name(self) -> str: ...

    @property
    def events(self) -> tuple[type[Frame], ...]: ...


class _Listener(Protocol):
    @property
    def stage(self) -> _ListeningStage: ...

    def on_interrupt(self, frame: Interrupt) -> None: ...

    def deliver(self, frame: Frame) -> None: ...


class SessionHook:
    """Hears of every session the process runs (override what you need; each default does nothing).

    A hook must be quick and must not raise: a failing hook is logged and the session goes on.
    """

    def session_started(self, ctx: SessionContext, stages: Sequence[object]) -> None:
        """A session starts running ``stages`` (its source, the pipeline's stages, its sink)."""

    def stage_error(self, ctx: SessionContext, stage: str, message: str) -> None:
        """Stage ``stage`` reported a problem it survived (it made an ``ErrorFrame``)."""

    def session_ended(self, ctx: SessionContext, error: Exception | None) -> None:
        """The session ended: normally or cancelled (``error`` is ``None``), or failed with ``error``."""

    def error(self, where: str, message: str) -> None:
        """A failure outside any running session (``where``: ``"session"``, ``"prepare"``, ...)."""


_hooks: list[SessionHook] = []


def add_session_hook(hook: SessionHook) -> Callable[[], None]:
    """Let ``hook`` hear of every session started from now on; returns the function removing it."""
    _hooks.append(hook)

    def remove() -> None:
        if hook in _hooks:
            _hooks.remove(hook)

    return remove


def session_hooks() -> tuple[SessionHook, ...]:
    """The hooks added with :func:`add_session_hook`, in order."""
    return tuple(_hooks)


def report_error(where: str, error: BaseException | str) -> None:
    """Tell the hooks of a failure outside a running session (a call whose pipeline could not be
    built: ``"session"``; model preparation: ``"prepare"``)."""
    message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    for hook in session_hooks():
        _call(hook.error, where, message)


def _call(method: Callable[..., None], *args: Any) -> None:
    try:
        method(*args)
    except Exception:  # a hook must never break a session
        log.exception("session hook %r failed", method)


class SessionContext:
    """Shared state of one running session (one call, one conversation).

    The priority lane lives here: :meth:`interrupt` and :meth:`broadcast` reach every stage at once,
    bypassing the data queues, so they are never stuck behind queued audio.
    """

    def __init__(
        self,
        clock: Clock | None = None,
        metrics: MetricsCollector | None = None,
        hooks: Sequence[SessionHook] = (),
        info: SessionInfo | None = None,
    ) -> None:
        """``hooks`` hear of this session (:meth:`~cascade.pipeline.Pipeline.run` passes the
        process's, :func:`session_hooks`); ``info`` says who it is with (from the transport; a
        fresh local id without one)."""
        self.clock: Clock = clock or RealClock()
        self.metrics = metrics or MetricsCollector()
        self.hooks = tuple(hooks)
        self.info = info or SessionInfo()
        self.generation = 0
        """Current interruption generation; bumped by :meth:`interrupt`."""
        self._sticky: dict[type[Frame], Frame] = {}
        self._listeners: list[_Listener] = []

    def register(self, listener: _Listener) -> None:
        """Add a stage runtime to the priority lane (done by the pipeline); it receives the sticky
        events broadcast before it joined."""
        self._listeners.append(listener)
        for frame in self._sticky.values():
            if isinstance(frame, listener.stage.events):
                listener.deliver(frame)

    def unregister(self, listener: _Listener) -> None:
        """Remove a stage runtime from the priority lane (done by the pipeline)."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def frame(self, kind: type[F], **fields: Any) -> F:
        """A new ``kind`` frame of now: ``pts`` is the clock's time and ``generation`` the current
        one, unless ``fields`` give them (a reply keeps the generation of the turn it answers).

        Stages make their :class:`~cascade.frames.ErrorFrame` here, so the hooks hear of it."""
        fields.setdefault("pts", self.clock.now())
        fields.setdefault("generation", self.generation)
        frame = kind(**fields)
        if self.hooks and isinstance(frame, ErrorFrame):
            for hook in self.hooks:
                _call(hook.stage_error, self, frame.stage, frame.message)
        return frame

    def started(self, stages: Sequence[object]) -> None:
        """Tell the hooks this session starts running ``stages`` (done by the pipeline)."""
        for hook in self.hooks:
            _call(hook.session_started, self, stages)

    def ended(self, error: Exception | None = None) -> None:
        """Tell the hooks this session ended, failing with ``error`` if any (done by the pipeline)."""
        for hook in self.hooks:
            _call(hook.session_ended, self, error)

    def interrupt(self, reason: str = "") -> Interrupt:
        """Start a new generation: cancel and drop everything of older ones in every stage.

        Synchronous on purpose: when this returns, in-flight interruptible work has been cancelled
        and every stage (the transport included, which flushes playback) has the Interrupt queued.
        """
        self.generation += 1
        frame = self.frame(Interrupt, reason=reason)
        log.debug("interrupt -> generation %d (%s)", self.generation, reason)
        self.metrics.mark_interrupted()
        for listener in list(self._listeners):
            listener.on_interrupt(frame)
        return frame

    def broadcast(self, frame: Frame) -> None:
        """Deliver an event frame to every stage that listens for its type (a sticky one also to
        stages that start listening later)."""
        if frame.sticky:
            self._sticky[type(frame)] = frame
        for listener in list(self._listeners):
            if isinstance(frame, listener.stage.events):
                listener.deliver(frame)

    def stage_names(self) -> list[str]:
        """Names of the stages currently running (diagnostics and leak checks)."""
        return [listener.stage.name for listener in self._listeners]
