"""Pipecat's framework overhead on the workloads of ``overhead.py`` (run in Pipecat's own venv).

    <pipecat venv>/bin/python benchmarks/overhead_pipecat.py [--frames 20000] [--quick]

``python benchmarks/overhead.py --pipecat`` makes the venv (``pipecat-ai`` core, no extras) and
runs this file in it; it cannot import cascade. Prints one JSON document whose keys match
``overhead.py`` where a workload applies.

Configuration: each pipeline runs the way a Pipecat 1.14 bot runs one, a ``PipelineWorker`` with
its defaults on its own ``WorkerRunner`` (``handle_sigint=False``, which touches no frame path).
The defaults put an ``RTVIProcessor`` at the head and three observers (RTVI, turn tracking, idle
timeout) on the pipeline; every push and every processed frame is queued to each observer's task.
The ``lean`` section repeats W1 and W2 with ``enable_rtvi=False, enable_turn_tracking=False,
idle_timeout_secs=None`` (no observers), Pipecat's fastest configuration. Loguru's handler is set to
WARNING (its default is DEBUG to stderr, a few lines per pipeline start/stop, none per frame).

The workloads, and where they differ from ours:

* W1: ``Head`` + N pass-through ``FrameProcessor``s + ``Sink``; 20 ms / 16 kHz / mono int16
  ``InputAudioRawFrame``s (640 bytes; a ``SystemFrame`` in Pipecat, so each hop is one input-queue
  task, not the data-frame queue). The head pushes from the benchmark task, as a transport pushes
  from its own; N + 1 hops as in ours. Latency is ping-pong, after the pipeline has started and
  200 warm-up frames went through (ours measures from a cold pipeline). Pipecat's queues are
  unbounded, so there is no back-pressure: throughput is frames / (last arrival - first push)
  with every frame pushed at once into the warm pipeline (ours includes the pipeline's start and
  end-of-stream drain in the elapsed time).
* W2: ``Head`` + 9 pass-throughs + ``Emitter`` + ``Sink``. A data frame starts the emitter, which
  pushes an ``LLMTextFrame`` every 20 ms inside ``process_frame`` (as an LLM service streams); the
  head interrupts the idiomatic way, ``broadcast_interruption()``, whose ``InterruptionFrame``
  makes every processor cancel its process task on the way down. Stop = the emitter's loop ends;
  seen = the sink processes the ``InterruptionFrame``. One unmeasured warm-up repetition.
* W3: as ours (100 frames through head + 10 pass-throughs + sink, then ``EndFrame``; 20 warm-up
  runs); the 50 idle pipelines are 50 workers each on its own runner, all started. As in ours,
  they are measured after the sequential runs, whose freed memory they partly reuse, so RSS per
  idle pipeline understates what a fresh process pays (Pipecat frees more: its W3 runs queue all
  100 frames at once).
* W4: import of ``pipecat.pipeline.pipeline``, ``pipecat.pipeline.worker``,
  ``pipecat.processors.frame_processor`` and ``pipecat.workers.runner`` minus ``pass`` (best of
  5, default logging to a null stderr); first frame = from building a 10-stage pipeline to the
  sink receiving the frame the head pushes once it has started.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import time
from dataclasses import dataclass
from typing import Any

from loguru import logger
from overhead_common import (
    chain_figures,
    import_seconds,
    interrupt_figures,
    memory_figures,
    rss_growth_mb,
    rss_mb,
)

logger.remove()
logger.add(sys.stderr, level="WARNING")

import pipecat  # noqa: E402
from pipecat.frames.frames import (  # noqa: E402
    DataFrame,
    EndFrame,
    Frame,
    InputAudioRawFrame,
    InterruptionFrame,
    LLMTextFrame,
    StartFrame,
)
from pipecat.pipeline.pipeline import Pipeline  # noqa: E402
from pipecat.pipeline.worker import PipelineWorker  # noqa: E402
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor  # noqa: E402
from pipecat.workers.runner import WorkerRunner  # noqa: E402

PCM = bytes(640)
WARMUP_FRAMES = 200
DEFAULT: dict[str, Any] = {}
LEAN: dict[str, Any] = {"enable_rtvi": False, "enable_turn_tracking": False, "idle_timeout_secs": None}


def audio(i: int) -> InputAudioRawFrame:
    frame = InputAudioRawFrame(audio=PCM, sample_rate=16000, num_channels=1)
    frame.pts = i * 20_000_000
    return frame


class PassThrough(FrameProcessor):
    """Forwards every frame (the cost of a real processor's process_frame)."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)


class Head(PassThrough):
    """First processor: frames are pushed from it; with ``first_frame`` it pushes one on start."""

    def __init__(self, first_frame: bool = False) -> None:
        super().__init__(name="Head")
        self.first_frame = first_frame

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, StartFrame) and self.first_frame:
            await self.push_frame(audio(0))


