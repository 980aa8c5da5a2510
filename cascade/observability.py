"""Observability of a running app: Prometheus ``/metrics``, OpenTelemetry traces, turn logs.

One call sets it up for the whole process; every session any pipeline runs from then on feeds it
(through a :class:`~cascade.session.SessionHook`), whatever transport carries it::

    settings = MetricsSettings(port=9464)                   # the [metrics] table of the config
    with install_observability(settings, app="phone") as obs:
        obs.set_ready()                                     # models loaded, taking calls
        ...                                                 # run the phone bridge / demo server

What it counts, in the process's Prometheus registry (:class:`~cascade.metrics_export.CascadeMetrics`):
per-turn latency histograms (voice-to-voice and each mark), turns, interrupted turns, discarded
speculative replies, running sessions per app, sessions started and ended, errors by where they
happened (``llm``, ``tts``, ``asr``, ... for a stage, ``session`` for a call that could not start,
``prepare``) and readiness. ``/metrics`` is served on ``settings.port`` by a small HTTP server
(:func:`serve_metrics`), or mounted on an app's own Starlette server (:func:`metrics_route`).
"""

from __future__ import annotations

import errno
import logging
import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cascade.clock import Clock
from cascade.errors import CascadeError
from cascade.metrics_export import CascadeMetrics, LogObserver, OpenTelemetryObserver, prometheus_metrics
from cascade.session import SessionContext, SessionHook, add_session_hook
from cascade.tracing import SessionSpan, otlp_tracer_provider, tracing_wanted

log = logging.getLogger("cascade.observability")

_AREAS = {
    "vad": "vad",
    "asr": "asr",
    "turn": "turn",
    "llm": "llm",
    "tts": "tts",
    "transport": "transport",
    "transports": "transport",
}


class MetricsSettings(BaseModel):
    """Metrics, traces and turn logs of an app (the ``[metrics]`` table of its configuration)."""

    model_config = ConfigDict(extra="forbid")

    port: int | None = Field(default=None, ge=0, le=65535)
    """Serve Prometheus ``/metrics`` on this port (0: any free port). ``None``: no metrics server
    (the demo can still mount :func:`metrics_route` on its own port)."""
    host: str = "127.0.0.1"
    """Address the metrics server listens on; loopback unless a scraper on another host needs it."""
    otel: bool | None = None
    """Export OpenTelemetry traces over OTLP. ``None``: when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
    ``otel_endpoint``) is set."""
    otel_endpoint: str | None = None
    """OTLP endpoint handed to the exporter (HTTP: ``http://collector:4318/v1/traces``). ``None``:
    the exporter reads the ``OTEL_EXPORTER_OTLP_*`` environment variables."""
    service_name: str = "cascade"
    """``service.name`` of the exported traces."""
    log_turns: bool = False
    """Also log each finished turn as one JSON line on the ``cascade.turns`` logger."""


class MetricsServerError(CascadeError, RuntimeError):
    """The metrics server could not start; the message says why and what to do."""


def stage_area(stage: object) -> str:
    """Where a stage belongs, for ``cascade_errors_total{where}``: the cascade package its class
    (or the nearest cascade base class) comes from (``llm``, ``tts``, ...), else ``stage``."""
    for cls in type(stage).__mro__:
        parts = cls.__module__.split(".")
        if parts[0] == "cascade" and len(parts) > 1 and parts[1] in _AREAS:
            return _AREAS[parts[1]]
    return "stage"


def _areas(stages: Sequence[object]) -> dict[str, str]:
    """Stage name -> area, for every leaf stage of ``stages`` (sub-pipelines and branches opened)."""
    areas: dict[str, str] = {}
    for stage in stages:
        inner = [*getattr(stage, "stages", ()), *getattr(stage, "branches", ())]
        if inner:
            areas.update(_areas(inner))
        areas.setdefault(str(getattr(stage, "name", type(stage).__name__)), stage_area(stage))
    return areas


def _wall_origin(clock: Clock) -> float:
    origin = getattr(clock, "wall_origin", None)
    return origin if isinstance(origin, float) and origin > 0 else time.time() - clock.now()


