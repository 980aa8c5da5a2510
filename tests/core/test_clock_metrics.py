"""Virtual clock, turn timelines and the metrics exporters."""

from __future__ import annotations

import json
import logging

import anyio
import pytest

from cascade.clock import RealClock, VirtualClock
from cascade.metrics import MetricsCollector, TurnTimeline
from cascade.metrics_export import LogObserver, OpenTelemetryObserver, PrometheusObserver
from cascade.testing import autojump


@pytest.mark.anyio
async def test_virtual_clock_runs_long_timeouts_instantly_and_in_order() -> None:
    clock = VirtualClock()
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.now()))

    real = RealClock()
    async with autojump(clock), anyio.create_task_group() as tg:
        tg.start_soon(sleeper, "long", 3600.0)
        tg.start_soon(sleeper, "short", 0.5)
        tg.start_soon(sleeper, "mid", 10.0)
    assert woke == [("short", 0.5), ("mid", 10.0), ("long", 3600.0)]
    assert real.now() < 2.0


def test_virtual_clock_manual_advance() -> None:
    clock = VirtualClock(start=1.0)
    clock.advance(0.25)
    assert clock.now() == 1.25
    clock.advance_to(1.0)  # never goes back
    assert clock.now() == 1.25


def _turn(metrics: MetricsCollector, base: float) -> None:
    metrics.mark("user_speech_end", base)
    metrics.mark("final_transcript", base + 0.1)
    metrics.mark("end_of_turn", base + 0.2)
    metrics.mark("llm_first_token", base + 0.3)
    metrics.mark("first_tts_audio", base + 0.35)
    metrics.mark("first_audio_out", base + 0.4)


def test_timelines_split_turns_and_notify_observers_once() -> None:
    metrics = MetricsCollector()
    seen: list[TurnTimeline] = []
    metrics.subscribe(seen.append)
    metrics.mark("user_speech_end", 0.8)  # a pause inside the turn: the later end wins
    _turn(metrics, 1.0)
    metrics.mark("first_audio_out", 9.0)  # a second chunk of the same reply: ignored
    _turn(metrics, 5.0)
    metrics.close()
    assert [t.turn for t in seen] == [0, 1]
    assert seen[0].user_speech_end == 1.0
    assert seen[0].voice_to_voice == pytest.approx(0.4)
    assert seen[0].deltas()["llm_first_token"] == pytest.approx(0.3)
    assert seen[1].voice_to_voice == pytest.approx(0.4)


def test_failing_observer_does_not_break_the_session(caplog: pytest.LogCaptureFixture) -> None:
    metrics = MetricsCollector()

    def broken(turn: TurnTimeline) -> None:
        raise RuntimeError("observer bug")

    metrics.subscribe(broken)
    _turn(metrics, 0.0)
    assert "observer" in caplog.text


def test_log_observer_writes_json(caplog: pytest.LogCaptureFixture) -> None:
    metrics = MetricsCollector()
    metrics.subscribe(LogObserver())
    with caplog.at_level(logging.INFO, logger="cascade.turns"):
        _turn(metrics, 2.0)
    record = json.loads(caplog.records[-1].getMessage())
    assert record["event"] == "turn" and record["voice_to_voice"] == pytest.approx(0.4)


def test_prometheus_observer_exports_histograms() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry()
    metrics = MetricsCollector()
    metrics.subscribe(PrometheusObserver(registry))
    _turn(metrics, 0.0)
    text = generate_latest(registry).decode()
    assert "cascade_voice_to_voice_seconds_count 1.0" in text
    assert 'cascade_turn_mark_seconds_count{mark="llm_first_token"} 1.0' in text
    assert "cascade_turns_total 1.0" in text


def test_opentelemetry_observer_emits_a_span_per_turn() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    metrics = MetricsCollector()
    metrics.subscribe(OpenTelemetryObserver(1000.0, provider.get_tracer("test")))
    _turn(metrics, 1.0)
    (span,) = exporter.get_finished_spans()
    assert span.name == "cascade.turn"
    assert span.events[0].name == "user_speech_end"
    assert span.end_time - span.start_time == pytest.approx(0.4e9, rel=1e-3)


def test_discarded_preemptive_reply_keeps_measuring_the_same_turn() -> None:
    metrics = MetricsCollector()
    metrics.mark("user_speech_end", 1.0)
    metrics.mark("end_of_turn", 1.1)  # preemptive
    metrics.mark("llm_first_token", 1.3)
    metrics.count_wasted_generation()  # the final text differed: thrown away before any audio
    metrics.mark_interrupted()
    metrics.mark("user_speech_end", 1.0)
    metrics.mark("end_of_turn", 1.4)
    metrics.mark("llm_first_token", 1.6)
    metrics.mark("first_audio_out", 1.9)
    (turn,) = metrics.timelines
    assert turn.preemptive_wasted == 1 and not turn.interrupted
    assert turn.end_of_turn == 1.4 and turn.voice_to_voice == pytest.approx(0.9)


def test_interrupt_flags_a_turn_only_once_its_answer_was_heard() -> None:
    metrics = MetricsCollector()
    metrics.mark("user_speech_end", 1.0)
    metrics.mark("end_of_turn", 1.1)
    metrics.mark_interrupted()
    assert metrics.current is not None and not metrics.current.interrupted
    metrics.mark("first_audio_out", 1.5)
    metrics.mark_interrupted()
    assert metrics.timelines[0].interrupted