class Sink(FrameProcessor):
    """Records audio arrivals and the interruption; consumes audio and text, forwards the rest."""

    def __init__(self) -> None:
        super().__init__(name="Sink")
        self.received_at: list[float] = []
        self.event = asyncio.Event()
        self.started = asyncio.Event()
        self.interrupt_seen: float | None = None
        self.expect = 0
        self.all_arrived = asyncio.Event()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame):
            self.received_at.append(time.perf_counter())
            self.event.set()
            self.event = asyncio.Event()
            if len(self.received_at) == self.expect:
                self.all_arrived.set()
            return
        if isinstance(frame, LLMTextFrame):
            return
        if isinstance(frame, InterruptionFrame):
            self.interrupt_seen = time.perf_counter()
        elif isinstance(frame, StartFrame):
            self.started.set()
        await self.push_frame(frame, direction)


@dataclass
class Go(DataFrame):
    """Starts the emitter (a data frame, so an interruption may cancel its processing)."""


class Emitter(FrameProcessor):
    """On ``Go``, pushes a text frame every 20 ms inside process_frame until interrupted."""

    def __init__(self) -> None:
        super().__init__(name="Emitter")
        self.started = asyncio.Event()
        self.stopped_at: float | None = None

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if not isinstance(frame, Go):
            await self.push_frame(frame, direction)
            return
        try:
            while True:
                await self.push_frame(LLMTextFrame(text="x"))
                self.started.set()
                await asyncio.sleep(0.02)
        finally:
            self.stopped_at = time.perf_counter()


class Running:
    """One pipeline on its own runner, as a bot session runs it; ended with an EndFrame."""

    def __init__(self, processors: list[FrameProcessor], sink: Sink, config: dict[str, Any]) -> None:
        self.worker = PipelineWorker(Pipeline(processors), **config)
        self.runner = WorkerRunner(handle_sigint=False)
        self.sink = sink

    async def run(self) -> None:
        await self.runner.add_workers(self.worker)
        await self.runner.run()

    async def end(self) -> None:
        await self.worker.queue_frame(EndFrame())


async def ping_pong(head: Head, sink: Sink, count: int, first: int = 0) -> list[float]:
    latencies = []
    for i in range(first, first + count):
        frame = audio(i)
        arrived = sink.event
        pushed = time.perf_counter()
        await head.push_frame(frame)
        await arrived.wait()
        latencies.append(sink.received_at[-1] - pushed)
    return latencies


async def w1_one(n: int, frames: int, config: dict[str, Any]) -> dict[str, float]:
    head, sink = Head(), Sink()
    running = Running([head, *[PassThrough() for _ in range(n)], sink], sink, config)
    async with asyncio.TaskGroup() as tg:
        tg.create_task(running.run())
        await sink.started.wait()
        await ping_pong(head, sink, WARMUP_FRAMES)
        lat = await ping_pong(head, sink, min(frames, 5000), WARMUP_FRAMES)
        sink.received_at.clear()
        sink.expect = frames
        started = time.perf_counter()
        for i in range(frames):
            await head.push_frame(audio(i))
        await sink.all_arrived.wait()
        elapsed = sink.received_at[-1] - started
        await running.end()
    return chain_figures(n, lat, frames, elapsed)


async def w1(frames: int, config: dict[str, Any]) -> list[dict[str, float]]:
    return [await w1_one(n, frames, config) for n in (1, 5, 10, 20)]


