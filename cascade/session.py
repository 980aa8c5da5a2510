"""The per-session context every stage sees: clock, generation, metrics, interrupt, broadcast."""

from __future__ import annotations

import logging
from typing import Any, Protocol, TypeVar

from cascade.clock import Clock, RealClock
from cascade.frames import Frame, Interrupt
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


class SessionContext:
    """Shared state of one running session (one call, one conversation).

    The priority lane lives here: :meth:`interrupt` and :meth:`broadcast` reach every stage at once,
    bypassing the data queues, so they are never stuck behind queued audio.
    """

    def __init__(
        self,
        clock: Clock | None = None,
        metrics: MetricsCollector | None = None,
        info: SessionInfo | None = None,
    ) -> None:
        self.clock: Clock = clock or RealClock()
        self.metrics = metrics or MetricsCollector()
        self.info = info or SessionInfo()
        """Who the session is with (from the transport; a fresh local id without one)."""
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
        one, unless ``fields`` give them (a reply keeps the generation of the turn it answers)."""
        fields.setdefault("pts", self.clock.now())
        fields.setdefault("generation", self.generation)
        return kind(**fields)

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
