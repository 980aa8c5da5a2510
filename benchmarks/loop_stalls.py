"""Event-loop stalls, told apart from the machine's own scheduling hiccups.

A benchmark's event loop wakes a 5 ms sleeper over and over; each time it wakes late is a stall.
On a shared VM a thread is sometimes not run for tens of milliseconds whatever it does (another
tenant, memory management), and the loop then looks stalled although nothing in the process held
it. So an idle *separate process* wakes the same 5 ms sleeper meanwhile: a loop stall that an idle
process saw at the same moment (at least half as long, overlapping in time) was the machine's;
the others were the process's own (a long call on the loop thread, the GIL held by a worker, a
garbage collection). Times are ``time.monotonic()``, which is system-wide.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import anyio

PERIOD = 0.005
"""The sleeper's period, in seconds."""
NOTED = 0.002
"""Lateness below this is not recorded."""
_IDLE_SLEEPER = f"""
import time
while True:
    began = time.monotonic()
    time.sleep({PERIOD})
    now = time.monotonic()
    if now - began - {PERIOD} > {NOTED}:
        print(now, now - began - {PERIOD}, flush=True)
"""

Stall = tuple[float, float]
"""(monotonic time the sleeper woke, seconds it woke late)."""


@dataclass
class LoopStalls:
    """Stalls of this process's event loop, recorded by :meth:`watch`."""

    stalls: list[Stall] = field(default_factory=list)

    async def watch(self) -> None:
        """Wake every :data:`PERIOD` until cancelled, noting each late wake-up."""
        while True:
            began = time.monotonic()
            await anyio.sleep(PERIOD)
            now = time.monotonic()
            if now - began - PERIOD > NOTED:
                self.stalls.append((now, now - began - PERIOD))


def longest_ms(stalls: list[Stall]) -> float:
    """The longest of ``stalls``, in milliseconds (0 when none)."""
    return round(max((late for _, late in stalls), default=0.0) * 1000, 1)


def _overlaps(a: Stall, b: Stall) -> bool:
    return a[0] - a[1] < b[0] and b[0] - b[1] < a[0]


def unshared(loop: list[Stall], idle: list[Stall]) -> list[Stall]:
    """The loop stalls no idle-process stall of at least half their length overlapped."""
    return [s for s in loop if not any(h[1] >= s[1] / 2 and _overlaps(s, h) for h in idle)]


@contextmanager
def idle_process_stalls() -> Iterator[list[Stall]]:
    """Run the idle sleeper process for the block; the list fills with its stalls at the end."""
    stalls: list[Stall] = []
    with tempfile.TemporaryFile("w+") as out:
        sleeper = subprocess.Popen([sys.executable, "-c", _IDLE_SLEEPER], stdout=out)
        try:
            yield stalls
        finally:
            sleeper.kill()
            sleeper.wait()
            out.seek(0)
            for line in out:
                at, late = line.split()
                stalls.append((float(at), float(late)))
