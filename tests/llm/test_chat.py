"""ChatLLM against a scripted OpenAI-compatible server over real loopback HTTP."""

from __future__ import annotations

import logging

import anyio
import pytest
from pydantic import BaseModel

from cascade.clock import RealClock
from cascade.frames import (
    BotSpeechEnded,
    BotSpeechStarted,
    EndOfStream,
    EndOfTurn,
    ErrorFrame,
    LLMResponseEnded,
    LLMResponseStarted,
    LLMTextDelta,
    SessionPlaysAudio,
    TextToSpeak,
    ToolCallRequest,
    ToolCallResult,
)
from cascade.llm import ChatLLM, ContextOptions, tool
from cascade.session import SessionContext
from cascade.testing import run_stages
from cascade.testing.fake_openai import FakeOpenAI, Reply
from tests.llm.helpers import turns

pytestmark = pytest.mark.anyio


class CityArgs(BaseModel):
    city: str


@tool
async def get_weather(args: CityArgs) -> str:
    """Current weather in a city."""
    return f"Sunny, 21 degrees in {args.city}."


def texts(result: object) -> str:
    return "".join(f.text for f in result.of(LLMTextDelta))  # type: ignore[attr-defined]


async def test_streams_reply_and_forwards_end_of_turn() -> None:
    async with FakeOpenAI([Reply(text="Hello there. How can I help?")]) as server:
        llm = ChatLLM(base_url=server.base_url)
        result = await run_stages([llm], turns("hi"))
    kinds = result.kinds(skip=(LLMTextDelta,))
    assert kinds == ["EndOfTurn", "LLMResponseStarted", "LLMResponseEnded", "EndOfStream"]
    deltas = result.of(LLMTextDelta)
    assert len(deltas) == 6 and texts(result) == "Hello there. How can I help?"
    ended = result.of(LLMResponseEnded)[0]
    assert isinstance(ended, LLMResponseEnded) and ended.text == "Hello there. How can I help?"
    assert {f.response_id for f in deltas} == {ended.response_id}  # type: ignore[attr-defined]
    request = server.requests[0]
    assert request["stream"] is True and request["model"] == "fake-model"
    assert request["messages"][0]["role"] == "system" and request["messages"][-1] == {
        "role": "user",
        "content": "hi",
    }
    assert result.ctx is not None and result.ctx.metrics.timelines[0].llm_first_token is not None


async def test_history_is_append_only_with_knowledge_first() -> None:
    async with FakeOpenAI([Reply(text="One."), Reply(text="Two.")]) as server:
        options = ContextOptions(system_prompt="Be brief.", knowledge="Opening hours: 9 to 5.")
        llm = ChatLLM(base_url=server.base_url, context=options)
        await run_stages([llm], turns("first", "second"))
    first, second = (r["messages"] for r in server.requests)
    assert first[0]["content"].startswith("Be brief.") and "Opening hours: 9 to 5." in first[0]["content"]
    assert second[: len(first)] == first  # the previous request is a prefix: cacheable
    assert second[len(first) :] == [
        {"role": "assistant", "content": "One."},
        {"role": "user", "content": "second"},
    ]


async def test_tool_call_round_trip() -> None:
    script = [Reply(tool_calls=[("get_weather", {"city": "Paris"})]), Reply(text="It is sunny in Paris.")]
    async with FakeOpenAI(script) as server:
        llm = ChatLLM(base_url=server.base_url, tools=[get_weather])
        result = await run_stages([llm], turns("weather in Paris?"))
    request = result.of(ToolCallRequest)[0]
    assert isinstance(request, ToolCallRequest) and request.arguments == {"city": "Paris"}
    outcome = result.of(ToolCallResult)[0]
    assert isinstance(outcome, ToolCallResult) and not outcome.is_error and "21 degrees" in outcome.result
    assert texts(result) == "It is sunny in Paris."
    first, second = server.requests
    assert first["tools"][0]["function"]["name"] == "get_weather" and first["tool_choice"] == "auto"
    assistant, tool_message = second["messages"][-2:]
    assert assistant["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert tool_message == {
        "role": "tool",
        "tool_call_id": "call_0",
        "content": "Sunny, 21 degrees in Paris.",
    }