async def w2_one(config: dict[str, Any]) -> tuple[float, float]:
    head, emitter, sink = Head(), Emitter(), Sink()
    running = Running([head, *[PassThrough() for _ in range(9)], emitter, sink], sink, config)
    async with asyncio.TaskGroup() as tg:
        tg.create_task(running.run())
        await sink.started.wait()
        await head.push_frame(Go())
        await emitter.started.wait()
        await asyncio.sleep(0.05)
        interrupted_at = time.perf_counter()
        await head.broadcast_interruption()
        await asyncio.sleep(0.05)
        await running.end()
    assert emitter.stopped_at is not None and sink.interrupt_seen is not None
    return emitter.stopped_at - interrupted_at, sink.interrupt_seen - interrupted_at


async def w2(reps: int, config: dict[str, Any]) -> dict[str, float]:
    await w2_one(config)  # warm-up
    stop, seen = [], []
    for _ in range(reps):
        stopped, sink_saw = await w2_one(config)
        stop.append(stopped)
        seen.append(sink_saw)
    return interrupt_figures(stop, seen)


def ten_stages(sink: Sink, head: Head | None = None) -> list[FrameProcessor]:
    return [head or Head(), *[PassThrough() for _ in range(10)], sink]


async def w3(sequential: int, idle: int) -> dict[str, float]:
    async def one() -> None:
        head, sink = Head(), Sink()
        running = Running(ten_stages(sink, head), sink, DEFAULT)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(running.run())
            await sink.started.wait()
            for i in range(100):
                await head.push_frame(audio(i))
            await running.end()

    growth = await rss_growth_mb(one, sequential)
    gc.collect()
    base = rss_mb()
    pipelines = []
    for _ in range(idle):
        sink = Sink()
        pipelines.append(Running(ten_stages(sink), sink, DEFAULT))
    async with asyncio.TaskGroup() as tg:
        for running in pipelines:
            tg.create_task(running.run())
        for running in pipelines:
            await running.sink.started.wait()
        await asyncio.sleep(0.5)
        alive = rss_mb()
        for running in pipelines:
            await running.end()
    return memory_figures(sequential, growth, idle, base, alive)


IMPORT = (
    "import pipecat.pipeline.pipeline, pipecat.pipeline.worker, "
    "pipecat.processors.frame_processor, pipecat.workers.runner"
)


def w4_import() -> float:
    return import_seconds(IMPORT)


async def w4_first_frame() -> float:
    started = time.perf_counter()
    sink = Sink()
    running = Running(ten_stages(sink, Head(first_frame=True)), sink, DEFAULT)
    async with asyncio.TaskGroup() as tg:
        tg.create_task(running.run())
        while not sink.received_at:
            await sink.event.wait()
        await running.end()
    return sink.received_at[0] - started


def w0_frames(count: int = 20000) -> dict[str, float]:
    """Cost of building an audio frame and of an isinstance dispatch on it."""
    started = time.perf_counter()
    for i in range(count):
        audio(i)
    build = (time.perf_counter() - started) / count
    frame = audio(0)
    types = (StartFrame, LLMTextFrame, InputAudioRawFrame)
    started = time.perf_counter()
    for _ in range(count):
        isinstance(frame, types)
    check = (time.perf_counter() - started) / count
    return {"audio_frame_build_us": round(build * 1e6, 2), "type_dispatch_us": round(check * 1e6, 3)}


def machine() -> dict[str, Any]:
    try:
        from machine_info import describe_machine  # next to this file; no cascade import

        return describe_machine()
    except ImportError:
        return {}


async def main(args: argparse.Namespace) -> dict[str, object]:
    frames = 2000 if args.quick else args.frames
    reps = 10 if args.quick else 50
    return {
        "benchmark": "overhead_pipecat",
        "pipecat_version": pipecat.__version__,
        "machine": machine(),
        "configuration": "PipelineWorker defaults (RTVI processor + RTVI, turn-tracking, idle observers)",
        "w0_frames": w0_frames(),
        "w1_chain": await w1(frames, DEFAULT),
        "w2_interrupt": await w2(reps, DEFAULT),
        "w3_memory": await w3(20 if args.quick else 200, 10 if args.quick else 50),
        "w4_startup": {
            "import_s": round(w4_import(), 3),
            "first_frame_10_stages_ms": round(await w4_first_frame() * 1000, 2),
        },
        "lean": {
            "configuration": LEAN,
            "w1_chain": await w1(frames, LEAN),
            "w2_interrupt": await w2(reps, LEAN),
        },
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--quick", action="store_true", help="small run (a smoke test)")
    print(json.dumps(asyncio.run(main(parser.parse_args())), indent=2))
