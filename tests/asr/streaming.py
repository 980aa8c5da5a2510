"""Stream recorded speech through real stages on the real clock (models use threads)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import anyio
import numpy as np

from cascade.audio import load_audio
from cascade.clock import RealClock
from cascade.frames import Frame, UserAudioFrame
from cascade.metrics import MetricsCollector, TurnTimeline
from cascade.pipeline import run_session
from cascade.session import SessionContext
from cascade.stage import Stage
from cascade.transport import Source


class PacedSource(Source):
    """Sends int16 mono audio as 20 ms frames, paced on the clock at ``speed`` x real time."""

    outputs = (UserAudioFrame,)

    def __init__(self, audio: np.ndarray, rate: int, speed: float = 1.0) -> None:
        super().__init__(name="PacedSource")
        self.audio, self.rate, self.speed = audio, rate, speed

    async def produce(self) -> None:
        """Emit the frames on schedule."""
        step = self.rate // 50
        for i in range(0, len(self.audio) - step + 1, step):
            pts = i / self.rate
            await self.clock.sleep_until(pts / self.speed)
            pcm = self.audio[i : i + step].tobytes()
            await self.emit(UserAudioFrame(pts=pts, pcm=pcm, sample_rate=self.rate))


@dataclass
class Received:
    """Output frames with the session time each arrived."""

    frames: list[tuple[float, Frame]] = field(default_factory=list)
    timelines: list[TurnTimeline] = field(default_factory=list)

    def of(self, kind: type[Frame]) -> list[Frame]:
        """Frames of one type, in order."""
        return [f for _, f in self.frames if isinstance(f, kind)]


class _Collect(Stage):
    def __init__(self, received: Received) -> None:
        super().__init__(name="Collect")
        self.received = received
        self.inputs = (Frame,)

    async def process(self, frame: Frame) -> None:
        self.received.frames.append((self.clock.now(), frame))
        if not isinstance(frame, UserAudioFrame):
            await self.emit(frame)


def with_silence(audio: np.ndarray, rate: int, lead: float = 0.5, tail: float = 1.2) -> np.ndarray:
    """Pad a recording with silence before and after."""
    silence = np.zeros(int(lead * rate), np.int16), np.zeros(int(tail * rate), np.int16)
    return np.concatenate([silence[0], audio, silence[1]])


def speech_file(path: str, rate: int, lead: float = 0.5, tail: float = 1.2) -> np.ndarray:
    """A recording at ``rate`` with silence around it."""
    return with_silence(load_audio(path, rate), rate, lead, tail)


async def stream(stages: Sequence[Stage], audio: np.ndarray, rate: int, speed: float = 1.0) -> Received:
    """Run ``stages`` on ``audio`` in real time; return what came out."""
    received = Received()
    metrics = MetricsCollector()
    metrics.subscribe(received.timelines.append)
    ctx = SessionContext(clock=RealClock(), metrics=metrics)
    await run_session([PacedSource(audio, rate, speed), *stages, _Collect(received)], ctx)
    return received


async def until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` (state owned by worker threads, which cannot set an anyio.Event)."""
    with anyio.fail_after(30.0):
        while not condition():  # noqa: ASYNC110
            await anyio.sleep(0.005)