async def test_json_text_calls_from_servers_without_our_parser() -> None:
    """A server that leaves a bare JSON call in the text: it is run as a call, never spoken."""
    call = '```json\n{"name": "get_weather", "arguments": {"city": "Rome"}}\n```'
    async with FakeOpenAI([Reply(text=call), Reply(text="Sunny in Rome.")]) as server:
        result = await run_stages([ChatLLM(base_url=server.base_url, tools=[get_weather])], turns("Rome?"))
    assert texts(result) == "Sunny in Rome."
    assert [f.name for f in result.of(ToolCallRequest)] == ["get_weather"]  # type: ignore[attr-defined]


async def test_parallel_calls_and_invalid_arguments_go_back_to_the_model() -> None:
    calls = [("get_weather", {"town": "Oslo"}), ("get_weather", {"city": "Oslo"})]
    async with FakeOpenAI([Reply(tool_calls=calls), Reply(text="Oslo is sunny.")]) as server:
        result = await run_stages([ChatLLM(base_url=server.base_url, tools=[get_weather])], turns("Oslo?"))
    outcomes = result.of(ToolCallResult)
    assert [o.is_error for o in outcomes] == [True, False]  # type: ignore[attr-defined]
    tool_messages = [m for m in server.requests[1]["messages"] if m["role"] == "tool"]
    assert "Invalid arguments for 'get_weather'" in tool_messages[0]["content"]
    assert "city" in tool_messages[0]["content"] and "Sunny" in tool_messages[1]["content"]
    assert texts(result) == "Oslo is sunny."


