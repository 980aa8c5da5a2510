"""A telephone line between the bridge and a SIP peer: delay, gain, and a caller talking into it.

:class:`EchoLine` sits on the RTP path of a call. The bridge sends its audio to the line's port
(named in the peer's SDP offer); the line passes it on to the peer (e.g. SIPp with ``-rtp_echo``,
which sends every packet straight back) and returns what the peer sends after ``delay`` seconds,
its G.711 samples scaled by ``gain`` -- the bot's own voice coming back as from a phone without
echo cancellation. :meth:`EchoLine.speak` mixes a caller's voice into that returning stream, as the
phone's microphone picks up the caller and the loudspeaker at once.

Everything runs in one thread with plain sockets, apart from the event loop the bridge runs on.
"""

from __future__ import annotations

import selectors
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace

import numpy as np

from cascade.transports.sip.g711 import G711Codec
from cascade.transports.sip.rtp import RtpError, RtpPacket, is_rtcp

_VOICE_RMS = 0.02
"""Loudness (of full scale) above which a packet from the bridge counts as the bot speaking."""


@dataclass
class _Speech:
    audio: np.ndarray
    after_bot: float
    start: float | None = None
    position: int = 0


@dataclass
class LineLog:
    """What went over the line (monotonic times)."""

    bot_voice_at: float | None = None
    """When the first voiced packet from the bridge reached the line."""
    speech_at: float | None = None
    """When the caller's voice began to be mixed into the returning stream."""
    to_peer: list[tuple[float, bytes]] = field(default_factory=list)
    """The bridge's packets (arrival time, G.711 payload)."""
    returned: int = 0
    """Packets sent back to the bridge."""


class EchoLine:
    """Relay RTP from the bridge to ``peer_port`` and back, delayed by ``delay`` s and scaled by
    ``gain`` (linear). Use as a context manager; :attr:`port` is the port to announce in SDP."""

    def __init__(
        self,
        peer_port: int,
        *,
        delay: float = 0.15,
        gain: float = 0.5,
        codec: str = "PCMU",
        host: str = "127.0.0.1",
    ) -> None:
        self.peer = (host, peer_port)
        self.delay, self.gain = delay, gain
        self.codec = G711Codec(codec)
        self.log = LineLog()
        self._near = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # the bridge's side
        self._near.bind((host, 0))
        self._far = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # the peer's side
        self._far.bind((host, 0))
        self.port = int(self._near.getsockname()[1])
        self._bridge: tuple[str, int] | None = None
        self._due: deque[tuple[float, bytes]] = deque()
        self._speech: _Speech | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="echo-line", daemon=True)

    def speak(self, audio: np.ndarray, after_bot: float) -> None:
        """Mix ``audio`` (8 kHz int16) into the returning stream from ``after_bot`` seconds after
        the bot's voice first reached the line."""
        with self._lock:
            self._speech = _Speech(np.asarray(audio, np.int16), after_bot)

    def __enter__(self) -> EchoLine:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        self._near.close()
        self._far.close()

    # --- the relay thread ------------------------------------------------------------------------

    def _run(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._near, selectors.EVENT_READ)
            selector.register(self._far, selectors.EVENT_READ)
            while not self._stop.is_set():
                wait = 0.05 if not self._due else max(0.0, self._due[0][0] - time.monotonic())
                for key, _ in selector.select(timeout=min(wait, 0.05)):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    data, source = sock.recvfrom(2048)
                    if sock is self._near:
                        self._from_bridge(data, source)
                    else:
                        self._due.append((time.monotonic() + self.delay, data))
                self._send_due()

    def _from_bridge(self, data: bytes, source: tuple[str, int]) -> None:
        self._bridge = source
        now = time.monotonic()
        if not is_rtcp(data):
            try:
                packet = RtpPacket.parse(data)
            except RtpError:
                return
            if packet.payload_type == self.codec.payload_type:
                self.log.to_peer.append((now, packet.payload))
                if self.log.bot_voice_at is None and _rms(self._decode(packet.payload)) > _VOICE_RMS:
                    self.log.bot_voice_at = now
        self._far.sendto(data, self.peer)

    def _send_due(self) -> None:
        now = time.monotonic()
        while self._due and self._due[0][0] <= now and self._bridge is not None:
            _, data = self._due.popleft()
            self._near.sendto(self._line(data, now), self._bridge)
            self.log.returned += 1

    def _line(self, data: bytes, now: float) -> bytes:
        """The peer's packet as the line returns it: scaled, with the caller's voice mixed in."""
        if is_rtcp(data):
            return data
        try:
            packet = RtpPacket.parse(data)
        except RtpError:
            return data
        if packet.payload_type != self.codec.payload_type:
            return data  # (telephone events pass untouched)
        samples = self._decode(packet.payload).astype(np.float32) * self.gain
        samples += self._caller(len(samples), now)
        pcm = np.clip(samples, -32768, 32767).astype(np.int16).tobytes()
        return replace(packet, payload=self.codec.encode(pcm)).build()

    def _caller(self, count: int, now: float) -> np.ndarray:
        """The next ``count`` samples of the caller's voice (zeros before and after it)."""
        out = np.zeros(count, np.float32)
        with self._lock:
            speech = self._speech
        if speech is None or self.log.bot_voice_at is None:
            return out
        if speech.start is None:
            if now < self.log.bot_voice_at + speech.after_bot:
                return out
            speech.start = self.log.speech_at = now
        chunk = speech.audio[speech.position : speech.position + count]
        speech.position += len(chunk)
        out[: len(chunk)] = chunk
        return out

    def _decode(self, payload: bytes) -> np.ndarray:
        return np.frombuffer(self.codec.decode(payload), np.int16)


def _rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean((samples.astype(np.float32) / 32768) ** 2))) if samples.size else 0.0