class _Session:
    def __init__(self, areas: dict[str, str], span: SessionSpan | None) -> None:
        self.areas = areas
        self.span = span


class SessionObserver(SessionHook):
    """Feeds every session into the metrics (and traces, turn logs): what
    :func:`install_observability` adds to the process's session hooks."""

    def __init__(
        self,
        app: str,
        metrics: CascadeMetrics | None,
        *,
        tracer: Any = None,
        log_turns: bool = False,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.tracer = tracer
        self.log_turns = log_turns
        self._sessions: dict[SessionContext, _Session] = {}
        self._lock = threading.Lock()

    def session_started(self, ctx: SessionContext, stages: Sequence[object]) -> None:
        """Subscribe the turn observers; count the session."""
        span = SessionSpan(self.tracer, self.app) if self.tracer is not None else None
        with self._lock:
            self._sessions[ctx] = _Session(_areas(stages), span)
        if self.metrics is not None:
            ctx.metrics.subscribe(self.metrics.observe_turn)
            self.metrics.sessions_started.labels(app=self.app).inc()
            self.metrics.active_sessions.labels(app=self.app).inc()
        if span is not None:
            ctx.metrics.subscribe(OpenTelemetryObserver(_wall_origin(ctx.clock), self.tracer, span.context()))
        if self.log_turns:
            ctx.metrics.subscribe(LogObserver())

    def stage_error(self, ctx: SessionContext, stage: str, message: str) -> None:
        """Count a problem a stage survived, under its area."""
        session = self._sessions.get(ctx)
        self.error(session.areas.get(stage, "stage") if session else "stage", message)

    def session_ended(self, ctx: SessionContext, error: Exception | None) -> None:
        """Count the end (and the error that ended it); end the session's span."""
        with self._lock:
            session = self._sessions.pop(ctx, None)
        if self.metrics is not None:
            self.metrics.active_sessions.labels(app=self.app).dec()
            self.metrics.sessions_ended.labels(app=self.app).inc()
        if error is not None:
            failed = getattr(error, "stage", None)
            areas = session.areas if session else {}
            self.error(areas.get(failed, "stage") if isinstance(failed, str) else "session", str(error))
        if session is not None and session.span is not None:
            session.span.end(error)

    def error(self, where: str, message: str) -> None:
        """Count an error under ``where``."""
        if self.metrics is not None:
            self.metrics.errors.labels(where=where).inc()


class MetricsServer:
    """Prometheus ``/metrics`` served over HTTP from a background thread, until :meth:`close`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, registry: Any = None) -> None:
        """Start serving ``registry`` (default: the process registry) on ``host:port`` (0: any free
        port); raises :class:`MetricsServerError` when the address cannot be used."""
        from prometheus_client import REGISTRY, start_http_server

        try:
            self._httpd, self._thread = start_http_server(port, addr=host, registry=registry or REGISTRY)
        except OSError as exc:
            why = "the port is in use" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
            raise MetricsServerError(
                f"cannot serve metrics on {host}:{port}: {why}; choose another metrics port "
                "(--metrics-port, [metrics] port) or stop what holds it"
            ) from exc
        self._thread.name = "cascade-metrics"
        self.host = host
        self.port: int = self._httpd.server_port
        """The port bound (the one chosen when 0 was asked for)."""

    @property
    def url(self) -> str:
        """``http://host:port/metrics``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        """Stop serving, close the socket and join the thread (idempotent)."""
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join()
        self._httpd.server_close()

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve_metrics(settings: MetricsSettings, *, registry: Any = None) -> MetricsServer:
    """Serve ``/metrics`` on ``settings.host:settings.port`` until the returned server is closed
    (``with serve_metrics(settings) as server: ...``)."""
    if settings.port is None:
        raise MetricsServerError("no metrics port is set (MetricsSettings.port is None)")
    server = MetricsServer(settings.host, settings.port, registry)
    log.info("Prometheus metrics at %s", server.url)
    return server


def metrics_route(path: str = "/metrics", *, registry: Any = None) -> Any:
    """A Starlette ``Route`` answering ``GET path`` with the metrics of ``registry`` (default: the
    process registry), in the format the scraper asks for: mount it on an app's own server."""
    from prometheus_client import REGISTRY
    from prometheus_client.exposition import choose_encoder
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    source = registry or REGISTRY

    async def endpoint(request: Request) -> Response:
        encode, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encode(source), headers={"Content-Type": content_type})

    return Route(path, endpoint, methods=["GET"])


