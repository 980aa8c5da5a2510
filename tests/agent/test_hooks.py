"""Agent hooks: the events a HookStage sees, in order, off the audio path, failures contained."""

from __future__ import annotations

import logging
import time
from typing import Any

import anyio
import pytest

from cascade.agent import AgentConfig, VoiceAgent
from cascade.agent.hooks import (
    AgentEvent,
    AgentHooks,
    BotSpoke,
    SessionEnded,
    ToolCalled,
    TurnEnded,
    UserSpoke,
)
from cascade.agent.observer import HookStage
from cascade.clock import RealClock, VirtualClock
from cascade.frames import EndOfTurn, Frame, ToolCallRequest, ToolCallResult
from cascade.llm import ChatLLM, RunContext, tool
from cascade.session_info import SessionInfo
from cascade.stage import Stage, StageError
from cascade.testing import run_stages
from cascade.testing.fake_openai import FakeOpenAI, Reply
from cascade.testing.fakes import FakeTTS
from cascade.testing.sinks import PacedSink

pytestmark = pytest.mark.anyio


def recording(**options: Any) -> tuple[AgentHooks, list[AgentEvent]]:
    """Hooks that record every event."""
    hooks = AgentHooks(**options)
    events: list[AgentEvent] = []

    @hooks.on(AgentEvent)
    async def record(event: AgentEvent) -> None:
        events.append(event)

    return hooks, events


@tool
async def note(item: str, ctx: RunContext) -> str:
    """Note an item of the caller's order."""
    ctx.userdata.setdefault("items", []).append(item)
    return f"Noted {item}."


async def test_events_arrive_in_order_with_what_happened() -> None:
    hooks, events = recording()
    script = [Reply(tool_calls=[("note", {"item": "bread"})]), Reply(text="One bread, noted.")]
    info = SessionInfo(session_id="s1", transport="sip", caller="0142")
    async with FakeOpenAI(script) as server:
        userdata: dict[str, Any] = {}
        llm = ChatLLM(base_url=server.base_url, tools=[note], userdata=userdata)
        stages = [llm, FakeTTS(word_seconds=0.1), HookStage(hooks, userdata=userdata), PacedSink()]
        # (real time: the fake server answers in real time, the reply must play before the end)
        turn = [EndOfTurn(pts=0.5, text="A bread, please.")]
        await run_stages(stages, turn, info=info, clock=RealClock(), tail=1.5)
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["UserSpoke", "ToolCalled", "TurnEnded", "BotSpoke", "SessionEnded"]
    spoke, called, turn, bot, ended = events
    assert isinstance(spoke, UserSpoke) and spoke.text == "A bread, please." and spoke.time >= 0.5
    assert isinstance(called, ToolCalled)
    assert (called.name, called.arguments, called.result, called.is_error) == (
        "note",
        {"item": "bread"},
        "Noted bread.",
        False,
    )
    assert isinstance(turn, TurnEnded) and turn.timeline.first_audio_out is not None
    assert isinstance(bot, BotSpoke) and bot.text == "One bread, noted." and not bot.interrupted
    assert isinstance(ended, SessionEnded) and ended.error is None
    assert [(line.role, line.text) for line in ended.transcript] == [
        ("user", "A bread, please."),
        ("assistant", "One bread, noted."),
    ]
    assert ended.tool_calls == (called,) and len(ended.timelines) == 1
    assert ended.userdata == {"items": ["bread"]}  # what the tools left in the session's userdata
    assert {e.session.session_id for e in events} == {"s1"} and ended.session.caller == "0142"


async def test_a_preemptive_turn_counts_once_confirmed_never_when_taken_back() -> None:
    hooks, events = recording()
    frames = [
        EndOfTurn(pts=1.0, text="I want", preemptive=True),  # taken back at 1.5
        EndOfTurn(pts=2.0, generation=1, text="I want a cake", preemptive=True),  # stands
        EndOfTurn(pts=4.0, generation=1, text="for Sunday"),
    ]
    discard = {1.5: lambda ctx: ctx.interrupt("preemptive-discarded:text-changed")}
    await run_stages([HookStage(hooks)], frames, actions=discard)
    assert [(e.text, e.time) for e in events if isinstance(e, UserSpoke)] == [
        ("I want a cake", 2.0),
        ("for Sunday", 4.0),
    ]


async def test_a_failing_hook_is_logged_once_and_the_session_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hooks, events = recording()

    @hooks.on(UserSpoke)
    def broken(event: UserSpoke) -> None:  # a sync hook: run in a worker thread
        raise ValueError(f"cannot store {event.text!r}")

    turns = [EndOfTurn(pts=1.0 + i, text=f"turn {i}") for i in range(3)]
    with caplog.at_level(logging.WARNING, logger="cascade.agent.hooks"):
        result = await run_stages([HookStage(hooks)], turns)
    failures = [r for r in caplog.records if "failed on UserSpoke" in r.getMessage()]
    assert len(failures) == 1 and failures[0].exc_info is not None
    assert any("failed 3 times" in r.getMessage() for r in caplog.records)
    assert [e.text for e in events if isinstance(e, UserSpoke)] == ["turn 0", "turn 1", "turn 2"]
    assert isinstance(events[-1], SessionEnded)  # the other hooks kept running to the end
    assert result.kinds().count("EndOfTurn") == 3