async def test_unknown_and_repeated_calls_are_refused_and_rounds_are_bounded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A model that keeps calling: unknown tool, then the same call again and again — never a loop."""
    script = [
        Reply(tool_calls=[("launch_rocket", {})]),
        Reply(tool_calls=[("get_weather", {"city": "Rome"})]),
        Reply(tool_calls=[("get_weather", {"city": "Rome"})]),
        Reply(tool_calls=[("get_weather", {"city": "Rome"})]),
        Reply(text="It is sunny in Rome."),
    ]
    async with FakeOpenAI(script) as server:
        llm = ChatLLM(base_url=server.base_url, tools=[get_weather], max_tool_rounds=3)
        result = await run_stages([llm], turns("Rome?"))
    errors = [o.result for o in result.of(ToolCallResult) if o.is_error]  # type: ignore[attr-defined]
    assert len(errors) == 1 and "no tool named 'launch_rocket'" in errors[0]
    assert "repeated a tool call" in caplog.text
    assert len(server.requests) == 4 and "tools" not in server.requests[3]  # words only now
    exchanges = [m for m in server.requests[3]["messages"] if m.get("tool_calls")]
    assert len(exchanges) == 2  # the looping round is forgotten
    assert texts(result) == ""  # the 4th reply was a call again: not run, not spoken
    assert [f.text for f in result.of(TextToSpeak)] == [llm.options.apology]  # type: ignore[attr-defined]


async def test_filler_then_timeout() -> None:
    @tool(timeout=3.0, filler="Let me look that up.")
    async def slow_lookup(query: str) -> str:
        await anyio.sleep_forever()
        return query

    script = [Reply(tool_calls=[("slow_lookup", {"query": "x"})]), Reply(text="Sorry, the lookup is slow.")]
    async with FakeOpenAI(script) as server:
        llm = ChatLLM(base_url=server.base_url, tools=[slow_lookup], filler_after=1.0)
        result = await run_stages([llm], turns("look up x"), tail=10)
    said = result.of(TextToSpeak)
    assert [f.text for f in said] == ["Let me look that up."]  # type: ignore[attr-defined]
    outcome = result.of(ToolCallResult)[0]
    assert outcome.is_error and "timed out after 3 s" in outcome.result  # type: ignore[attr-defined]
    assert said[0].pts == pytest.approx(outcome.pts - 2.0, abs=0.01)  # filler at 1 s, timeout at 3 s


async def test_structured_output_and_extra_body_reach_the_server() -> None:
    schema = {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}}
    async with FakeOpenAI([Reply(text='{"ok": true}')]) as server:
        llm = ChatLLM(base_url=server.base_url, response_format=schema, extra_body={"top_k": 5})
        result = await run_stages([llm], turns("json please"))
    assert server.requests[0]["response_format"] == schema and server.requests[0]["top_k"] == 5
    assert texts(result) == '{"ok": true}'


# --- interruption ---------------------------------------------------------------------------


async def test_interrupt_closes_the_stream_and_keeps_heard_text() -> None:
    async with FakeOpenAI(
        [Reply(text="The first part. The second part.", hang_after=4), Reply(text="Ok.")]
    ) as server:
        llm = ChatLLM(base_url=server.base_url)

        def barge_in(ctx: object) -> None:
            ctx.broadcast(BotSpeechStarted(pts=0.5, response_id="llm-1"))  # type: ignore[attr-defined]
            ctx.interrupt("barge-in")  # type: ignore[attr-defined]
            ctx.broadcast(BotSpeechEnded(response_id="llm-1", heard_text="The first", interrupted=True))  # type: ignore[attr-defined]

        frames = [EndOfTurn(pts=0.05, text="tell me"), EndOfTurn(pts=1.5, generation=1, text="stop")]
        result = await run_stages([llm], frames, clock=RealClock(), actions={1.0: barge_in}, tail=0.5)
        with anyio.fail_after(5):
            await server.wait_for(lambda: server.stats.disconnects == 1)
    assert server.stats.active_streams == 0
    assert texts(result).startswith("The first") and "Ok." in texts(result)
    ended = [f for f in result.of(LLMResponseEnded) if f.generation == 0]
    assert ended == []  # the interrupted reply never claims to have ended
    history = server.requests[1]["messages"]
    assert history[-3:] == [
        {"role": "user", "content": "tell me"},
        {"role": "assistant", "content": "The first"},
        {"role": "user", "content": "stop"},
    ]


async def test_preemptive_turn_talked_over_is_forgotten() -> None:
    async with FakeOpenAI([Reply(text="Guess.", hang_after=1), Reply(text="Answer.")]) as server:
        frames = [
            EndOfTurn(pts=0.05, text="book a", preemptive=True),
            EndOfTurn(pts=0.8, generation=1, text="book a table"),
        ]
        await run_stages(
            [ChatLLM(base_url=server.base_url)],
            frames,
            clock=RealClock(),
            actions={0.5: lambda c: c.interrupt()},
            tail=1.0,
        )
    users = [m["content"] for m in server.requests[1]["messages"] if m["role"] == "user"]
    assert users == ["book a table"]


async def test_a_complete_preemptive_reply_taken_back_before_it_played_is_forgotten() -> None:
    async with FakeOpenAI([Reply(text="Guess."), Reply(text="Answer.")]) as server:
        frames = [
            EndOfTurn(pts=0.05, text="book a", preemptive=True),
            EndOfTurn(pts=0.8, generation=1, text="book a table"),
        ]
        # the whole guess was generated, but held: it never started playing
        discard = "preemptive-discarded:text-changed"
        await run_stages(
            [ChatLLM(base_url=server.base_url)],
            frames,
            clock=RealClock(),
            actions={0.5: lambda c: c.interrupt(discard)},
            tail=1.0,
        )
    users = [m["content"] for m in server.requests[1]["messages"] if m["role"] == "user"]
    assert users == ["book a table"]


@pytest.mark.parametrize("playback", ["not yet", "started", "none"])
async def test_a_reply_interrupted_before_it_played_leaves_no_words_and_its_turn_joins_the_next(
    playback: str,
) -> None:
    async with FakeOpenAI([Reply(text="Your password, please."), Reply(text="Done.")]) as server:
        frames = [
            EndOfTurn(pts=0.05, text="Please enter your password."),
            EndOfTurn(pts=0.8, generation=1, text="followed by the pound key."),
        ]

        def transport(ctx: SessionContext) -> None:
            if playback != "none":  # what a transport's playout sink says
                ctx.broadcast(SessionPlaysAudio())

        def caller_goes_on(ctx: SessionContext) -> None:
            if playback == "started":  # the caller heard the reply's first word
                ctx.broadcast(BotSpeechStarted(pts=0.4, response_id="llm-1"))
            ctx.interrupt("barge-in")
            if playback == "started":
                ctx.broadcast(BotSpeechEnded(response_id="llm-1", heard_text="Your", interrupted=True))

        # the whole reply was generated (the bot took the turn at a pause inside it)
        await run_stages(
            [ChatLLM(base_url=server.base_url)],
            frames,
            clock=RealClock(),
            actions={0.0: transport, 0.5: caller_goes_on},
            tail=1.0,
        )
    history = [(m["role"], m["content"]) for m in server.requests[1]["messages"][1:]]
    if playback == "not yet":  # the model reads what the caller said as the one message it was
        assert history == [("user", "Please enter your password. followed by the pound key.")]
    else:  # what was heard (or, with no audio out, written) stays
        said = "Your" if playback == "started" else "Your password, please."
        assert history == [
            ("user", "Please enter your password."),
            ("assistant", said),
            ("user", "followed by the pound key."),
        ]


async def test_non_cancellable_tool_finishes_after_barge_in_and_result_is_kept() -> None:
    booked: list[str] = []

    @tool(cancellable=False)
    async def book_table(time: str) -> str:
        await anyio.sleep(0.6)
        booked.append(time)
        return f"Booked for {time}."

    @tool
    async def check_menu() -> str:
        await anyio.sleep(5)
        return "soup"

    calls = [("book_table", {"time": "7pm"}), ("check_menu", {})]
    async with FakeOpenAI([Reply(tool_calls=calls), Reply(text="Anything else?")]) as server:
        llm = ChatLLM(base_url=server.base_url, tools=[book_table, check_menu], filler_after=None)
        frames = [EndOfTurn(pts=0.05, text="book 7pm"), EndOfTurn(pts=1.2, generation=1, text="thanks")]
        await run_stages([llm], frames, clock=RealClock(), actions={0.3: lambda c: c.interrupt()}, tail=1.0)
    assert booked == ["7pm"]
    tool_messages = [m for m in server.requests[-1]["messages"] if m["role"] == "tool"]
    assert tool_messages[0]["content"] == "Booked for 7pm."
    assert tool_messages[1]["content"].startswith("Cancelled")


# --- failures -------------------------------------------------------------------------------


async def test_5xx_before_any_words_is_retried_once(caplog: pytest.LogCaptureFixture) -> None:
    async with FakeOpenAI([Reply(status=503, error="overloaded"), Reply(text="Here I am.")]) as server:
        with caplog.at_level(logging.WARNING, "cascade.llm"):
            result = await run_stages([ChatLLM(base_url=server.base_url)], turns("hello"))
    assert texts(result) == "Here I am." and len(server.requests) == 2
    assert "retrying once" in caplog.text and "503" in caplog.text


async def test_drop_mid_stream_after_words_apologizes_and_session_lives(
    caplog: pytest.LogCaptureFixture,
) -> None:
    script = [Reply(text="I think the answer is", drop_after=3), Reply(text="Fine again.")]
    async with FakeOpenAI(script) as server:
        llm = ChatLLM(base_url=server.base_url)
        with caplog.at_level(logging.ERROR, "cascade.llm"):
            result = await run_stages([llm], turns("question", "next"))
    assert "failed after 7 spoken characters" in caplog.text
    said = result.of(TextToSpeak)
    assert [f.text for f in said] == [llm.options.apology]  # type: ignore[attr-defined]
    assert len(result.of(ErrorFrame)) == 1
    kinds = result.kinds(skip=(LLMTextDelta,))
    assert kinds.index("LLMResponseEnded") < kinds.index("TextToSpeak")
    assert "Fine again." in texts(result)  # the next turn works
    history = server.requests[-1]["messages"]
    assert (
        history[-2]["content"] == "I" + " think" + " " + llm.options.apology
        or history[-2]["role"] == "assistant"
    )


async def test_server_unreachable_logs_retries_and_apologizes(caplog: pytest.LogCaptureFixture) -> None:
    async with FakeOpenAI() as server:
        url = server.base_url  # closed after this block: nothing listens there any more
    with caplog.at_level(logging.WARNING, "cascade.llm"):
        llm = ChatLLM(base_url=url, connect_timeout=1.0)
        result = await run_stages([llm], turns("hello"), clock=RealClock(), tail=0.2)
    assert "unreachable" in caplog.text and "retrying once" in caplog.text and "apologizing" in caplog.text
    assert [f.text for f in result.of(TextToSpeak)] == [llm.options.apology]  # type: ignore[attr-defined]
    assert isinstance(result.frames[-1], EndOfStream)


async def test_model_missing_is_named(caplog: pytest.LogCaptureFixture) -> None:
    async with FakeOpenAI() as server:
        with caplog.at_level(logging.ERROR, "cascade.llm"):
            llm = ChatLLM(base_url=server.base_url, model="gpt-9")
            result = await run_stages([llm], turns("hello"))
    assert "model 'gpt-9' is not served" in caplog.text and "fake-model" in caplog.text
    assert "not found" in caplog.text and len(server.requests) == 1  # 404: no retry
    assert [f.text for f in result.of(TextToSpeak)] == [llm.options.apology]  # type: ignore[attr-defined]


async def test_context_overflow_compacts_old_turns_then_reports(caplog: pytest.LogCaptureFixture) -> None:
    words = " ".join(["word"] * 60)

    def answer(request: dict[str, object]) -> Reply:
        if not request.get("stream"):
            return Reply(text="They talked about words.")
        return Reply(text="Sure.")

    async with FakeOpenAI(default=answer, max_model_len=400) as server:
        options = ContextOptions(reply_tokens=100, exact_count_above=0.0)
        llm = ChatLLM(base_url=server.base_url, context=options)
        with caplog.at_level(logging.INFO, "cascade.llm"):
            result = await run_stages(
                [llm], turns(*(f"{words} {i}" for i in range(5)), " ".join(["w"] * 500))
            )
    assert "summarized" in caplog.text
    summaries = [r for r in server.requests if not r.get("stream")]
    assert summaries and "word" in summaries[0]["messages"][1]["content"]
    last_ok = [r for r in server.requests if r.get("stream")][-1]["messages"]
    assert "They talked about words." in last_ok[0]["content"] and len(last_ok) < 11
    assert "context overflow" in caplog.text  # the 500-word turn cannot fit at all
    assert [f.text for f in result.of(TextToSpeak)] == [llm.options.apology]  # type: ignore[attr-defined]
    assert len(result.of(LLMResponseStarted)) == 6


async def test_tool_rounds_are_capped() -> None:
    script = [Reply(tool_calls=[("get_weather", {"city": c})]) for c in ("Rome", "Oslo", "Lima")]
    async with FakeOpenAI([*script, Reply(text="Done.")]) as server:
        llm = ChatLLM(base_url=server.base_url, tools=[get_weather], max_tool_rounds=2)
        result = await run_stages([llm], turns("weather everywhere"))
    assert ["tools" in r for r in server.requests] == [True, True, False]
    assert len(result.of(ToolCallResult)) == 2


async def test_a_call_written_again_in_the_same_stream_ends_the_round_early() -> None:
    """Small models repeat one call for hundreds of tokens: the stream is closed at the repeat."""
    script = [
        Reply(tool_calls=[("get_weather", {"city": "Rome"})] * 30, chunk_delay=0.01),
        Reply(text="Sunny in Rome."),
    ]
    async with FakeOpenAI(script) as server:
        llm = ChatLLM(base_url=server.base_url, tools=[get_weather])
        result = await run_stages([llm], turns("Rome?"))
        with anyio.fail_after(5):  # the first stream was closed before its end
            await server.wait_for(lambda: server.stats.disconnects == 1)
    assert server.stats.completed_streams == 1
    assert [c.arguments for c in result.of(ToolCallRequest)] == [{"city": "Rome"}]  # type: ignore[attr-defined]
    assert texts(result) == "Sunny in Rome."


async def test_a_quick_tool_is_answered_without_waiting_for_the_filler_time() -> None:
    script = [Reply(tool_calls=[("get_weather", {"city": "Oslo"})]), Reply(text="Sunny.")]
    async with FakeOpenAI(script) as server:
        llm = ChatLLM(base_url=server.base_url, tools=[get_weather], filler_after=5.0)
        result = await run_stages([llm], turns("Oslo?"), clock=RealClock(), tail=1.0)
    request, outcome = result.of(ToolCallRequest)[0], result.of(ToolCallResult)[0]
    assert outcome.pts - request.pts < 1.0 and not result.of(TextToSpeak)
