"""An RTP stream written as a pcap: what SIPp's ``play_pcap_audio`` replays as the caller's voice."""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cascade.transports.sip.dtmf import build_telephone_event
from cascade.transports.sip.g711 import G711Codec
from cascade.transports.sip.rtp import RtpPacket


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = int(sum(struct.unpack(f"!{len(data) // 2}H", data)))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _udp_frame(payload: bytes, src: tuple[str, int], dst: tuple[str, int]) -> bytes:
    udp = struct.pack("!HHHH", src[1], dst[1], 8 + len(payload), 0) + payload
    ip = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(udp),
        0,
        0,
        64,
        17,
        0,
        socket.inet_aton(src[0]),
        socket.inet_aton(dst[0]),
    )
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    ethernet = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
    return ethernet + ip + udp


@dataclass
class RtpStreamSpec:
    """Packets to put in a pcap: (seconds from start, RTP packet)."""

    packets: list[tuple[float, RtpPacket]] = field(default_factory=list)
    ssrc: int = 0x1234ABCD
    sequence: int = 1000
    timestamp: int = 160000
    clock: float = 0.0

    def _next(self, pt: int, payload: bytes, *, marker: bool = False, ts: int | None = None) -> RtpPacket:
        packet = RtpPacket(
            pt, self.sequence & 0xFFFF, self.timestamp if ts is None else ts, self.ssrc, payload, marker
        )
        self.sequence += 1
        return packet

    def add_audio(self, pcm8k: np.ndarray, codec: str = "PCMU") -> None:
        """Append 8 kHz int16 audio as 20 ms packets."""
        g711 = G711Codec(codec)
        samples = np.asarray(pcm8k, dtype=np.int16)
        samples = np.pad(samples, (0, (-len(samples)) % 160))
        for start in range(0, len(samples), 160):
            payload = g711.encode(samples[start : start + 160].tobytes())
            self.packets.append((self.clock, self._next(g711.payload_type, payload, marker=start == 0)))
            self.timestamp += 160
            self.clock += 0.02

    def add_silence(self, seconds: float, codec: str = "PCMU") -> None:
        """Append silence."""
        self.add_audio(np.zeros(int(seconds * 8000), np.int16), codec)

    def add_dtmf(self, digit: str, pt: int = 101, seconds: float = 0.1) -> None:
        """Append one RFC 4733 key press (event packets every 20 ms, then three end packets)."""
        start = self.timestamp
        steps = max(1, int(seconds / 0.02))
        for i in range(1, steps + 1):
            payload = build_telephone_event(digit, end=False, duration=160 * i)
            self.packets.append((self.clock, self._next(pt, payload, marker=i == 1, ts=start)))
            self.clock += 0.02
        for _ in range(3):
            payload = build_telephone_event(digit, end=True, duration=160 * steps)
            self.packets.append((self.clock, self._next(pt, payload, ts=start)))
        self.timestamp += 160 * steps

    def write_pcap(self, path: str | Path, src: tuple[str, int] = ("127.0.0.1", 6000)) -> Path:
        """Write the stream as a pcap (Ethernet/IPv4/UDP) to ``path``."""
        path = Path(path)
        dst = ("127.0.0.1", 7000)
        with path.open("wb") as out:
            out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
            for seconds, packet in self.packets:
                frame = _udp_frame(packet.build(), src, dst)
                sec, usec = int(seconds), round((seconds % 1) * 1e6)
                out.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame)
        return path
