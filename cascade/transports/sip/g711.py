"""G.711 μ-law (PCMU) and A-law (PCMA) codecs as numpy lookup tables.

The tables are built once, vectorized, from the ITU-T G.711 segment rules: decoding is a 256-entry
table, encoding a 65,536-entry table indexed by the 16-bit sample (Python's ``audioop`` is gone
from the standard library in 3.13, so we do not use it).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

_BIAS = 0x84
_CLIP = 32635


def _ulaw_decode_table() -> np.ndarray:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    magnitude = (((mantissa << 3) + _BIAS) << exponent) - _BIAS
    return np.where(u & 0x80, -magnitude, magnitude).astype(np.int16)


def _ulaw_encode_table() -> np.ndarray:
    x = np.arange(-32768, 32768, dtype=np.int32)
    sign = np.where(x < 0, 0x80, 0)
    magnitude = np.minimum(np.abs(x), _CLIP) + _BIAS
    exponent = np.clip(np.floor(np.log2(magnitude)).astype(np.int32) - 7, 0, 7)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    encoded = ~(sign | (exponent << 4) | mantissa) & 0xFF
    # index by the sample's unsigned 16-bit pattern
    return np.roll(encoded.astype(np.uint8), -32768)


def _alaw_decode_table() -> np.ndarray:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    segment = (a & 0x70) >> 4
    t = (a & 0x0F) << 4
    t = np.where(segment == 0, t + 8, t + 0x108)
    t = np.where(segment > 1, t << np.maximum(segment - 1, 0), t)
    return np.where(a & 0x80, t, -t).astype(np.int16)


def _alaw_encode_table() -> np.ndarray:
    x = np.arange(-32768, 32768, dtype=np.int32) >> 3
    mask = np.where(x >= 0, 0xD5, 0x55)
    magnitude = np.where(x >= 0, x, -x - 1)
    segment = np.zeros_like(magnitude)
    for bound in (0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF):
        segment += magnitude > bound
    shift = np.where(segment < 2, 1, segment)
    value = (segment << 4) | ((magnitude >> shift) & 0x0F)
    value = np.where(segment >= 8, 0x7F, value)
    return np.roll((value ^ mask).astype(np.uint8), -32768)


ULAW_DECODE = _ulaw_decode_table()
ULAW_ENCODE = _ulaw_encode_table()
ALAW_DECODE = _alaw_decode_table()
ALAW_ENCODE = _alaw_encode_table()


def ulaw_encode(pcm: bytes) -> bytes:
    """s16le PCM to μ-law bytes (one byte per sample)."""
    return bytes(ULAW_ENCODE[np.frombuffer(pcm, dtype="<u2")])


def ulaw_decode(data: bytes) -> bytes:
    """μ-law bytes to s16le PCM."""
    return ULAW_DECODE[np.frombuffer(data, dtype=np.uint8)].astype("<i2").tobytes()


def alaw_encode(pcm: bytes) -> bytes:
    """s16le PCM to A-law bytes (one byte per sample)."""
    return bytes(ALAW_ENCODE[np.frombuffer(pcm, dtype="<u2")])


def alaw_decode(data: bytes) -> bytes:
    """A-law bytes to s16le PCM."""
    return ALAW_DECODE[np.frombuffer(data, dtype=np.uint8)].astype("<i2").tobytes()


class G711Codec:
    """One G.711 variant by its SDP encoding name (``PCMU`` or ``PCMA``)."""

    payload_types: ClassVar[dict[str, int]] = {"PCMU": 0, "PCMA": 8}

    def __init__(self, name: str) -> None:
        upper = name.upper()
        if upper not in self.payload_types:
            raise ValueError(f"unsupported codec {name!r}; the SIP bridge speaks PCMU or PCMA")
        self.name = upper
        self.payload_type = self.payload_types[upper]
        self.encode = ulaw_encode if upper == "PCMU" else alaw_encode
        self.decode = ulaw_decode if upper == "PCMU" else alaw_decode
        self.silence = self.encode(bytes(320))
        """One 20 ms packet of encoded silence."""
