"""Interruption: generation counter + cancel scopes + playout flush + heard text."""

from __future__ import annotations

import pytest

from cascade import Stage
from cascade.frames import (
    BotAudioFrame,
    BotSpeechEnded,
    EndOfTurn,
    Frame,
    Interrupt,
    LLMResponseEnded,
    LLMTextDelta,
    UserAudioFrame,
)
from cascade.session import SessionContext
from cascade.testing import run_stages
from cascade.testing.fakes import FakeASR, FakeLLM, FakeTTS, FakeTurnTaker
from cascade.testing.sinks import PacedSink
from tests.core.helpers import audio, speech

LONG_REPLY = "This is a rather long answer that keeps going for many words so the caller can cut in."


@pytest.mark.anyio
async def test_barge_in_stops_playback_and_keeps_only_heard_text() -> None:
    sink = PacedSink()
    llm = FakeLLM(LONG_REPLY)
    # caller speaks 0.2-1.0 s, the bot answers ~1.4 s; caller barges in at 2.0 s
    frames = speech(0.2, 1.0, 2.0) + [audio(2.0 + i * 0.02, loud=True) for i in range(10)]
    frames += [audio(2.2 + i * 0.02) for i in range(100)]
    result = await run_stages(
        [FakeASR(["question", "stop"]), FakeTurnTaker(), llm, FakeTTS(), sink], frames, tail=3.0
    )
    assert len(result.interrupts) == 1
    barge_in = result.interrupts[0].pts
    assert barge_in == pytest.approx(2.0, abs=0.03)
    before = [t for t in sink.played_at if t <= barge_in + 0.001]
    after_first = [t for t in sink.played_at if barge_in + 0.001 < t < barge_in + 0.5]
    assert before, "the bot should have been speaking"
    # at most one 20 ms tick already in flight may still go out
    assert len(after_first) <= 1
    ended = [e for e in result.events if isinstance(e, BotSpeechEnded)]
    assert ended[0].interrupted
    heard = ended[0].heard_text
    assert heard and LONG_REPLY.startswith(heard.rstrip(".")) and len(heard) < len(LONG_REPLY)
    assert llm.heard[0] == heard
    # the second utterance ("stop") got its own answer, of the new generation
    assert ended[-1].response_id != ended[0].response_id and not ended[-1].interrupted
    assert result.timelines[0].interrupted


class Emitter(Stage):
    """Emits a reply frame every 20 ms from an EndOfTurn until interrupted (W2-like)."""

    inputs = (EndOfTurn,)
    outputs = (LLMTextDelta,)
    interruptible = True

    def __init__(self) -> None:
        super().__init__()
        self.last_emit = 0.0
        self.cancelled = False

    async def process(self, frame: Frame) -> None:
        try:
            while True:
                await self.emit(
                    LLMTextDelta(pts=self.clock.now(), generation=frame.generation, response_id="r", text="x")
                )
                self.last_emit = self.clock.now()
                await self.clock.sleep(0.02)
        finally:
            self.cancelled = True


class Clog(Stage):
    """Slow stage in front: audio queues up behind it."""

    inputs = (UserAudioFrame,)

    async def process(self, frame: Frame) -> None:
        await self.clock.sleep(0.5)
        await self.emit(frame)


class InterruptSeen(Stage):
    events = ()

    def __init__(self) -> None:
        super().__init__()
        self.at: list[float] = []

    async def on_interrupt(self, frame: Interrupt) -> None:
        self.at.append(self.clock.now())


@pytest.mark.anyio
async def test_interrupt_is_never_stuck_behind_queued_audio() -> None:
    emitter, seen = Emitter(), InterruptSeen()
    frames: list[Frame] = [EndOfTurn(pts=0.0, text="go"), *[audio(i * 0.001) for i in range(40)]]
    result = await run_stages(
        [emitter, Clog(), seen],
        frames,
        tail=1.0,
        actions={0.1: lambda ctx: ctx.interrupt("test")},
        queue_size=8,
    )
    assert emitter.cancelled
    assert emitter.last_emit <= 0.1
    # the stage behind 40 queued audio frames (20 s of work) saw the interrupt at once
    assert seen.at == [pytest.approx(0.1)]
    assert len(result.of(UserAudioFrame)) == 40  # caller audio is never dropped


