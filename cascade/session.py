"""The per-session context every stage sees: clock, generation, metrics, interrupt, broadcast."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol

from cascade.clock import Clock, RealClock
from cascade.frames import Frame, Interrupt
from cascade.metrics import MetricsCollector

if TYPE_CHECKING:
    from cascade.stage import Stage

log = logging.getLogger("cascade.session")


class _Listener(Protocol):
    stage: Stage

    def on_interrupt(self, frame: Interrupt) -> None: ...

    def deliver(self, frame: Frame) -> None: ...


class SessionContext:
    """Shared state of one running session (one call, one conversation).

    The priority lane lives here: :meth:`interrupt` and :meth:`broadcast` reach every stage at once,
    bypassing the data queues, so they are never stuck behind queued audio.
    """

    def __init__(self, clock: Clock | None = None, metrics: MetricsCollector | None = None) -> None:
        self.clock: Clock = clock or RealClock()
        self.metrics = metrics or MetricsCollector()
        self.generation = 0
        """Current interruption generation; bumped by :meth:`interrupt`."""
        self.playback_held = False
        """True while a speculative reply is prepared: transports keep its audio buffered (see
        :meth:`hold_playback`)."""
        self._listeners: list[_Listener] = []

    def register(self, listener: _Listener) -> None:
        """Add a stage runtime to the priority lane (done by the pipeline)."""
        self._listeners.append(listener)

    def unregister(self, listener: _Listener) -> None:
        """Remove a stage runtime from the priority lane (done by the pipeline)."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def interrupt(self, reason: str = "") -> Interrupt:
        """Start a new generation: cancel and drop everything of older ones in every stage.

        Synchronous on purpose: when this returns, in-flight interruptible work has been cancelled
        and every stage (the transport included, which flushes playback) has the Interrupt queued.
        """
        self.generation += 1
        self.playback_held = False
        frame = Interrupt(pts=self.clock.now(), generation=self.generation, reason=reason)
        log.debug("interrupt -> generation %d (%s)", self.generation, reason)
        self.metrics.mark_interrupted()
        for listener in list(self._listeners):
            listener.on_interrupt(frame)
        return frame

    def hold_playback(self) -> None:
        """Keep the bot's audio buffered, not played (a speculative reply before its turn is
        confirmed). :meth:`release_playback` plays it; an interrupt discards it."""
        self.playback_held = True

    def release_playback(self) -> None:
        """Play what :meth:`hold_playback` kept buffered."""
        self.playback_held = False

    def broadcast(self, frame: Frame) -> None:
        """Deliver an event frame to every stage that listens for its type."""
        for listener in list(self._listeners):
            if isinstance(frame, listener.stage.events):
                listener.deliver(frame)

    def stage_names(self) -> list[str]:
        """Names of the stages currently running (diagnostics and leak checks)."""
        return [listener.stage.name for listener in self._listeners]
