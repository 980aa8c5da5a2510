"""Output pacing and barge-in flush of the WebRTC transport, in virtual time (no network)."""

from __future__ import annotations

import json
from typing import Any

import anyio
import av
import numpy as np
import pytest
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from cascade.clock import VirtualClock
from cascade.testing import autojump
from cascade.transports.webrtc import WebRTCTransport
from cascade.transports.webrtc_track import PlayoutTrack, to_mono_s16
from tests.webrtc.agents import scripted

pytestmark = pytest.mark.anyio


async def test_frames_are_20ms_at_48k_on_the_clock_grid() -> None:
    clock = VirtualClock()
    track = PlayoutTrack(clock, 16000)
    ramp = (np.arange(320) * 50).astype(np.int16).tobytes()
    track.pull = lambda n: ramp if clock.now() < 0.5 else None
    times, frames = [], []
    async with autojump(clock):
        for _ in range(50):
            frames.append(await track.recv())
            times.append(clock.now())
    assert times[0] == 0.0
    assert np.allclose(np.diff(times), 0.02)
    assert all(f.samples == 960 and f.sample_rate == 48000 for f in frames)
    assert [f.pts for f in frames] == [i * 960 for i in range(50)]
    peaks = [int(np.abs(f.to_ndarray()).max()) for f in frames]
    assert all(p > 1000 for p in peaks[1:25])
    assert all(p == 0 for p in peaks[27:]), "idle output must be silence"
    assert track.late_ticks == 0 and track.resyncs == 0


async def test_a_stalled_loop_restarts_the_schedule_instead_of_bursting() -> None:
    clock = VirtualClock()
    track = PlayoutTrack(clock, 16000)
    async with autojump(clock):
        await track.recv()
        clock.advance(1.0)  # the event loop was blocked for a second
        before = clock.now()
        await track.recv()
        await track.recv()
    assert track.resyncs == 1
    assert clock.now() >= before + 0.02 - 1e-9, "after a resync, frames are paced again"


def test_decoded_frames_become_mono_int16() -> None:
    stereo = np.array([[1000, 3000] * 960], dtype=np.int16)
    frame = av.AudioFrame.from_ndarray(stereo, format="s16", layout="stereo")
    assert np.all(to_mono_s16(frame) == 2000)
    planar = av.AudioFrame.from_ndarray(np.full((2, 960), 0.5, np.float32), format="fltp", layout="stereo")
    assert abs(int(to_mono_s16(planar)[0]) - 16383) <= 1


class ClockMic(MediaStreamTrack):
    """The caller's track in virtual time: 48 kHz tone bursts inside ``loud``; ends at ``end``."""

    kind = "audio"

    def __init__(self, clock: VirtualClock, loud: list[tuple[float, float]], end: float) -> None:
        super().__init__()
        self.clock, self.loud, self.end, self.n = clock, loud, end, 0

    async def recv(self) -> av.AudioFrame:
        t = self.n * 0.02
        if t >= self.end:
            raise MediaStreamError
        await self.clock.sleep_until(t + 0.02)
        on = any(a <= t < b for a, b in self.loud)
        x = (np.sin(np.arange(960) * 2 * np.pi * 300 / 48000) * (8000 if on else 0)).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(x.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = 48000
        self.n += 1
        return frame


class Channel:
    """Stands in for aiortc's data channel: an open channel that keeps what was sent."""

    readyState = "open"

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def on(self, event: str, handler: Any) -> None:
        pass

    def send(self, text: str) -> None:
        self.sent.append(json.loads(text))


async def test_barge_in_silences_the_output_on_the_next_tick() -> None:
    clock = VirtualClock()
    mic = ClockMic(clock, loud=[(0.2, 1.0), (3.0, 3.6)], end=4.5)
    transport = WebRTCTransport(mic, clock=clock, session_id="s1")
    channel = Channel()
    transport.attach_channel(channel)
    out: list[tuple[float, int]] = []

    async def sender() -> None:  # what aiortc's RTP sender does with the track
        while True:
            frame = await transport.output.recv()
            out.append((clock.now(), int(np.abs(frame.to_ndarray()).max())))

    async with autojump(clock), anyio.create_task_group() as tg:
        tg.start_soon(sender)
        await scripted().run(transport)
        tg.cancel_scope.cancel()

    events = channel.sent
    interrupt = next(e for e in events if e["type"] == "interrupt")
    assert interrupt["reason"] == "barge-in" and interrupt["dropped_seconds"] > 1.0
    t_int = interrupt["t"]
    assert 3.0 <= t_int < 3.1, "the fake turn-taker interrupts on the first loud frame"
    loud_before = [t for t, peak in out if 1.0 < t < t_int and peak > 1000]
    assert loud_before, "the bot was speaking before the barge-in"
    # the tick in flight may still carry audio; everything after it is silence until the next reply
    next_reply = min((e["t"] for e in events if e["type"] == "bot_started" and e["t"] > t_int), default=9.0)
    after = [peak for t, peak in out if t_int + 0.041 <= t < next_reply - 0.01]
    assert after and max(after) == 0
    kinds = [e["type"] for e in events]
    assert kinds[0] == "session"
    ended = next(e for e in events if e["type"] == "bot_ended")
    assert ended["interrupted"] and ended["heard_text"].startswith("Sure. The library opens")
    words = "".join(e["text"] for e in events if e["type"] == "bot_words" and e["t"] < t_int)
    assert ended["heard_text"].split()[:3] == words.split()[:3]


def test_a_session_is_known_by_the_id_the_page_got() -> None:
    clock = VirtualClock()
    info = WebRTCTransport(ClockMic(clock, loud=[], end=0.1), clock=clock, session_id="s1").session_info()
    assert (info.transport, info.session_id, info.can_hang_up) == ("webrtc", "s1", False)
    unnamed = WebRTCTransport(ClockMic(clock, loud=[], end=0.1), clock=clock).session_info()
    assert unnamed.transport == "webrtc" and unnamed.session_id
