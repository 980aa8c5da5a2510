"""Hooks and a RunContext tool on the real default agent: recorded question in (integration)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cascade import AgentConfig, RunContext, VoiceAgent, tool
from cascade.agent import AgentEvent, BotSpoke, LLMSettings, SessionEnded, ToolCalled, TurnEnded, UserSpoke
from cascade.transports.file import FileTransport

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

QUESTION = Path(__file__).parents[2] / "examples" / "question.wav"
"""A recorded "What are your opening hours on Saturday?"."""


@tool
async def opening_hours(day: str, ctx: RunContext) -> str:
    """Opening hours of the bakery on one day of the week."""
    ctx.userdata["asked"].append(day)
    return "9 am to 1 pm" if day.lower().startswith("sat") else "8 am to 6 pm"


async def test_hooks_see_the_callers_words_and_what_they_heard(vllm_server: Any, tmp_path: Path) -> None:
    settings = LLMSettings(
        base_url=vllm_server.base_url,
        model=vllm_server.model_name,
        system_prompt="You answer the phone for a bakery, in one short sentence. Use the tools.",
        temperature=0.0,
    )
    agent = VoiceAgent(AgentConfig(llm=settings), tools=[opening_hours], userdata=lambda: {"asked": []})
    events: list[AgentEvent] = []

    @agent.on(AgentEvent)
    async def record(event: AgentEvent) -> None:
        events.append(event)

    reply = tmp_path / "reply.wav"
    session = await agent.run(FileTransport(QUESTION, reply))

    spoke = [e for e in events if isinstance(e, UserSpoke)]
    assert [e.text for e in spoke] == ["What are your opening hours on Saturday?"]
    heard = [e for e in events if isinstance(e, BotSpoke)]
    assert heard and all(e.text.strip() for e in heard) and not any(e.interrupted for e in heard)
    # what the hooks heard is what the file transport wrote as heard
    doc = json.loads(reply.with_suffix(".json").read_text())
    written = [line["text"] for line in doc["transcript"] if line["role"] == "assistant"]
    assert [e.text for e in heard] == written
    (ended,) = [e for e in events if isinstance(e, SessionEnded)]
    assert events[-1] is ended and ended.error is None
    assert ended.session.transport == "file" and ended.session.session_id == session.info.session_id
    assert [(line.role, line.text) for line in ended.transcript] == [
        ("user", spoke[0].text),
        *(("assistant", e.text) for e in heard),
    ]
    turns = [e for e in events if isinstance(e, TurnEnded)]
    assert any(t.voice_to_voice is not None for t in turns)
    # the small model may or may not call the tool; when it does, the hooks and userdata agree
    calls = [e for e in events if isinstance(e, ToolCalled) and not e.is_error]
    assert [c.arguments["day"] for c in calls] == ended.userdata["asked"]
    assert all(c.name == "opening_hours" for c in calls)