class Observability:
    """What :func:`install_observability` set up; :meth:`close` (or leaving ``with``) undoes it."""

    def __init__(
        self,
        settings: MetricsSettings,
        app: str,
        *,
        metrics: CascadeMetrics | None,
        tracer_provider: Any = None,
        own_provider: bool = False,
    ) -> None:
        self.settings = settings
        self.app = app
        self.metrics = metrics
        """The Prometheus metrics (``None`` without ``prometheus_client``)."""
        self.tracer_provider = tracer_provider
        """The OpenTelemetry tracer provider of the session spans (``None``: traces are off)."""
        self._own_provider = own_provider
        tracer = tracer_provider.get_tracer("cascade") if tracer_provider is not None else None
        self.observer = SessionObserver(app, metrics, tracer=tracer, log_turns=settings.log_turns)
        self.server: MetricsServer | None = None
        """The ``/metrics`` server (``None`` when ``settings.port`` is ``None``)."""
        self._remove = add_session_hook(self.observer)
        if metrics is not None:
            metrics.active_sessions.labels(app=app)
            metrics.sessions_started.labels(app=app)
            metrics.sessions_ended.labels(app=app)
            metrics.ready.labels(app=app).set(0)
        try:
            if settings.port is not None:
                self.server = serve_metrics(settings, registry=metrics.registry if metrics else None)
        except BaseException:
            self.close()
            raise

    def set_ready(self, ready: bool = True) -> None:
        """Set ``cascade_ready{app}`` (1: models loaded, listening, taking calls)."""
        if self.metrics is not None:
            self.metrics.ready.labels(app=self.app).set(1 if ready else 0)

    def close(self) -> None:
        """Stop hearing of sessions, stop the metrics server, flush and stop traces (idempotent)."""
        global _installed
        self._remove()
        self.set_ready(False)
        if self.server is not None:
            self.server.close()
            self.server = None
        if self._own_provider and self.tracer_provider is not None:
            self.tracer_provider.shutdown()
            self._own_provider = False
        if _installed is self:
            _installed = None

    def __enter__(self) -> Observability:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


_installed: Observability | None = None


def install_observability(
    settings: MetricsSettings | None = None,
    *,
    app: str,
    registry: Any = None,
    tracer_provider: Any = None,
) -> Observability:
    """Observe every session the process runs from now on, as ``settings`` asks; returns the
    handle that undoes it (a context manager).

    ``app`` labels the session and readiness metrics (``"phone"``, ``"demo"``). ``registry``:
    the Prometheus registry (default: the process's). ``tracer_provider``: export traces there
    instead of over OTLP (tests, or an app that set up OpenTelemetry itself). Prometheus needs
    ``prometheus_client`` (extra ``metrics``): without it the metrics are off, and asking for a
    metrics port is an error. One installation at a time: close the first before another.
    """
    global _installed
    settings = settings or MetricsSettings()
    if _installed is not None:
        raise RuntimeError(
            f"observability is already installed (app {_installed.app!r}); close that one first"
        )
    try:
        metrics: CascadeMetrics | None = prometheus_metrics(registry)
    except ImportError:
        if settings.port is not None:
            raise MetricsServerError(
                "serving metrics needs prometheus_client: pip install 'cascade-voice[metrics]'"
            ) from None
        log.info("prometheus_client is not installed: no Prometheus metrics")
        metrics = None
    own = False
    if tracer_provider is None and tracing_wanted(settings.otel, settings.otel_endpoint):
        tracer_provider = otlp_tracer_provider(settings.service_name, settings.otel_endpoint)
        own = tracer_provider is not None
    _installed = Observability(
        settings, app, metrics=metrics, tracer_provider=tracer_provider, own_provider=own
    )
    return _installed
