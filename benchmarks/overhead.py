"""Framework overhead: per-hop latency, throughput, interruption speed, memory, start-up.

    python benchmarks/overhead.py [--frames 20000] [--quick] [--pipecat]

Prints one JSON document. Workloads (the same ones we run on Pipecat, so figures compare):

* W1: linear chain of N pass-through stages (N = 1, 5, 10, 20) carrying 20 ms / 16 kHz / int16
  audio frames (640 bytes). Latency: one frame in flight at a time (ping-pong), sink receive time
  minus source push time, p50/p99. Throughput: frames/s when pushing as fast as back-pressure allows.
* W2: 10 stages, the last emitting a frame every 20 ms; an interrupt injected at the head. Time
  until the last stage stops emitting and until the sink sees the interrupt; 50 repetitions.
* W3: RSS growth after 200 pipelines created, run and torn down one after another; RSS per
  pipeline with 50 idle pipelines alive at once.
* W4: import time of ``cascade`` and time to the first frame through a 10-stage pipeline.

``--pipecat`` also runs ``overhead_pipecat.py`` (the same workloads on Pipecat 1.14, with the
differences its docstring lists) in a side venv, ``<cache>/venvs/pipecat-1.14`` (made on first use
with ``pipecat-ai`` core only, never in this python), and adds its figures under ``"pipecat"``
and the ratios under ``"comparison"`` (greater than 1 means cascade is better).
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anyio
from machine_info import describe_machine as machine
from overhead_common import (
    chain_figures,
    import_seconds,
    interrupt_figures,
    memory_figures,
    rss_growth_mb,
    rss_mb,
)

from cascade.frames import EndOfTurn, Frame, Interrupt, LLMTextDelta, UserAudioFrame
from cascade.paths import cache_dir
from cascade.pipeline import run_session
from cascade.session import SessionContext
from cascade.stage import Stage
from cascade.transport import Source

PCM = bytes(640)
PIPECAT_VERSION = "1.14.0"


class PassThrough(Stage):
    """Handles audio and forwards it (the cost of a real stage's process call)."""

    inputs = (UserAudioFrame,)


class Pusher(Source):
    """Pushes ``count`` audio frames; with ``ping_pong`` waits for each to arrive first."""

    outputs = (UserAudioFrame,)

    def __init__(self, count: int, ping_pong: bool, arrived: Callable[[], anyio.Event]) -> None:
        super().__init__(name="Pusher")
        self.count, self.ping_pong, self.arrived = count, ping_pong, arrived
        self.pushed_at: list[float] = []

    async def produce(self) -> None:
        for i in range(self.count):
            frame = UserAudioFrame(pts=i * 0.02, pcm=PCM)
            self.pushed_at.append(time.perf_counter())
            await self.emit(frame)
            if self.ping_pong:
                await self.arrived().wait()


class Sink(Stage):
    """Records arrival times of audio frames and when it saw the interrupt."""

    inputs = (UserAudioFrame, LLMTextDelta)
    interruptible = True

    def __init__(self) -> None:
        super().__init__(name="Sink")
        self.received_at: list[float] = []
        self.event = anyio.Event()
        self.interrupt_seen: float | None = None

    async def process(self, frame: Frame) -> None:
        if isinstance(frame, UserAudioFrame):
            self.received_at.append(time.perf_counter())
            self.event.set()
            self.event = anyio.Event()

    async def on_interrupt(self, frame: Interrupt) -> None:
        self.interrupt_seen = time.perf_counter()


async def run_chain(stages: list[Stage], ctx: SessionContext | None = None) -> None:
    await run_session(stages, ctx or SessionContext())


async def w1(frames: int) -> list[dict[str, float]]:
    out = []
    for n in (1, 5, 10, 20):
        sink = Sink()
        pusher = Pusher(min(frames, 5000), True, lambda sink=sink: sink.event)
        await run_chain([pusher, *[PassThrough() for _ in range(n)], sink])
        lat = [r - p for p, r in zip(pusher.pushed_at, sink.received_at, strict=True)]
        sink = Sink()
        pusher = Pusher(frames, False, lambda sink=sink: sink.event)
        started = time.perf_counter()
        await run_chain([pusher, *[PassThrough() for _ in range(n)], sink])
        elapsed = time.perf_counter() - started
        out.append(chain_figures(n, lat, frames, elapsed))
    return out


class Emitter(Stage):
    """On EndOfTurn, emits a reply frame every 20 ms until interrupted."""

    inputs = (EndOfTurn,)
    outputs = (LLMTextDelta,)
    interruptible = True

    def __init__(self) -> None:
        super().__init__(name="Emitter")
        self.started = anyio.Event()
        self.stopped_at: float | None = None

    async def process(self, frame: Frame) -> None:
        try:
            while True:
                await self.emit(LLMTextDelta(generation=frame.generation, response_id="r", text="x"))
                self.started.set()
                await anyio.sleep(0.02)
        finally:
            self.stopped_at = time.perf_counter()


class Trigger(Source):
    """Sends one EndOfTurn, waits for the emitter, interrupts from the head, ends."""

    outputs = (EndOfTurn,)

    def __init__(self, emitter: Emitter) -> None:
        super().__init__(name="Trigger")
        self.emitter = emitter
        self.interrupted_at = 0.0

    async def produce(self) -> None:
        await self.emit(EndOfTurn(text="go"))
        await self.emitter.started.wait()
        await anyio.sleep(0.05)
        self.interrupted_at = time.perf_counter()
        self.interrupt("benchmark")
        await anyio.sleep(0.05)


async def w2(reps: int) -> dict[str, float]:
    stop, seen = [], []
    for _ in range(reps):
        emitter, sink = Emitter(), Sink()
        trigger = Trigger(emitter)
        await run_chain([trigger, *[PassThrough() for _ in range(9)], emitter, sink])
        assert emitter.stopped_at is not None and sink.interrupt_seen is not None
        stop.append(emitter.stopped_at - trigger.interrupted_at)
        seen.append(sink.interrupt_seen - trigger.interrupted_at)
    return interrupt_figures(stop, seen)


async def w3(sequential: int, idle: int) -> dict[str, float]:
    async def one() -> None:
        sink = Sink()
        await run_chain([Pusher(100, False, lambda: sink.event), *[PassThrough() for _ in range(10)], sink])

    growth = await rss_growth_mb(one, sequential)

    class Idle(Source):
        outputs = (UserAudioFrame,)

        async def produce(self) -> None:
            await release.wait()

    release = anyio.Event()
    gc.collect()
    base = rss_mb()
    async with anyio.create_task_group() as tg:
        for _ in range(idle):
            tg.start_soon(run_chain, [Idle(), *[PassThrough() for _ in range(10)], Sink()])
        await anyio.sleep(0.5)
        alive = rss_mb()
        release.set()
    return memory_figures(sequential, growth, idle, base, alive)


def w4_import() -> float:
    return import_seconds("import cascade")


async def w4_first_frame() -> float:
    sink = Sink()
    pusher = Pusher(1, False, lambda: sink.event)
    started = time.perf_counter()
    await run_chain([pusher, *[PassThrough() for _ in range(10)], sink])
    return sink.received_at[0] - started


def w0_frames(count: int = 20000) -> dict[str, float]:
    """Cost of the hot path's frame operations (validated construction, isinstance dispatch)."""
    started = time.perf_counter()
    for i in range(count):
        UserAudioFrame(pts=i * 0.02, pcm=PCM)
    build = (time.perf_counter() - started) / count
    frame = UserAudioFrame(pcm=PCM)
    types = (EndOfTurn, LLMTextDelta, UserAudioFrame)
    started = time.perf_counter()
    for _ in range(count):
        isinstance(frame, types)
    check = (time.perf_counter() - started) / count
    return {"audio_frame_build_us": round(build * 1e6, 2), "type_dispatch_us": round(check * 1e6, 3)}


def pipecat_python(extras: Sequence[str] = ()) -> Path:
    """Python of the side venv with ``pipecat-ai`` (core, pinned) and the pinned ``extras``
    (``name==version``) installed; made on first use, completed when an extra is missing."""
    venv = cache_dir("venvs", "pipecat-1.14")
    python = venv / "bin" / "python"
    pins = [f"pipecat-ai=={PIPECAT_VERSION}", *extras]
    probe = (
        "import importlib.metadata as m, sys\n"
        "for pin in sys.argv[1:]:\n"
        "    name, version = pin.split('==')\n"
        "    try:\n"
        "        ok = m.version(name) == version\n"
        "    except m.PackageNotFoundError:\n"
        "        ok = False\n"
        "    print(pin if ok else '')\n"
    )
    missing = pins
    if python.exists():
        found = subprocess.run([str(python), "-c", probe, *pins], capture_output=True, text=True)
        if found.returncode == 0:
            missing = [pin for pin in pins if pin not in found.stdout.split()]
        if not missing:
            return python
    else:
        print(f"making the Pipecat venv in {venv} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    install = [str(python), "-m", "pip", "install", "--quiet", *missing]
    if subprocess.run(install, stdout=sys.stderr).returncode != 0:
        sys.exit(f"could not install {' '.join(missing)} into {venv} (PyPI reachable?)")
    return python


def run_pipecat(args: argparse.Namespace) -> dict[str, Any]:
    """Runs overhead_pipecat.py in the Pipecat venv with the same sizes; returns its JSON."""
    script = Path(__file__).with_name("overhead_pipecat.py")
    command = [str(pipecat_python()), str(script), "--frames", str(args.frames)]
    done = subprocess.run(
        [*command, *(["--quick"] if args.quick else [])], stdout=subprocess.PIPE, check=True
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def compare(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    """Ratios oriented so that greater than 1 means cascade is better, and the issue's goals."""

    def ratio(numerator: float, denominator: float) -> float | None:
        return round(numerator / denominator, 2) if denominator else None

    def by_stages(theirs_w1: list[dict[str, float]], key: str, slower: bool) -> dict[str, float | None]:
        return {
            str(o["stages"]): ratio(p[key], o[key]) if slower else ratio(o[key], p[key])
            for o, p in zip(ours["w1_chain"], theirs_w1, strict=True)
        }

    def interruption(theirs_w2: dict[str, float]) -> dict[str, float | None]:
        return {
            key: ratio(theirs_w2[f"{key}_us"], ours["w2_interrupt"][f"{key}_us"])
            for key in ("emitter_stops_p50", "emitter_stops_p99", "sink_sees_interrupt_p50")
        }

    lean = theirs["lean"]
    per_hop = by_stages(theirs["w1_chain"], "per_hop_p50_us", True)
    throughput = by_stages(theirs["w1_chain"], "throughput_fps", False)
    stops = interruption(theirs["w2_interrupt"])
    both = {"cascade": ours, "pipecat": theirs}
    return {
        "per_hop_p50_pipecat_over_ours": per_hop,
        "latency_p99_pipecat_over_ours": by_stages(theirs["w1_chain"], "latency_p99_us", True),
        "throughput_ours_over_pipecat": throughput,
        "interruption_pipecat_over_ours": stops,
        "vs_pipecat_lean": {
            "per_hop_p50_pipecat_over_ours": by_stages(lean["w1_chain"], "per_hop_p50_us", True),
            "throughput_ours_over_pipecat": by_stages(lean["w1_chain"], "throughput_fps", False),
            "interruption_pipecat_over_ours": interruption(lean["w2_interrupt"]),
        },
        "w3_memory": {
            key: {name: run["w3_memory"][key] for name, run in both.items()}
            for key in ("rss_growth_mb", "rss_per_idle_pipeline_kb")
        },
        "w4_startup": {
            key: {name: run["w4_startup"][key] for name, run in both.items()}
            for key in ("import_s", "first_frame_10_stages_ms")
        },
        "goals": {
            "per_hop_at_most_a_fifth": all((r or 0) >= 5 for r in per_hop.values()),
            "throughput_at_least_3x": all((r or 0) >= 3 for r in throughput.values()),
            "interruption_at_least_3x_faster": all(
                (stops[key] or 0) >= 3 for key in ("emitter_stops_p50", "sink_sees_interrupt_p50")
            ),
            "no_w3_growth_below_0_5_mb": ours["w3_memory"]["rss_growth_mb"] < 0.5,
        },
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    frames = 2000 if args.quick else args.frames
    return {
        "benchmark": "overhead",
        "machine": machine(),
        "w0_frames": w0_frames(),
        "w1_chain": await w1(frames),
        "w2_interrupt": await w2(10 if args.quick else 50),
        "w3_memory": await w3(20 if args.quick else 200, 10 if args.quick else 50),
        "w4_startup": {
            "import_s": round(w4_import(), 3),
            "first_frame_10_stages_ms": round(await w4_first_frame() * 1000, 2),
        },
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--quick", action="store_true", help="small run (a smoke test)")
    parser.add_argument(
        "--pipecat", action="store_true", help="also run the workloads on Pipecat 1.14 and compare"
    )
    arguments = parser.parse_args()
    report = anyio.run(main, arguments)
    if arguments.pipecat:
        pipecat = run_pipecat(arguments)
        report["pipecat"] = pipecat
        report["comparison"] = {"pipecat_version": pipecat["pipecat_version"], **compare(report, pipecat)}
    print(json.dumps(report, indent=2))
