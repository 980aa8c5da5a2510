"""Turn-metrics exporters: structured logs, Prometheus and OpenTelemetry (optional extras).

Attach with ``ctx.metrics.subscribe(observer)``, or let :func:`cascade.observability.install_observability`
subscribe them to every session of the process. Prometheus and OpenTelemetry need the ``metrics``
extra; the log observer needs nothing.
"""

from __future__ import annotations

import json
import logging
import threading
import weakref
from typing import Any

from cascade.metrics import TURN_EVENTS, TurnTimeline


class LogObserver:
    """Logs each finished turn as one JSON line (``event=turn``) on ``cascade.turns``."""

    def __init__(self, logger: logging.Logger | None = None, level: int = logging.INFO) -> None:
        self.logger = logger or logging.getLogger("cascade.turns")
        self.level = level

    def __call__(self, turn: TurnTimeline) -> None:
        """Log one turn."""
        record = {"event": "turn", **turn.summary()}
        self.logger.log(self.level, json.dumps(record, default=float))


BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0)
"""Latency histogram buckets, in seconds."""
ERROR_PLACES = ("session", "prepare", "vad", "asr", "turn", "llm", "tts", "transport", "stage")
"""Values of ``cascade_errors_total{where}`` (created at 0 so a scrape shows them before any error)."""


class CascadeMetrics:
    """The Prometheus metrics of a cascade process, registered once per registry.

    Per turn: ``cascade_voice_to_voice_seconds``, ``cascade_turn_mark_seconds{mark}`` (delay of a
    mark after the caller stopped speaking), ``cascade_turns_total``,
    ``cascade_interrupted_turns_total``, ``cascade_wasted_generations_total``. Per process:
    ``cascade_active_sessions{app}``, ``cascade_sessions_started_total{app}``,
    ``cascade_sessions_ended_total{app}``, ``cascade_errors_total{where}`` and
    ``cascade_ready{app}`` (1 while the app takes calls).

    Get the set with :func:`prometheus_metrics`, never by constructing it twice on one registry
    (Prometheus refuses a second time series of the same name).
    """

    def __init__(self, registry: Any) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        self.registry = registry
        self.v2v = Histogram(
            "cascade_voice_to_voice_seconds",
            "Caller speech end to first bot audio out",
            buckets=BUCKETS,
            registry=registry,
        )
        self.marks = Histogram(
            "cascade_turn_mark_seconds",
            "Delay of each turn mark after the caller stopped speaking",
            ["mark"],
            buckets=BUCKETS,
            registry=registry,
        )
        self.turns = Counter("cascade_turns", "Finished turns", registry=registry)
        self.interrupted = Counter("cascade_interrupted_turns", "Turns the caller cut off", registry=registry)
        self.wasted = Counter(
            "cascade_wasted_generations", "Preemptive generations discarded", registry=registry
        )
        self.active_sessions = Gauge(
            "cascade_active_sessions", "Sessions (calls) running now", ["app"], registry=registry
        )
        self.sessions_started = Counter(
            "cascade_sessions_started", "Sessions (calls) started", ["app"], registry=registry
        )
        self.sessions_ended = Counter(
            "cascade_sessions_ended",
            "Sessions (calls) ended, failed ones included",
            ["app"],
            registry=registry,
        )
        self.errors = Counter(
            "cascade_errors",
            "Failures and problems stages reported, by where they happened",
            ["where"],
            registry=registry,
        )
        self.ready = Gauge(
            "cascade_ready", "1 while the app is ready to take calls", ["app"], registry=registry
        )
        for where in ERROR_PLACES:
            self.errors.labels(where=where)

    def observe_turn(self, turn: TurnTimeline) -> None:
        """Record one finished turn."""
        self.turns.inc()
        if turn.interrupted:
            self.interrupted.inc()
        self.wasted.inc(turn.preemptive_wasted)
        if turn.voice_to_voice is not None:
            self.v2v.observe(turn.voice_to_voice)
        for mark, delay in turn.deltas().items():
            self.marks.labels(mark=mark).observe(delay)


_metric_sets: weakref.WeakKeyDictionary[Any, CascadeMetrics] = weakref.WeakKeyDictionary()
_metric_sets_lock = threading.Lock()


def prometheus_metrics(registry: Any = None) -> CascadeMetrics:
    """The cascade metrics in ``registry`` (default: prometheus_client's process registry),
    registered the first time and the same object on every later call.

    >>> from prometheus_client import CollectorRegistry
    >>> registry = CollectorRegistry()
    >>> prometheus_metrics(registry) is prometheus_metrics(registry)
    True
    """
    if registry is None:
        from prometheus_client import REGISTRY

        registry = REGISTRY
    with _metric_sets_lock:
        metrics = _metric_sets.get(registry)
        if metrics is None:
            metrics = _metric_sets[registry] = CascadeMetrics(registry)
        return metrics


class PrometheusObserver:
    """Feeds each finished turn into the :class:`CascadeMetrics` of ``registry`` (default: the
    process registry). Any number of observers may share a registry: the metrics are registered
    once (:func:`prometheus_metrics`)."""

    def __init__(self, registry: Any = None) -> None:
        self.metrics = prometheus_metrics(registry)

    def __call__(self, turn: TurnTimeline) -> None:
        """Record one turn."""
        self.metrics.observe_turn(turn)


class OpenTelemetryObserver:
    """One span per turn (caller speech end → first audio out) with an event per mark.

    ``wall_origin`` is the epoch time of session time 0 (``RealClock.wall_origin``); ``context``
    an OpenTelemetry context whose span becomes each turn span's parent (the session's span).
    """

    def __init__(self, wall_origin: float, tracer: Any = None, context: Any = None) -> None:
        from opentelemetry import trace

        self.tracer = tracer or trace.get_tracer("cascade")
        self.wall_origin = wall_origin
        self.context = context

    def _ns(self, t: float) -> int:
        return int((self.wall_origin + t) * 1e9)

    def __call__(self, turn: TurnTimeline) -> None:
        """Export one turn as a span."""
        marks = {name: getattr(turn, name) for name in TURN_EVENTS if getattr(turn, name) is not None}
        if not marks:
            return
        start, end = min(marks.values()), max(marks.values())
        span = self.tracer.start_span("cascade.turn", context=self.context, start_time=self._ns(start))
        span.set_attribute("cascade.turn", turn.turn)
        span.set_attribute("cascade.interrupted", turn.interrupted)
        span.set_attribute("cascade.preemptive_wasted", turn.preemptive_wasted)
        if turn.voice_to_voice is not None:
            span.set_attribute("cascade.voice_to_voice_s", turn.voice_to_voice)
        for name, t in sorted(marks.items(), key=lambda item: item[1]):
            span.add_event(name, timestamp=self._ns(t))
        span.end(end_time=self._ns(end))
