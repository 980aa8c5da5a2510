"""An in-process aiortc caller for the WebRTC tests: scripted microphone, recorded bot audio."""

from __future__ import annotations

import asyncio
import fractions
import json
import time
from typing import Any

import av
import numpy as np
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError


class ScriptedMic(MediaStreamTrack):
    """A 48 kHz microphone: a 300 Hz tone inside the ``loud`` (start, end) windows, else silence."""

    kind = "audio"

    def __init__(self, loud: list[tuple[float, float]]) -> None:
        super().__init__()
        self.loud = loud
        self.n = 0
        self.t0: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self.t0 is None:
            self.t0 = time.monotonic()
        delay = self.t0 + self.n * 0.02 - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        t = self.n * 0.02
        on = any(a <= t < b for a, b in self.loud)
        x = np.sin(2 * np.pi * 300 * (np.arange(960) + self.n * 960) / 48000) * (8000 if on else 0)
        frame = av.AudioFrame.from_ndarray(x.astype(np.int16).reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = 48000, self.n * 960, fractions.Fraction(1, 48000)
        self.n += 1
        return frame


class Caller:
    """One call from an aiortc peer: ``offer()`` → POST → ``accept(answer)``; events and audio kept."""

    def __init__(self, loud: list[tuple[float, float]] | None = None, *, channel: bool = True) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.events: list[dict[str, Any]] = []
        self.heard: list[tuple[float, float]] = []
        """(seconds since accept, peak level) of every received bot frame."""
        self.started = 0.0
        self.channel = self.pc.createDataChannel("events") if channel else None
        if self.channel is not None:
            self.channel.on("message", lambda m: self.events.append(json.loads(m)))
        self.pc.addTrack(ScriptedMic(loud or []))
        self._reader: asyncio.Task[None] | None = None
        self.pc.on("track", self._on_track)

    def _on_track(self, track: MediaStreamTrack) -> None:
        async def read() -> None:
            try:
                while True:
                    frame = await track.recv()
                    peak = float(np.abs(frame.to_ndarray()).max())
                    self.heard.append((time.monotonic() - self.started, peak))
            except MediaStreamError:
                pass

        self._reader = asyncio.ensure_future(read())

    async def offer(self) -> dict[str, str]:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return {"type": "offer", "sdp": self.pc.localDescription.sdp}

    async def accept(self, answer: dict[str, Any]) -> None:
        self.started = time.monotonic()
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]

    def hangup(self) -> None:
        assert self.channel is not None
        self.channel.send(json.dumps({"type": "hangup"}))

    async def close(self) -> None:
        await self.pc.close()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)


async def wait_for(predicate: Any, within: float = 10.0, what: str = "condition") -> None:
    """Poll ``predicate()`` until true or fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(0.05)
