"""One call's RTP stream: a UDP socket, G.711, the jitter buffer and RFC 4733 DTMF.

Packets are accepted only from the address the peer's SDP announced (any port: symmetric RTP
through NATs and SBCs sends from other ports); everything else is counted and ignored.
"""

from __future__ import annotations

import logging
import random
import secrets
import socket
import time
from collections import deque
from dataclasses import dataclass
from typing import Literal

import anyio
from anyio.abc import UDPSocket

from cascade.transports.sip.dtmf import TelephoneEventDetector
from cascade.transports.sip.g711 import G711Codec
from cascade.transports.sip.jitter import JitterBuffer
from cascade.transports.sip.rtp import RtpError, RtpPacket, is_rtcp
from cascade.transports.sip.sdp import Negotiated

log = logging.getLogger("cascade.sip.rtp")

SAMPLES_PER_PACKET = 160
"""20 ms at 8 kHz."""


async def open_rtp_socket(host: str, ports: tuple[int, int], attempts: int = 64) -> UDPSocket:
    """Bind a UDP socket on a free even port in ``ports`` (inclusive)."""
    family: Literal[socket.AddressFamily.AF_INET, socket.AddressFamily.AF_INET6] = (
        socket.AF_INET6 if ":" in host else socket.AF_INET
    )
    low, high = ports
    last: OSError | None = None
    for _ in range(attempts):
        port = random.randrange(low + (low & 1), high + 1, 2)
        try:
            return await anyio.create_udp_socket(family=family, local_host=host, local_port=port)
        except OSError as exc:
            last = exc
    raise OSError(f"no free RTP port in {low}-{high} on {host} after {attempts} tries: {last}")


@dataclass
class MediaStats:
    """Counters for one call."""

    packets_in: int = 0
    packets_out: int = 0
    ignored: int = 0
    """Packets from unexpected addresses or with unknown payload types."""
    malformed: int = 0


class RtpSession:
    """Receives into a jitter buffer, sends 20 ms G.711 packets, reports DTMF digits."""

    def __init__(self, sock: UDPSocket, *, jitter_target: float = 0.06, jitter_max: float = 0.3) -> None:
        self.sock = sock
        self.local_port: int = sock.extra(anyio.abc.SocketAttribute.local_port)
        self.jitter = JitterBuffer(target=jitter_target, max_delay=jitter_max)
        self.stats = MediaStats()
        self.digits: deque[str] = deque()
        """DTMF digits received and not yet taken by the pipeline."""
        self.negotiated: Negotiated | None = None
        self.codec: G711Codec | None = None
        self.last_received = time.monotonic()
        self._dtmf = TelephoneEventDetector()
        self._ssrc = secrets.randbits(32)
        self._sequence = secrets.randbits(16)
        self._timestamp = secrets.randbits(32)
        self._marker = True
        self._remote_ssrc: int | None = None

    def configure(self, negotiated: Negotiated) -> None:
        """Apply (re-)negotiated media: codec, remote address, direction."""
        if self.negotiated is None or negotiated.codec != self.negotiated.codec:
            self.codec = G711Codec(negotiated.codec)
        if self.negotiated is not None and (
            negotiated.remote_address,
            negotiated.remote_port,
        ) != (self.negotiated.remote_address, self.negotiated.remote_port):
            self.jitter.reset()
        self.negotiated = negotiated
        self.last_received = time.monotonic()

    @property
    def on_hold(self) -> bool:
        """True when the peer does not want our audio (and may send none)."""
        return self.negotiated is not None and not self.negotiated.may_send

    async def receive_loop(self) -> None:
        """Read packets until the socket is closed."""
        while True:
            try:
                data, (host, _port) = await self.sock.receive()
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                return
            except OSError:
                continue
            self.handle(data, str(host))

    def handle(self, data: bytes, host: str) -> None:
        """Process one datagram from ``host``."""
        negotiated, codec = self.negotiated, self.codec
        if negotiated is None or codec is None or host != negotiated.remote_address:
            self.stats.ignored += 1
            return
        if is_rtcp(data):
            return
        try:
            packet = RtpPacket.parse(data)
        except RtpError:
            self.stats.malformed += 1
            return
        if self._remote_ssrc is not None and packet.ssrc != self._remote_ssrc:
            self.jitter.reset()  # the sender restarted its stream
        self._remote_ssrc = packet.ssrc
        self.last_received = time.monotonic()
        if packet.payload_type == negotiated.payload_type:
            self.stats.packets_in += 1
            self.jitter.put(packet.timestamp, codec.decode(packet.payload))
        elif packet.payload_type == negotiated.dtmf_payload_type:
            self.stats.packets_in += 1
            digit = self._dtmf.feed(packet.timestamp, packet.payload)
            if digit:
                log.info("DTMF %s (RFC 4733)", digit)
                self.digits.append(digit)
        else:
            self.stats.ignored += 1

    async def send_pcm(self, pcm: bytes | None) -> None:
        """Send one 20 ms packet of 8 kHz s16le audio (``None``: silence); skipped while on hold."""
        negotiated, codec = self.negotiated, self.codec
        self._timestamp = (self._timestamp + SAMPLES_PER_PACKET) & 0xFFFFFFFF
        if negotiated is None or codec is None or not negotiated.may_send:
            self._marker = True
            return
        payload = codec.silence if pcm is None else codec.encode(pcm)
        packet = RtpPacket(
            codec.payload_type, self._sequence, self._timestamp, self._ssrc, payload, self._marker
        )
        self._sequence = (self._sequence + 1) & 0xFFFF
        self._marker = False
        try:
            await self.sock.sendto(packet.build(), negotiated.remote_address, negotiated.remote_port)
            self.stats.packets_out += 1
        except OSError as exc:  # e.g. ICMP unreachable from a vanished peer; the timeout ends the call
            log.debug("RTP send failed: %s", exc)

    async def aclose(self) -> None:
        """Close the socket."""
        await self.sock.aclose()
