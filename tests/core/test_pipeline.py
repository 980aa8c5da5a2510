"""Pipeline wiring: type checks, pass-through, fan-out/merge, nesting, errors, lifecycle."""

from __future__ import annotations

import anyio
import pytest

from cascade import Parallel, Pipeline, PipelineTypeError, Stage, StageError
from cascade.frames import (
    EndOfStream,
    EndOfTurn,
    FinalTranscript,
    Frame,
    LLMTextDelta,
    SpeechStarted,
    UserAudioFrame,
)
from cascade.testing import run_stages
from cascade.testing.fakes import FakeLLM, FakeTTS
from tests.core.helpers import audio


class Upper(Stage):
    inputs = (FinalTranscript,)
    outputs = (FinalTranscript,)

    async def process(self, frame: Frame) -> None:
        assert isinstance(frame, FinalTranscript)
        await self.emit(frame.model_copy(update={"text": frame.text.upper()}))


class CountAudio(Stage):
    """Consumes audio, emits one SpeechStarted per 5 frames."""

    inputs = (UserAudioFrame,)
    outputs = (SpeechStarted,)

    def __init__(self, name: str = "CountAudio") -> None:
        super().__init__(name=name)
        self.seen = 0

    async def process(self, frame: Frame) -> None:
        self.seen += 1
        if self.seen % 5 == 0:
            await self.emit(SpeechStarted(pts=frame.pts))


class Boom(Stage):
    inputs = (FinalTranscript,)

    async def process(self, frame: Frame) -> None:
        raise ValueError("kaput")


class CloseTracker(Stage):
    inputs = (FinalTranscript,)

    def __init__(self) -> None:
        super().__init__()
        self.closed = False
        self.finished = False

    async def finish(self) -> None:
        self.finished = True

    async def close(self) -> None:
        self.closed = True


def test_type_mismatch_names_both_stages_and_types() -> None:
    with pytest.raises(PipelineTypeError) as err:
        Pipeline([FakeLLM(), FakeTTS()], input_types=(UserAudioFrame,))
    message = str(err.value)
    assert "FakeLLM" in message and "EndOfTurn" in message and "UserAudioFrame" in message
    with pytest.raises(PipelineTypeError) as err:
        Pipeline([CountAudio(), FakeTTS()])
    assert "FakeTTS" in str(err.value) and "CountAudio" in str(err.value)
    assert "LLMTextDelta" in str(err.value)


def test_valid_chain_builds_and_reports_types() -> None:
    pipeline = Pipeline([FakeLLM(), FakeTTS()], input_types=(EndOfTurn,))
    assert set(pipeline.outputs) >= {LLMTextDelta}
    assert EndOfTurn in pipeline.inputs


@pytest.mark.anyio
async def test_unhandled_frames_pass_through_in_order() -> None:
    frames = [
        FinalTranscript(pts=0.1, text="a"),
        SpeechStarted(pts=0.2),
        FinalTranscript(pts=0.3, text="b"),
    ]
    result = await run_stages([Upper()], frames, tail=0.1)
    assert [getattr(f, "text", f.kind) for f in result.frames] == ["A", "SpeechStarted", "B", "EndOfStream"]


@pytest.mark.anyio
async def test_parallel_fan_out_merges_and_forwards_inputs_once() -> None:
    left, right = CountAudio("left"), CountAudio("right")
    frames = [audio(i * 0.02) for i in range(10)]
    result = await run_stages([Parallel(left, right)], frames, tail=0.1)
    assert left.seen == right.seen == 10
    assert len(result.of(UserAudioFrame)) == 10
    assert len(result.of(SpeechStarted)) == 4
    assert isinstance(result.frames[-1], EndOfStream)
    assert len(result.of(EndOfStream)) == 1


@pytest.mark.anyio
async def test_pipeline_as_a_stage() -> None:
    inner = Pipeline([Upper(), CountAudio()], name="inner", input_types=None)
    frames = [FinalTranscript(pts=0.0, text="x"), *[audio(0.02 * i) for i in range(5)]]
    result = await run_stages([inner], frames, tail=0.1)
    assert [f.text for f in result.of(FinalTranscript)] == ["X"]
    assert len(result.of(SpeechStarted)) == 1


@pytest.mark.anyio
async def test_stage_error_names_the_stage_and_closes_everything() -> None:
    tracker = CloseTracker()
    with pytest.raises(StageError) as err:
        await run_stages([tracker, Boom()], [FinalTranscript(pts=0.1, text="x")])
    assert err.value.stage == "Boom"
    assert "kaput" in str(err.value)
    assert isinstance(err.value.__cause__, ValueError)
    assert tracker.closed and not tracker.finished


@pytest.mark.anyio
async def test_graceful_end_of_stream_runs_finish_then_close() -> None:
    tracker = CloseTracker()
    result = await run_stages([tracker], [FinalTranscript(pts=0.1, text="x")], tail=0.0)
    assert tracker.finished and tracker.closed
    assert isinstance(result.frames[-1], EndOfStream)


class Slow(Stage):
    """Takes 1 s (virtual) per frame: queues fill up behind it."""

    inputs = (UserAudioFrame,)

    def __init__(self) -> None:
        super().__init__()
        self.done = 0

    async def process(self, frame: Frame) -> None:
        await self.clock.sleep(1.0)
        self.done += 1
        await self.emit(frame)


class Producer(Stage):
    """Turns one trigger into 50 frames as fast as it may; records how far it got."""

    inputs = (FinalTranscript,)
    outputs = (UserAudioFrame,)

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0

    async def process(self, frame: Frame) -> None:
        for i in range(50):
            await self.emit(audio(i * 0.02))
            self.sent += 1


@pytest.mark.anyio
async def test_back_pressure_blocks_a_fast_producer() -> None:
    producer, slow = Producer(), Slow()

    async def check_blocked() -> None:
        pass

    seen: list[int] = []
    result = await run_stages(
        [producer, slow],
        [FinalTranscript(pts=0.0, text="go")],
        tail=60.0,
        queue_size=4,
        actions={3.5: lambda ctx: seen.append(producer.sent)},
    )
    # after 3.5 s the slow stage has taken 4 frames; the producer is bounded by the queue size
    assert seen[0] <= 3 + 4 + 2
    assert slow.done == 50
    assert len(result.of(UserAudioFrame)) == 50


@pytest.mark.anyio
async def test_real_clock_pipeline_run_with_cancel_leaves_nothing() -> None:
    """Cancelling a running session from outside stops every stage."""
    from cascade.testing import assert_no_leaked_tasks
    from cascade.testing.runner import ListSource

    closed: list[str] = []

    class Forever(Stage):
        inputs = (UserAudioFrame,)

        async def process(self, frame: Frame) -> None:
            await anyio.sleep_forever()

        async def close(self) -> None:
            closed.append(self.name)

    from cascade.pipeline import run_session
    from cascade.session import SessionContext

    async def session() -> None:
        with anyio.move_on_after(0.2):
            await run_session([ListSource([audio(0.0)], tail=10), Forever()], SessionContext())

    await assert_no_leaked_tasks(session)
    assert closed == ["Forever"]