class SideEffect(Stage):
    """A tool-like step that must finish even when interrupted."""

    inputs = (EndOfTurn,)
    outputs = (LLMTextDelta,)
    interruptible = True

    def __init__(self) -> None:
        super().__init__()
        self.committed = False
        self.after_shield_ran = False

    async def process(self, frame: Frame) -> None:
        with self.uninterruptible():
            await self.clock.sleep(1.0)
            self.committed = True
        await self.emit(LLMTextDelta(generation=frame.generation, response_id="r", text="done"))
        self.after_shield_ran = True


@pytest.mark.anyio
async def test_uninterruptible_work_finishes_then_cancellation_applies() -> None:
    stage = SideEffect()
    await run_stages(
        [stage], [EndOfTurn(pts=0.0, text="pay")], tail=2.0, actions={0.2: lambda ctx: ctx.interrupt()}
    )
    assert stage.committed and not stage.after_shield_ran


@pytest.mark.anyio
async def test_stale_reply_frames_queued_downstream_are_dropped() -> None:
    stale = [
        LLMTextDelta(pts=0.0, generation=0, response_id="old", text="a"),
        LLMTextDelta(pts=0.2, generation=0, response_id="old", text="b"),
        LLMTextDelta(pts=0.2, generation=1, response_id="new", text="c"),
        LLMResponseEnded(pts=0.2, generation=1, response_id="new", text="c"),
    ]

    def bump(ctx: SessionContext) -> None:
        ctx.interrupt()

    result = await run_stages([FakeTTS()], stale, tail=1.0, actions={0.1: bump})
    texts = [f.text for f in result.of(BotAudioFrame) if f.text]
    assert texts == ["c "]


@pytest.mark.anyio
async def test_flush_reports_partial_words_of_the_chunk_being_played() -> None:
    sink = PacedSink()
    frames: list[Frame] = [EndOfTurn(pts=0.0, text="q")]
    result = await run_stages(
        [FakeLLM("one two three four five six seven eight.", ttft=0.0), FakeTTS(word_seconds=0.2), sink],
        frames,
        tail=2.0,
        actions={0.55: lambda ctx: ctx.interrupt("barge-in")},
    )
    ended = [e for e in result.events if isinstance(e, BotSpeechEnded)]
    assert len(ended) == 1 and ended[0].interrupted
    # playback started ~0.18 s: "one" (0.2 s) was heard completely, "two" only in part
    assert ended[0].heard_text == "one"


class InterruptsOnItsTurn(Stage):
    """A reply-side stage that interrupts while processing (its scope is cancelled) and returns."""

    inputs = (EndOfTurn,)
    interruptible = True

    async def process(self, frame: Frame) -> None:
        self.interrupt("own")


@pytest.mark.anyio
async def test_frames_passed_through_by_a_cancelled_reply_stage_are_not_lost() -> None:
    # the cancelled scope catches the pass-through of the audio behind the turn in a full queue
    frames: list[Frame] = [EndOfTurn(pts=0.0, text="go"), *[audio(0.0) for _ in range(6)]]
    result = await run_stages([InterruptsOnItsTurn(), Clog()], frames, tail=5.0, queue_size=1)
    assert len(result.of(UserAudioFrame)) == 6
    assert result.ctx.generation == 1


class CountsAudio(Stage):
    """A reply-side stage that also handles caller audio (frames an interrupt does not drop)."""

    inputs = (UserAudioFrame,)
    interruptible = True

    def __init__(self) -> None:
        super().__init__()
        self.generations: list[int] = []

    async def process(self, frame: Frame) -> None:
        self.generations.append(self.generation)
        await self.emit(frame)


@pytest.mark.anyio
@pytest.mark.timeout(20)  # the bug this guards against was a busy loop
async def test_frames_of_an_older_generation_still_reach_an_interruptible_stage() -> None:
    stage = CountsAudio()
    frames: list[Frame] = [audio(i * 0.02) for i in range(10)]  # all of generation 0
    result = await run_stages([stage], frames, tail=0.5, actions={0.05: lambda ctx: ctx.interrupt()})
    assert stage.generations[:3] == [0, 0, 0] and stage.generations[-1] == 1
    assert len(result.of(UserAudioFrame)) == 10  # caller audio is never dropped
