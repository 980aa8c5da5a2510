"""The real embedded vLLM (CPU, Qwen2.5-Coder-0.5B from PyPI): chat, tools, cancellation."""

from __future__ import annotations

import re
import time

import anyio
import httpx
import pytest

from cascade.clock import RealClock
from cascade.frames import EndOfTurn, LLMResponseEnded, LLMTextDelta, ToolCallRequest, ToolCallResult
from cascade.llm import ChatLLM, ContextOptions, tool
from cascade.llm.server import EmbeddedServer, _group_alive, get_or_start_server
from cascade.testing import run_stages
from tests.llm.helpers import turns

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


@tool
def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return f"It is sunny and 21 degrees Celsius in {city}."


def running_requests(server: EmbeddedServer) -> float:
    text = httpx.get(server.base_url.removesuffix("/v1") + "/metrics", timeout=5).text
    values = re.findall(r"^vllm:num_requests_running\{[^}]*\} ([0-9.]+)", text, re.M)
    return sum(float(v) for v in values)


async def test_server_runs_as_one_process_group_and_is_reused(vllm_server: EmbeddedServer) -> None:
    assert vllm_server.pid is not None and _group_alive(vllm_server.pid)
    started = time.monotonic()
    again = get_or_start_server(vllm_server.options)
    assert again.process is None and again.base_url == vllm_server.base_url
    assert time.monotonic() - started < 5


async def test_streamed_chat(vllm_server: EmbeddedServer) -> None:
    llm = ChatLLM(base_url=vllm_server.base_url, temperature=0.0, max_tokens=40)
    with anyio.fail_after(120):
        result = await run_stages(
            [llm], turns("Say hello and tell me your favourite colour."), clock=RealClock(), tail=0.1
        )
    deltas = result.of(LLMTextDelta)
    ended = result.of(LLMResponseEnded)[0]
    assert len(deltas) > 2 and isinstance(ended, LLMResponseEnded)
    assert ended.text == "".join(d.text for d in deltas) and ended.text.strip()  # type: ignore[attr-defined]
    assert llm.conversation.max_context_tokens == vllm_server.options.max_model_len
    assert result.ctx is not None and result.ctx.metrics.timelines[0].llm_first_token is not None


async def test_tool_call_round_trip(vllm_server: EmbeddedServer) -> None:
    context = ContextOptions(system_prompt="You are a voice assistant. Use the tools to answer questions.")
    llm = ChatLLM(base_url=vllm_server.base_url, tools=[get_weather], context=context, temperature=0.0)
    with anyio.fail_after(180):
        result = await run_stages([llm], turns("What is the weather in Paris?"), clock=RealClock(), tail=0.1)
    requests = result.of(ToolCallRequest)
    assert requests and requests[0].name == "get_weather"  # type: ignore[attr-defined]
    assert "paris" in str(requests[0].arguments).lower()  # type: ignore[attr-defined]
    outcome = result.of(ToolCallResult)[0]
    assert not outcome.is_error  # type: ignore[attr-defined]
    spoken = "".join(d.text for d in result.of(LLMTextDelta))  # type: ignore[attr-defined]
    assert spoken.strip() and "{" not in spoken  # the call itself is never spoken


async def test_interrupt_frees_the_request(vllm_server: EmbeddedServer) -> None:
    llm = ChatLLM(base_url=vllm_server.base_url, max_tokens=600, temperature=0.0)
    seen: list[float] = []

    def barge_in(ctx: object) -> None:
        seen.append(running_requests(vllm_server))
        ctx.interrupt("barge-in")  # type: ignore[attr-defined]

    frames = [EndOfTurn(pts=0.05, text="Count from 1 to 300, one number per line.")]
    with anyio.fail_after(60):
        result = await run_stages([llm], frames, clock=RealClock(), actions={4.0: barge_in}, tail=0.1)
    assert seen == [1.0]  # generating when the caller barged in
    assert result.of(LLMTextDelta) and not result.of(LLMResponseEnded)
    with anyio.fail_after(10):
        while running_requests(vllm_server) > 0:  # noqa: ASYNC110 (polling the server)
            await anyio.sleep(0.2)