class Stamp(Stage):
    """Records the session time each frame reaches it."""

    inputs = (Frame,)

    def __init__(self) -> None:
        super().__init__(name="Stamp")
        self.arrivals: list[tuple[str, float]] = []

    async def process(self, frame: Frame) -> None:
        self.arrivals.append((frame.kind, self.clock.now()))
        await self.emit(frame)


async def test_a_slow_hook_never_delays_the_frames(caplog: pytest.LogCaptureFixture) -> None:
    frames: list[Frame] = [EndOfTurn(pts=1.0 + i, text=f"turn {i}") for i in range(4)]
    frames += [
        ToolCallRequest(pts=5.5, call_id="c", name="note", arguments={"item": "x"}),
        ToolCallResult(pts=5.6, call_id="c", name="note", result="Noted x."),
    ]

    async def run(hooks: AgentHooks, clock: VirtualClock) -> tuple[list[tuple[str, float]], float]:
        stamp = Stamp()
        await run_stages([HookStage(hooks), stamp], frames, clock=clock, tail=1.0)
        return stamp.arrivals, clock.now()

    quick, _ = await run(AgentHooks(), VirtualClock())

    slow = AgentHooks(max_pending=2, drain_timeout=0.3)
    seen: list[str] = []

    @slow.on(AgentEvent)
    async def dawdle(event: AgentEvent) -> None:
        seen.append(type(event).__name__)
        await anyio.sleep(10.0)  # a web hook that hangs

    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="cascade.agent.hooks"):
        arrivals, ended_at = await run(slow, VirtualClock())
    assert arrivals == quick and ended_at == 6.6  # every frame passed at the same session time
    # the first event hung its hook, two waited (until the end's bound ran out), two were dropped
    assert seen == ["UserSpoke", "SessionEnded"]
    messages = [r.getMessage() for r in caplog.records]
    assert any("new events are dropped" in m for m in messages)
    assert any("2 hook events were dropped" in m for m in messages)
    assert any("hooks still busy" in m for m in messages)
    # the session waited a bounded time for its hooks at the end, SessionEnded included
    assert time.monotonic() - started < 0.3 * 2 + 1.0


class Boom(Stage):
    inputs = (EndOfTurn,)

    async def process(self, frame: Frame) -> None:
        raise RuntimeError("boom")


async def test_a_failed_session_still_ends_its_hooks() -> None:
    hooks, events = recording()
    with pytest.raises(StageError, match="boom"):
        await run_stages([HookStage(hooks), Boom()], [EndOfTurn(pts=1.0, text="hello")])
    ended = events[-1]
    assert isinstance(ended, SessionEnded) and ended.error is not None
    assert [line.text for line in ended.transcript] == ["hello"]


def test_registering_checks_what_it_gets() -> None:
    hooks = AgentHooks()
    with pytest.raises(TypeError, match="AgentEvent type"):
        hooks.on(EndOfTurn)  # type: ignore[type-var]
    with pytest.raises(TypeError, match="callable"):
        hooks.on(UserSpoke, "not a function")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_pending"):
        AgentHooks(max_pending=0)


def test_the_agent_adds_the_hook_stage_and_shares_userdata_per_session() -> None:
    made: list[dict[str, Any]] = []

    def userdata() -> dict[str, Any]:
        made.append({})
        return made[-1]

    agent = VoiceAgent(AgentConfig(), tools=[note], userdata=userdata)
    assert not any(isinstance(s, HookStage) for s in agent.pipeline().stages)

    @agent.on(UserSpoke)
    async def heard(event: UserSpoke) -> None: ...

    first, second = agent.pipeline(), agent.pipeline()
    for pipeline, data in ((first, made[1]), (second, made[2])):
        llm = next(s for s in pipeline.stages if isinstance(s, ChatLLM))
        hooks_stage = pipeline.stages[-1]
        assert isinstance(hooks_stage, HookStage) and hooks_stage.hooks is agent.hooks
        assert llm.userdata is data and hooks_stage.userdata is data  # one object per session
    assert made[1] is not made[2]


async def test_session_end_waits_for_the_queue_before_reporting() -> None:
    """Events still queued when the stream ends are delivered before SessionEnded."""
    hooks = AgentHooks()
    order: list[str] = []

    @hooks.on(UserSpoke)
    async def slowish(event: UserSpoke) -> None:
        await anyio.sleep(0.01)
        order.append(event.text)

    @hooks.on(SessionEnded)
    async def ended(event: SessionEnded) -> None:
        order.append("ended")

    turns = [EndOfTurn(pts=0.1, text="a"), EndOfTurn(pts=0.1, text="b")]
    await run_stages([HookStage(hooks)], turns, tail=0.0)
    assert order == ["a", "b", "ended"]
