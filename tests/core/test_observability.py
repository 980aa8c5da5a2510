"""Observability: one metric set per process, sessions feeding it, /metrics over HTTP, traces."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from cascade import Pipeline, tracing
from cascade.clock import VirtualClock
from cascade.frames import EndOfTurn, Frame
from cascade.llm import ChatLLM
from cascade.metrics_export import CascadeMetrics, PrometheusObserver, prometheus_metrics
from cascade.observability import (
    MetricsServerError,
    MetricsSettings,
    Observability,
    install_observability,
    metrics_route,
    serve_metrics,
    stage_area,
)
from cascade.session import report_error
from cascade.stage import Stage, StageError, first_error
from cascade.testing import assert_no_leaked_tasks, autojump
from cascade.testing.fake_openai import FakeOpenAI, Reply
from cascade.testing.fakes import FakeASR, FakeLLM, FakeTTS, FakeTurnTaker
from cascade.transports.file import FileTransport
from cascade.tts.hibari import HibariTTS
from cascade.vad import SileroVAD
from tests.core.test_file_transport import tone_wav
from tests.sip.conftest import open_sockets


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def obs(registry: CollectorRegistry) -> Iterator[Observability]:
    with install_observability(MetricsSettings(), app="demo", registry=registry) as installed:
        yield installed


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    found = registry.get_sample_value(name, labels)
    assert found is not None, f"{name}{labels} is not exported"
    return found


class ActiveProbe(Stage):
    """Reads the running-sessions gauge while the session runs (at each end of turn)."""

    inputs = (EndOfTurn,)

    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__()
        self.registry = registry
        self.seen: list[float] = []

    async def process(self, frame: Frame) -> None:
        self.seen.append(value(self.registry, "cascade_active_sessions", app="demo"))
        await self.emit(frame)


class Crash(Stage):
    inputs = (EndOfTurn,)

    async def process(self, frame: Frame) -> None:
        raise RuntimeError("broken stage")


async def two_turn_call(tmp_path: Path, *stages: Stage) -> None:
    """Two caller turns through scripted stages on the file transport, in virtual time."""
    inputs = [tone_wav(tmp_path / "q1.wav"), tone_wav(tmp_path / "q2.wav")]
    clock = VirtualClock()
    transport = FileTransport(inputs, tmp_path / "reply.wav", clock=clock)
    middle = list(stages) or [FakeLLM("It is noon.")]
    pipeline = Pipeline([FakeASR(["what time is it", "thanks"]), FakeTurnTaker(), *middle, FakeTTS()])
    async with autojump(clock):
        await pipeline.run(transport)


def test_two_observers_and_two_calls_share_one_metric_set(registry: CollectorRegistry) -> None:
    PrometheusObserver()
    PrometheusObserver()  # the process registry: a second one used to raise "Duplicated timeseries"
    assert prometheus_metrics() is prometheus_metrics()
    first, second = PrometheusObserver(registry), PrometheusObserver(registry)
    assert first.metrics is second.metrics is prometheus_metrics(registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        CascadeMetrics(registry)  # why the set must come from prometheus_metrics()


@pytest.mark.anyio
async def test_a_session_feeds_the_metrics_and_the_gauge_goes_back_to_zero(
    obs: Observability, registry: CollectorRegistry, tmp_path: Path
) -> None:
    probe = ActiveProbe(registry)
    assert value(registry, "cascade_active_sessions", app="demo") == 0

    await assert_no_leaked_tasks(lambda: two_turn_call(tmp_path, probe, FakeLLM("It is noon.")))

    assert probe.seen == [1.0, 1.0]
    assert value(registry, "cascade_active_sessions", app="demo") == 0
    assert value(registry, "cascade_sessions_started_total", app="demo") == 1
    assert value(registry, "cascade_sessions_ended_total", app="demo") == 1
    assert value(registry, "cascade_turns_total") == 2
    assert value(registry, "cascade_voice_to_voice_seconds_count") == 2
    assert 0 < value(registry, "cascade_voice_to_voice_seconds_sum") < 3
    assert value(registry, "cascade_turn_mark_seconds_count", mark="llm_first_token") == 2
    assert value(registry, "cascade_errors_total", where="stage") == 0


@pytest.mark.anyio
async def test_no_hook_is_left_after_close(registry: CollectorRegistry, tmp_path: Path) -> None:
    with install_observability(app="demo", registry=registry):
        pass
    await two_turn_call(tmp_path)
    assert value(registry, "cascade_turns_total") == 0
    assert value(registry, "cascade_sessions_started_total", app="demo") == 0


def test_one_installation_at_a_time(obs: Observability) -> None:
    with pytest.raises(RuntimeError, match="already installed"):
        install_observability(app="phone", registry=CollectorRegistry())


@pytest.mark.anyio
async def test_errors_are_counted_where_they_happened(
    obs: Observability, registry: CollectorRegistry, tmp_path: Path
) -> None:
    # the real LLM stage against a server that refuses the first request: it apologizes, goes on
    async with FakeOpenAI([Reply(status=400, error="bad request"), Reply(text="Fine.")]) as server:
        await two_turn_call(tmp_path, ChatLLM(base_url=server.base_url))
    assert value(registry, "cascade_errors_total", where="llm") == 1
    assert value(registry, "cascade_sessions_ended_total", app="demo") == 1

    with pytest.raises(Exception) as failed:  # (virtual time's task group wraps it in a group)
        await two_turn_call(tmp_path, Crash(), FakeLLM())
    assert isinstance(first_error(failed.value), StageError)
    assert value(registry, "cascade_errors_total", where="stage") == 1
    assert value(registry, "cascade_active_sessions", app="demo") == 0
    assert value(registry, "cascade_sessions_ended_total", app="demo") == 2

    report_error("session", RuntimeError("the pipeline factory failed"))
    assert value(registry, "cascade_errors_total", where="session") == 1


def test_stage_areas_come_from_the_cascade_package() -> None:
    assert stage_area(ChatLLM(base_url="http://127.0.0.1:9/v1")) == "llm"
    assert stage_area(HibariTTS()) == "tts"
    assert stage_area(SileroVAD()) == "vad"
    assert stage_area(FileTransport(Path(__file__).parents[2] / "examples/question.wav").source()) == (
        "transport"
    )
    assert stage_area(Crash()) == "stage"


async def scrape(url: str) -> dict[str, float]:
    """Every sample Prometheus would read at ``url``, by name and labels."""
    async with httpx.AsyncClient(timeout=5.0, trust_env=False) as client:
        response = await client.get(url)
    assert response.status_code == 200
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = ",".join(f'{key}="{label}"' for key, label in sorted(sample.labels.items()))
            samples[sample.name + (f"{{{labels}}}" if labels else "")] = sample.value
    return samples


def metrics_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "cascade-metrics"]


@pytest.mark.anyio
async def test_metrics_are_served_over_http_and_the_server_stops_cleanly(
    registry: CollectorRegistry, tmp_path: Path
) -> None:
    settings = MetricsSettings(port=0)
    sockets_before = open_sockets()
    with install_observability(settings, app="phone", registry=registry) as obs:
        assert obs.server is not None and obs.server.port > 0
        url = obs.server.url
        assert url == f"http://127.0.0.1:{obs.server.port}/metrics"
        before = await scrape(url)
        assert before['cascade_ready{app="phone"}'] == 0
        obs.set_ready()
        await two_turn_call(tmp_path)
        after = await scrape(url)
        assert metrics_threads()
    assert after["cascade_voice_to_voice_seconds_count"] == 2
    assert after['cascade_active_sessions{app="phone"}'] == 0
    assert after['cascade_sessions_started_total{app="phone"}'] == 1
    assert after['cascade_ready{app="phone"}'] == 1
    assert not metrics_threads()
    assert open_sockets() == sockets_before
    with pytest.raises(httpx.ConnectError):
        await scrape(url)


def test_a_taken_port_is_a_clear_error(registry: CollectorRegistry) -> None:
    with serve_metrics(MetricsSettings(port=0), registry=registry) as first:
        with pytest.raises(MetricsServerError, match=rf"127.0.0.1:{first.port}: the port is in use"):
            serve_metrics(MetricsSettings(port=first.port), registry=registry)
        with pytest.raises(MetricsServerError, match=rf"{first.port}.*in use"):
            install_observability(MetricsSettings(port=first.port), app="phone", registry=registry)
    assert not metrics_threads()
    with pytest.raises(MetricsServerError, match="no metrics port"):
        serve_metrics(MetricsSettings())
    with install_observability(app="phone", registry=registry):  # the failed one left nothing behind
        pass


@pytest.mark.anyio
async def test_metrics_route_mounts_on_an_apps_own_server(obs: Observability, tmp_path: Path) -> None:
    from starlette.applications import Starlette

    await two_turn_call(tmp_path)
    app = Starlette(routes=[metrics_route(registry=obs.metrics.registry if obs.metrics else None)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://demo") as client:
        plain = await client.get("/metrics")
        open_metrics = await client.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert plain.status_code == 200 and plain.headers["content-type"].startswith("text/plain")
    assert "cascade_voice_to_voice_seconds_count 2.0" in plain.text
    assert open_metrics.headers["content-type"].startswith("application/openmetrics-text")
    assert open_metrics.text.rstrip().endswith("# EOF")


@pytest.mark.anyio
async def test_each_session_is_a_trace_with_a_span_per_turn(
    registry: CollectorRegistry, tmp_path: Path
) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with install_observability(app="demo", registry=registry, tracer_provider=provider):
        await two_turn_call(tmp_path)
    spans = exporter.get_finished_spans()
    (session,) = [s for s in spans if s.name == "cascade.session"]
    turns = [s for s in spans if s.name == "cascade.turn"]
    assert len(turns) == 2 and session.attributes == {"cascade.app": "demo"}
    assert all(t.parent is not None and t.parent.span_id == session.context.span_id for t in turns)
    assert {t.context.trace_id for t in turns} == {session.context.trace_id}
    assert all(0 < (t.attributes or {})["cascade.voice_to_voice_s"] < 3 for t in turns)


def test_otlp_endpoint_without_an_exporter_is_said_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, registry: CollectorRegistry
) -> None:
    try:
        import opentelemetry.exporter.otlp.proto.http.trace_exporter  # noqa: F401

        installed = True
    except ImportError:
        installed = False
    monkeypatch.setattr(tracing, "_warned", set())
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    for _ in range(2):
        with install_observability(app="phone", registry=registry) as obs:
            assert (obs.tracer_provider is not None) == installed
    if not installed:
        warnings = [r for r in caplog.records if "no OTLP exporter is installed" in r.getMessage()]
        assert len(warnings) == 1
        assert "pip install opentelemetry-exporter-otlp-proto-http" in warnings[0].getMessage()
    with install_observability(MetricsSettings(otel=False), app="phone", registry=registry) as obs:
        assert obs.tracer_provider is None


def test_bad_settings_are_refused_naming_the_field() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="port"):
        MetricsSettings(port=70000)
    with pytest.raises(ValidationError, match="prot"):
        MetricsSettings.model_validate({"prot": 9464})


@pytest.mark.anyio
async def test_traces_reach_an_otlp_collector_over_http(registry: CollectorRegistry, tmp_path: Path) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    received: list[bytes] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
        settings = MetricsSettings(otel=True, otel_endpoint=endpoint, service_name="cascade-test")
        with install_observability(settings, app="phone", registry=registry):
            await two_turn_call(tmp_path)
        # closing the installation flushes the batch of spans to the collector
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    spans = []
    for body in received:
        request = ExportTraceServiceRequest.FromString(body)
        for resource in request.resource_spans:
            service = {a.key: a.value.string_value for a in resource.resource.attributes}["service.name"]
            assert service == "cascade-test"
            spans += [span.name for scope in resource.scope_spans for span in scope.spans]
    assert sorted(spans) == ["cascade.session", "cascade.turn", "cascade.turn"]
