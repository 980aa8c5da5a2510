"""OpenTelemetry traces of sessions and turns, exported over OTLP when configured.

Traces are on when asked for (``MetricsSettings.otel``) or, by default, when the standard
``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set. They need
``opentelemetry-sdk`` and an OTLP exporter (both in the extra ``metrics``: OTLP over HTTP; the
gRPC exporter is used when it is the one installed); without them, a single warning says so and
traces stay off. Each session is a ``cascade.session`` span, and each of its turns a
``cascade.turn`` child span (:class:`~cascade.metrics_export.OpenTelemetryObserver`).
"""

from __future__ import annotations

import importlib
import logging
import os
from typing import Any

log = logging.getLogger("cascade.tracing")

OTLP_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
"""Environment variables that turn traces on when ``otel`` is left unset."""
_EXPORTERS = (
    ("opentelemetry.exporter.otlp.proto.http.trace_exporter", "opentelemetry-exporter-otlp-proto-http"),
    ("opentelemetry.exporter.otlp.proto.grpc.trace_exporter", "opentelemetry-exporter-otlp-proto-grpc"),
)
_warned: set[str] = set()


def tracing_wanted(otel: bool | None, endpoint: str | None = None) -> bool:
    """Whether traces should be exported: ``otel`` if given, else whether an endpoint is
    configured (``endpoint`` or the OTLP environment variables)."""
    if otel is not None:
        return otel
    return bool(endpoint) or any(os.environ.get(name) for name in OTLP_ENDPOINT_VARIABLES)


def _warn_once(key: str, message: str, *args: object) -> None:
    if key not in _warned:
        _warned.add(key)
        log.warning(message, *args)


def otlp_tracer_provider(service_name: str = "cascade", endpoint: str | None = None) -> Any | None:
    """A tracer provider exporting spans in batches over OTLP, or ``None`` (logged once) when the
    OpenTelemetry SDK or an OTLP exporter is not installed.

    ``endpoint`` goes to the exporter as is (HTTP: ``http://collector:4318/v1/traces``; gRPC:
    ``collector:4317``); ``None`` lets the exporter read the ``OTEL_EXPORTER_OTLP_*`` variables.
    The caller owns the provider: ``provider.shutdown()`` flushes and stops it.
    """
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        _warn_once(
            "sdk",
            "OpenTelemetry traces were asked for but opentelemetry-sdk is not installed: "
            "pip install 'cascade-voice[metrics]'; traces are off",
        )
        return None
    exporter_class = None
    for module_name, _ in _EXPORTERS:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        exporter_class = module.OTLPSpanExporter
        break
    if exporter_class is None:
        _warn_once(
            "exporter",
            "OpenTelemetry traces were asked for (OTEL_EXPORTER_OTLP_ENDPOINT or [metrics] otel) but "
            "no OTLP exporter is installed: pip install %s; traces are off",
            _EXPORTERS[0][1],
        )
        return None
    exporter = exporter_class(endpoint=endpoint) if endpoint else exporter_class()
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    log.info("exporting OpenTelemetry traces over OTLP (%s)", endpoint or "endpoint from the environment")
    return provider


class SessionSpan:
    """The ``cascade.session`` span of one session; turn spans are made its children."""

    def __init__(self, tracer: Any, app: str) -> None:
        self.span = tracer.start_span("cascade.session", attributes={"cascade.app": app})

    def context(self) -> Any:
        """The OpenTelemetry context whose parent is this span (for the turn spans)."""
        from opentelemetry import trace

        return trace.set_span_in_context(self.span)

    def end(self, error: Exception | None) -> None:
        """End the span, marked failed with ``error`` if any."""
        if error is not None:
            from opentelemetry.trace import Status, StatusCode

            self.span.record_exception(error)
            self.span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        self.span.end()
