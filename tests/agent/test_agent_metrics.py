"""The real default agent feeds the process metrics, scraped over HTTP (integration)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from cascade.agent import AgentConfig, LLMSettings, VoiceAgent
from cascade.observability import MetricsSettings, install_observability
from cascade.transports.file import FileTransport

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

QUESTION = Path(__file__).parents[2] / "examples" / "question.wav"


async def test_a_real_call_is_scraped_from_metrics(vllm_server: Any, tmp_path: Path) -> None:
    agent = VoiceAgent(
        AgentConfig(llm=LLMSettings(base_url=vllm_server.base_url, model=vllm_server.model_name))
    )
    registry = CollectorRegistry()
    with install_observability(MetricsSettings(port=0), app="demo", registry=registry) as obs:
        assert obs.server is not None
        session = await agent.run(FileTransport(QUESTION, tmp_path / "reply.wav"))
        async with httpx.AsyncClient(timeout=5.0, trust_env=False) as client:
            response = await client.get(obs.server.url)
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    (turn,) = [t for t in session.metrics.timelines if t.voice_to_voice is not None]
    assert samples[("cascade_voice_to_voice_seconds_count", ())] == 1
    assert samples[("cascade_voice_to_voice_seconds_sum", ())] == pytest.approx(turn.voice_to_voice)
    assert samples[("cascade_turn_mark_seconds_count", (("mark", "llm_first_token"),))] == 1
    assert samples[("cascade_active_sessions", (("app", "demo"),))] == 0
    assert samples[("cascade_sessions_ended_total", (("app", "demo"),))] == 1
    assert not [t for t in threading.enumerate() if t.name == "cascade-metrics"]
