"""Tools that take the session's RunContext: left out of the schema, injected by the tool runner."""

from __future__ import annotations

from dataclasses import dataclass, field

import anyio
import pytest
from pydantic import BaseModel

from cascade.clock import RealClock
from cascade.frames import BotAudioFrame, LLMResponseStarted, ToolCallResult
from cascade.llm import CallControlUnavailable, ChatLLM, RunContext, Tool, tool
from cascade.session_info import SessionInfo
from cascade.testing import run_stages
from cascade.testing.fake_openai import FakeOpenAI, Reply
from cascade.testing.fakes import FakeTTS
from tests.llm.helpers import turns

pytestmark = pytest.mark.anyio


class BookArgs(BaseModel):
    time: str


@dataclass
class Booking:
    times: list[str] = field(default_factory=list)


@tool
async def book(args: BookArgs, ctx: RunContext[Booking]) -> str:
    """Book a table."""
    ctx.userdata.times.append(args.time)
    return f"Booked {args.time} for {ctx.caller or 'a guest'}."


async def add(a: int, ctx: RunContext, b: int = 1) -> int:
    """Add two numbers (the context may sit anywhere in the signature)."""
    ctx.userdata["calls"] = ctx.userdata.get("calls", 0) + 1
    return a + b


def results(result: object) -> list[ToolCallResult]:
    return [f for f in result.of(ToolCallResult) if isinstance(f, ToolCallResult)]  # type: ignore[attr-defined]


def test_the_context_is_not_described_to_the_model() -> None:
    assert list(book.schema()["function"]["parameters"]["properties"]) == ["time"]
    params = Tool(add).schema()["function"]["parameters"]
    assert set(params["properties"]) == {"a", "b"} and params["required"] == ["a"]
    assert book.takes_context and Tool(add).takes_context


def test_two_context_parameters_are_refused() -> None:
    async def twice(a: RunContext, b: RunContext) -> str:
        return ""

    with pytest.raises(TypeError, match="only one parameter may take the RunContext"):
        Tool(twice)


async def test_invoking_a_context_tool_without_one_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="takes a RunContext"):
        await book.invoke(book.parse({"time": "7pm"}))


async def test_the_runner_passes_the_session_context_and_userdata_lives_for_the_session() -> None:
    calls = [("add", {"a": 2, "b": 3})]
    script = [Reply(tool_calls=calls), Reply(text="Five.")] * 2
    async with FakeOpenAI(script) as server:
        llm = ChatLLM(base_url=server.base_url, tools=[add])
        first = await run_stages([llm], turns("add", "again"))
        assert llm.userdata == {"calls": 2}  # one dict for both calls of the session
        server.add(Reply(tool_calls=calls), Reply(text="Five."))
        await run_stages([llm], turns("add"))
        assert llm.userdata == {"calls": 1}  # the next session starts afresh
    assert [r.result for r in results(first)] == ["5", "5"]


async def test_a_typed_userdata_object_and_the_caller_reach_the_tool() -> None:
    booking = Booking()
    info = SessionInfo(session_id="c1", transport="sip", caller="0142")
    script = [Reply(tool_calls=[("book", {"time": "7pm"})]), Reply(text="Done.")]
    async with FakeOpenAI(script) as server:
        llm = ChatLLM(base_url=server.base_url, tools=[book], userdata=booking)
        result = await run_stages([llm], turns("book 7pm"), info=info)
    assert booking.times == ["7pm"]
    assert [r.result for r in results(result)] == ["Booked 7pm for 0142."]


async def test_say_reaches_the_tts_as_part_of_the_reply_and_replaces_the_filler() -> None:
    @tool(filler="Let me look.")
    async def slow_lookup(ctx: RunContext) -> str:
        """Look something up."""
        await ctx.say("One moment, I am checking the diary.")
        await anyio.sleep(0.3)  # well past the filler's time
        return "Free at 7."

    script = [Reply(tool_calls=[("slow_lookup", {})]), Reply(text="We are free at 7.")]
    async with FakeOpenAI(script) as server:
        llm = ChatLLM(base_url=server.base_url, tools=[slow_lookup], filler_after=0.05)
        result = await run_stages([llm, FakeTTS()], turns("free tonight?"), clock=RealClock(), tail=0.5)
    reply = result.of(LLMResponseStarted)[0]  # (the fake TTS keeps the LLMResponseEnded)
    assert isinstance(reply, LLMResponseStarted)
    audio = [f for f in result.of(BotAudioFrame) if isinstance(f, BotAudioFrame)]
    spoken: dict[str, str] = {}
    for frame in audio:
        assert frame.generation == reply.generation
        spoken[frame.response_id] = spoken.get(frame.response_id, "") + frame.text
    # the tool's words were spoken as part of this reply, before its answer; no filler was said
    assert list(spoken) == [f"{reply.response_id}-say-1", reply.response_id]
    assert spoken[f"{reply.response_id}-say-1"].strip() == "One moment, I am checking the diary."


async def test_hang_up_off_the_phone_tells_the_model_why() -> None:
    @tool(cancellable=False)
    async def end_call(ctx: RunContext) -> str:
        """End the call."""
        return await ctx.hang_up()

    script = [Reply(tool_calls=[("end_call", {})]), Reply(text="Goodbye.")]
    async with FakeOpenAI(script) as server:
        llm = ChatLLM(base_url=server.base_url, tools=[end_call])
        result = await run_stages([llm], turns("bye"))
    (outcome,) = results(result)
    assert outcome.is_error
    assert "cannot hang up: this is a local session" in outcome.result
    tool_message = server.requests[1]["messages"][-1]
    assert tool_message["role"] == "tool" and "only phone calls" in tool_message["content"]


class FakeCall:
    """Call actions that record what was asked (what a phone call's CallControl offers)."""

    def __init__(self) -> None:
        self.actions: list[str] = []

    async def hang_up(self, reason: str = "") -> str:
        self.actions.append(f"hang_up: {reason}")
        return "The call has ended."

    async def transfer(self, destination: str) -> str:
        self.actions.append(f"transfer: {destination}")
        return f"The caller was transferred to {destination}."


async def test_hang_up_and_transfer_use_the_sessions_call_actions() -> None:
    call = FakeCall()
    ctx = RunContext(info=SessionInfo(transport="sip", controls=call), userdata={})
    assert await ctx.transfer("sales") == "The caller was transferred to sales."
    assert await ctx.hang_up("done") == "The call has ended."
    assert call.actions == ["transfer: sales", "hang_up: done"]
    local = RunContext(userdata={})
    with pytest.raises(CallControlUnavailable, match="only phone calls can be transferred"):
        await local.transfer("sales")
