"""Phone calls from a real SIP peer (SIPp) feed the process metrics, scraped over HTTP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from cascade.observability import MetricsSettings, install_observability
from cascade.pipeline import Pipeline
from cascade.testing.sip_peers.recorder import RtpRecorder
from cascade.testing.sip_peers.sipp import hung_up_by_bridge_scenario, question_scenario
from cascade.transports.sip import CallInfo
from tests.sip.conftest import run_sipp, running_bridge, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

Check = Callable[[Callable[[], Awaitable[None]]], Awaitable[None]]


async def scrape(url: str) -> dict[str, float]:
    """Every sample at ``url``, keyed as Prometheus writes it (``name{label="value"}``)."""
    async with httpx.AsyncClient(timeout=5.0, trust_env=False) as client:
        response = await client.get(url)
    response.raise_for_status()
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = ",".join(f'{key}="{value}"' for key, value in sorted(sample.labels.items()))
            samples[sample.name + (f"{{{labels}}}" if labels else "")] = sample.value
    return samples


async def test_a_phone_call_is_counted_and_scraped(
    tmp_path: Path, question_pcap: tuple[Path, float], no_leaks: Check
) -> None:
    pcap, speech_end = question_pcap
    registry = CollectorRegistry()
    during: list[float] = []

    async def body() -> None:
        with (
            install_observability(MetricsSettings(port=0), app="phone", registry=registry) as obs,
            RtpRecorder() as recorder,
        ):
            assert obs.server is not None
            async with running_bridge() as bridge, anyio.create_task_group() as tg:
                obs.set_ready()
                scenario = question_scenario(str(pcap), recorder.port, int(speech_end * 1000) + 4000)
                tg.start_soon(lambda: run_sipp(scenario, bridge.port, tmp_path))
                await wait_until(lambda: bool(bridge.ua.calls), 5)
                during.append((await scrape(obs.server.url))['cascade_active_sessions{app="phone"}'])
                await wait_until(lambda: bool(bridge.finished), 20)
            after = await scrape(obs.server.url)
        assert during == [1.0]
        assert after['cascade_active_sessions{app="phone"}'] == 0
        assert after['cascade_sessions_started_total{app="phone"}'] == 1
        assert after['cascade_sessions_ended_total{app="phone"}'] == 1
        assert after['cascade_ready{app="phone"}'] == 1
        assert after["cascade_voice_to_voice_seconds_count"] >= 1
        assert 0 < after["cascade_voice_to_voice_seconds_sum"] < 5
        assert after['cascade_errors_total{where="session"}'] == 0

    await no_leaks(body)


async def test_a_call_whose_pipeline_cannot_be_built_counts_a_session_error(
    tmp_path: Path, no_leaks: Check
) -> None:
    registry = CollectorRegistry()

    def broken(info: CallInfo) -> Pipeline:
        raise RuntimeError("no model")

    async def body() -> None:
        with install_observability(app="phone", registry=registry), RtpRecorder() as recorder:
            async with running_bridge(broken) as bridge:
                await run_sipp(hung_up_by_bridge_scenario(recorder.port, wait_ms=5000), bridge.port, tmp_path)
                await wait_until(lambda: bool(bridge.finished), 5)
        assert "no model" in bridge.finished[0].error

    await no_leaks(body)
    assert registry.get_sample_value("cascade_errors_total", {"where": "session"}) == 1
    assert registry.get_sample_value("cascade_sessions_started_total", {"app": "phone"}) == 0
