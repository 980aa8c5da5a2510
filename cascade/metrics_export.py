"""Turn-metrics exporters: structured logs, Prometheus and OpenTelemetry (optional extras).

Attach with ``ctx.metrics.subscribe(observer)`` (or ``VoiceAgent``'s config). Prometheus and
OpenTelemetry need the ``metrics`` extra; the log observer needs nothing.
"""

from __future__ import annotations

import json
import logging
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


class PrometheusObserver:
    """Prometheus histograms of voice-to-voice latency and each stage's delay, plus counters.

    Metrics: ``cascade_voice_to_voice_seconds``, ``cascade_turn_mark_seconds{mark}`` (delay of a
    mark after the caller stopped speaking), ``cascade_turns_total``,
    ``cascade_interrupted_turns_total``, ``cascade_wasted_generations_total``.
    """

    BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0)

    def __init__(self, registry: Any = None) -> None:
        from prometheus_client import REGISTRY, Counter, Histogram

        registry = registry or REGISTRY
        self.v2v = Histogram(
            "cascade_voice_to_voice_seconds",
            "Caller speech end to first bot audio out",
            buckets=self.BUCKETS,
            registry=registry,
        )
        self.marks = Histogram(
            "cascade_turn_mark_seconds",
            "Delay of each turn mark after the caller stopped speaking",
            ["mark"],
            buckets=self.BUCKETS,
            registry=registry,
        )
        self.turns = Counter("cascade_turns", "Finished turns", registry=registry)
        self.interrupted = Counter("cascade_interrupted_turns", "Turns the caller cut off", registry=registry)
        self.wasted = Counter(
            "cascade_wasted_generations", "Preemptive generations discarded", registry=registry
        )

    def __call__(self, turn: TurnTimeline) -> None:
        """Record one turn."""
        self.turns.inc()
        if turn.interrupted:
            self.interrupted.inc()
        self.wasted.inc(turn.preemptive_wasted)
        if turn.voice_to_voice is not None:
            self.v2v.observe(turn.voice_to_voice)
        for mark, delay in turn.deltas().items():
            self.marks.labels(mark=mark).observe(delay)


class OpenTelemetryObserver:
    """One span per turn (caller speech end → first audio out) with an event per mark.

    ``wall_origin`` is the epoch time of session time 0 (``RealClock.wall_origin``).
    """

    def __init__(self, wall_origin: float, tracer: Any = None) -> None:
        from opentelemetry import trace

        self.tracer = tracer or trace.get_tracer("cascade")
        self.wall_origin = wall_origin

    def _ns(self, t: float) -> int:
        return int((self.wall_origin + t) * 1e9)

    def __call__(self, turn: TurnTimeline) -> None:
        """Export one turn as a span."""
        marks = {name: getattr(turn, name) for name in TURN_EVENTS if getattr(turn, name) is not None}
        if not marks:
            return
        start, end = min(marks.values()), max(marks.values())
        span = self.tracer.start_span("cascade.turn", start_time=self._ns(start))
        span.set_attribute("cascade.turn", turn.turn)
        span.set_attribute("cascade.interrupted", turn.interrupted)
        span.set_attribute("cascade.preemptive_wasted", turn.preemptive_wasted)
        if turn.voice_to_voice is not None:
            span.set_attribute("cascade.voice_to_voice_s", turn.voice_to_voice)
        for name, t in sorted(marks.items(), key=lambda item: item[1]):
            span.add_event(name, timestamp=self._ns(t))
        span.end(end_time=self._ns(end))
