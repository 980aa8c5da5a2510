"""DTMF from RTP telephone-events (RFC 4733) and from SIP INFO bodies."""

from __future__ import annotations

import re
import struct

EVENT_DIGITS = "0123456789*#ABCD"
"""RFC 4733 event codes 0-15 in order."""


def parse_telephone_event(payload: bytes) -> tuple[str, bool, int] | None:
    """``(digit, end, duration)`` of an RFC 4733 payload, or ``None`` for non-DTMF events."""
    if len(payload) < 4:
        return None
    event, flags, duration = struct.unpack_from("!BBH", payload)
    if event >= len(EVENT_DIGITS):
        return None
    return EVENT_DIGITS[event], bool(flags & 0x80), duration


def build_telephone_event(digit: str, *, end: bool, duration: int, volume: int = 10) -> bytes:
    """An RFC 4733 payload for ``digit``."""
    return struct.pack("!BBH", EVENT_DIGITS.index(digit.upper()), (0x80 if end else 0) | volume, duration)


class TelephoneEventDetector:
    """Turns a stream of telephone-event packets into one digit per key press.

    An event is one RTP timestamp: its packets (and the three redundant end packets) all carry it,
    so a digit is reported the first time a new timestamp is seen.
    """

    def __init__(self) -> None:
        self._last: int | None = None

    def feed(self, timestamp: int, payload: bytes) -> str | None:
        """The digit newly pressed in this packet, if any."""
        parsed = parse_telephone_event(payload)
        if parsed is None or timestamp == self._last:
            return None
        self._last = timestamp
        return parsed[0]


_SIGNAL = re.compile(r"^\s*signal\s*=\s*(\S)", re.IGNORECASE | re.MULTILINE)


def parse_info_dtmf(content_type: str, body: str) -> str | None:
    """The digit in a SIP INFO body (``application/dtmf-relay`` or ``application/dtmf``)."""
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/dtmf-relay":
        match = _SIGNAL.search(body)
        digit = match.group(1).upper() if match else ""
    elif kind == "application/dtmf":
        text = body.strip().upper()
        digit = EVENT_DIGITS[int(text)] if text.isdigit() and 10 <= int(text) < 16 else text
    else:
        return None
    return digit if len(digit) == 1 and digit in EVENT_DIGITS else None
