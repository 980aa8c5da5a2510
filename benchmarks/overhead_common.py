"""What ``overhead.py`` and ``overhead_pipecat.py`` measure alike (standard library only: the
Pipecat side runs in its own venv, without cascade)."""

from __future__ import annotations

import gc
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def rss_mb() -> float:
    """This process's resident memory."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def chain_figures(stages: int, latencies: list[float], frames: int, elapsed: float) -> dict[str, float]:
    """W1's row for a chain of ``stages`` pass-throughs (``stages + 1`` hops)."""
    return {
        "stages": stages,
        "latency_p50_us": round(pct(latencies, 0.5) * 1e6, 1),
        "latency_p99_us": round(pct(latencies, 0.99) * 1e6, 1),
        "per_hop_p50_us": round(pct(latencies, 0.5) * 1e6 / (stages + 1), 1),
        "throughput_fps": round(frames / elapsed),
    }


def interrupt_figures(stop: list[float], seen: list[float]) -> dict[str, float]:
    """W2's figures from the per-repetition stop and seen times (seconds)."""
    return {
        "repetitions": len(stop),
        "emitter_stops_p50_us": round(pct(stop, 0.5) * 1e6, 1),
        "emitter_stops_p99_us": round(pct(stop, 0.99) * 1e6, 1),
        "sink_sees_interrupt_p50_us": round(pct(seen, 0.5) * 1e6, 1),
        "sink_sees_interrupt_p99_us": round(pct(seen, 0.99) * 1e6, 1),
    }


async def rss_growth_mb(one: Callable[[], Awaitable[None]], sequential: int) -> float:
    """W3: RSS growth over ``sequential`` runs of ``one`` (after 20 warm-up runs)."""
    for _ in range(20):  # warm up allocator and caches
        await one()
    gc.collect()
    before = rss_mb()
    for _ in range(sequential):
        await one()
    gc.collect()
    return round(rss_mb() - before, 2)


def memory_figures(sequential: int, growth: float, idle: int, base: float, alive: float) -> dict[str, float]:
    """W3's figures (``base``/``alive``: RSS before and with the ``idle`` pipelines)."""
    return {
        "sequential_pipelines": sequential,
        "rss_growth_mb": growth,
        "idle_pipelines": idle,
        "rss_per_idle_pipeline_kb": round((alive - base) * 1024 / idle, 1),
    }


def import_seconds(code: str) -> float:
    """W4: the best of 5 runs of ``python -c code`` minus that of ``python -c pass``."""

    def timed(source: str) -> float:
        best = float("inf")
        for _ in range(5):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", source], check=True, stderr=subprocess.DEVNULL)
            best = min(best, time.perf_counter() - started)
        return best

    return timed(code) - timed("pass")
