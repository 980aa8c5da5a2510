"""RTP packets (RFC 3550): parse and build the fixed header, with CSRCs, extension and padding."""

from __future__ import annotations

import struct
from dataclasses import dataclass

_HEADER = struct.Struct("!BBHII")


class RtpError(ValueError):
    """A datagram that is not a usable RTP packet."""


@dataclass(frozen=True)
class RtpPacket:
    """One RTP packet."""

    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False

    @classmethod
    def parse(cls, data: bytes) -> RtpPacket:
        """Decode a datagram; raises :class:`RtpError` when it is not RTP version 2."""
        if len(data) < _HEADER.size:
            raise RtpError(f"RTP packet too short ({len(data)} bytes)")
        first, second, sequence, timestamp, ssrc = _HEADER.unpack_from(data)
        if first >> 6 != 2:
            raise RtpError(f"RTP version {first >> 6}, expected 2")
        offset = _HEADER.size + 4 * (first & 0x0F)
        if first & 0x10:  # header extension: 16-bit profile, 16-bit length in words
            if len(data) < offset + 4:
                raise RtpError("RTP header extension truncated")
            (words,) = struct.unpack_from("!H", data, offset + 2)
            offset += 4 + 4 * words
        end = len(data)
        if first & 0x20:
            if end == 0 or data[-1] == 0:
                raise RtpError("RTP padding length invalid")
            end -= data[-1]
        if offset > end:
            raise RtpError("RTP header longer than the packet")
        return cls(second & 0x7F, sequence, timestamp, ssrc, bytes(data[offset:end]), bool(second & 0x80))

    def build(self) -> bytes:
        """Encode with a plain 12-byte header."""
        second = (0x80 if self.marker else 0) | (self.payload_type & 0x7F)
        header = _HEADER.pack(0x80, second, self.sequence & 0xFFFF, self.timestamp & 0xFFFFFFFF, self.ssrc)
        return header + self.payload


def is_rtcp(data: bytes) -> bool:
    """True for RTCP packets multiplexed on the RTP port (payload types 200-204 in byte 2)."""
    return len(data) >= 2 and 200 <= data[1] <= 204
