"""The per-session context every stage sees: clock, generation, metrics, interrupt, broadcast."""

from __future__ import annotations

import logging
from typing import Protocol

from cascade.clock import Clock, RealClock
from cascade.frames import Frame, Interrupt
from cascade.metrics import MetricsCollector

log = logging.getLogger("cascade.session")


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

    def __init__(self, clock: Clock | None = None, metrics: MetricsCollector | None = None) -> None:
        self.clock: Clock = clock or RealClock()
        self.metrics = metrics or MetricsCollector()
        self.generation = 0
        """Current interruption generation; bumped by :meth:`interrupt`."""
        self.plays_audio = False
        """True when the session plays the bot's audio (a transport's playout sink runs): a reply
        is then heard only from its ``BotSpeechStarted`` on. Without playback (text out) a reply
        counts as delivered when it is written."""
        self._holds: set[str] = set()
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
        self._holds.clear()
        frame = Interrupt(pts=self.clock.now(), generation=self.generation, reason=reason)
        log.debug("interrupt -> generation %d (%s)", self.generation, reason)
        self.metrics.mark_interrupted()
        for listener in list(self._listeners):
            listener.on_interrupt(frame)
        return frame

    @property
    def playback_held(self) -> bool:
        """True while some stage holds the bot's audio: transports keep it buffered, unplayed."""
        return bool(self._holds)

    def hold_playback(self, reason: str) -> None:
        """Keep the bot's audio buffered, not played, until :meth:`release_playback` with the same
        ``reason`` (holds nest: a speculative reply before its turn is confirmed, a reply paused
        while the caller talks over it). An interrupt discards the audio and every hold."""
        self._holds.add(reason)

    def holds_playback(self, reason: str) -> bool:
        """True while the hold taken for ``reason`` stands (an interrupt drops every hold)."""
        return reason in self._holds

    def release_playback(self, reason: str) -> None:
        """Drop the hold taken for ``reason``; the audio plays once no hold is left."""
        self._holds.discard(reason)

    def broadcast(self, frame: Frame) -> None:
        """Deliver an event frame to every stage that listens for its type."""
        for listener in list(self._listeners):
            if isinstance(frame, listener.stage.events):
                listener.deliver(frame)

    def stage_names(self) -> list[str]:
        """Names of the stages currently running (diagnostics and leak checks)."""
        return [listener.stage.name for listener in self._listeners]
