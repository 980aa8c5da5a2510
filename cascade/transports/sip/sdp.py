"""SDP offer/answer (RFC 3264) for one G.711 audio stream plus telephone-event (RFC 4733).

We answer offers; an INVITE without SDP gets our offer in the 200 and the answer in the ACK.
Direction attributes carry hold: a caller putting us on hold offers ``sendonly`` (or
``inactive``, or the old ``c=0.0.0.0``) and we answer ``recvonly`` (``inactive``) and stop sending.
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass, field

from cascade.transports.sip.message import SipParseError

STATIC_CODECS = {0: "PCMU", 8: "PCMA"}
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
_ANSWER_DIRECTION = {
    "sendrecv": "sendrecv",
    "sendonly": "recvonly",
    "recvonly": "sendonly",
    "inactive": "inactive",
}


class SdpError(SipParseError):
    """An SDP body we cannot use (the text says why); ``status`` is 400 (malformed) or 488 (unusable)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class AudioOffer:
    """The audio stream of a parsed session description."""

    address: str
    port: int
    payload_types: list[int]
    rtpmap: dict[int, tuple[str, int]] = field(default_factory=dict)
    direction: str = "sendrecv"
    ptime: int | None = None

    @property
    def on_hold(self) -> bool:
        """True when the peer will not receive audio from us (hold)."""
        return self.direction in ("sendonly", "inactive") or self.address in ("0.0.0.0", "::")

    def codec_name(self, pt: int) -> str:
        """Encoding name of a payload type (upper case)."""
        if pt in self.rtpmap:
            return self.rtpmap[pt][0].upper()
        return STATIC_CODECS.get(pt, "")


def parse_sdp(body: bytes | str) -> AudioOffer:
    """The first usable audio stream of an SDP body."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    session_address = ""
    session_direction = "sendrecv"
    media: AudioOffer | None = None
    in_audio = False
    seen_audio = False
    for raw in text.splitlines():
        line = raw.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        kind, value = line[0], line[2:]
        if kind == "m":
            parts = value.split()
            in_audio = False
            if media is None and len(parts) >= 4 and parts[0] == "audio":
                seen_audio = True
                if not parts[1].split("/")[0].isdigit():
                    raise SdpError(f"bad port in SDP media line {line!r}")
                if parts[1] == "0":
                    continue  # a rejected stream
                pts = [int(p) for p in parts[3:] if p.isdigit() and int(p) < 128]
                media = AudioOffer(session_address, int(parts[1].split("/")[0]), pts)
                media.direction = session_direction
                in_audio = True
        elif kind == "c":
            parts = value.split()
            if len(parts) < 3 or parts[0] != "IN" or parts[1] not in ("IP4", "IP6"):
                raise SdpError(f"bad SDP connection line {line!r}")
            address = parts[2].split("/")[0]
            try:
                ipaddress.ip_address(address)
            except ValueError as exc:
                raise SdpError(f"SDP connection address {address!r} is not an IP address") from exc
            if media is None:
                session_address = address
            elif in_audio:
                media.address = address
        elif kind == "a":
            name, _, attr = value.partition(":")
            target_direction = name in DIRECTIONS
            if media is None and target_direction:
                session_direction = name
            elif media is not None and in_audio:
                if target_direction:
                    media.direction = name
                elif name == "rtpmap":
                    pt_text, _, encoding = attr.partition(" ")
                    codec, _, rate = encoding.strip().partition("/")
                    if pt_text.isdigit() and rate.split("/")[0].isdigit():
                        media.rtpmap[int(pt_text)] = (codec, int(rate.split("/")[0]))
                elif name == "ptime" and attr.strip().isdigit():
                    media.ptime = int(attr.strip())
    if media is None:
        raise SdpError(
            "the SDP has an audio stream with port 0" if seen_audio else "the SDP has no audio stream", 488
        )
    if not media.address:
        raise SdpError("the SDP has no connection address (c=) for its audio stream")
    return media


@dataclass
class Negotiated:
    """What offer/answer agreed on."""

    codec: str
    payload_type: int
    dtmf_payload_type: int | None
    remote_address: str
    remote_port: int
    direction: str
    """Our direction: ``sendrecv``, ``recvonly`` (we are on hold), ``sendonly`` or ``inactive``."""

    @property
    def may_send(self) -> bool:
        """True when the peer wants our audio."""
        return self.direction in ("sendrecv", "sendonly")


def negotiate(offer: AudioOffer, codecs: tuple[str, ...] = ("PCMU", "PCMA")) -> Negotiated:
    """Choose the first of the offer's payload types that we support (the offerer's preference)."""
    chosen = next((pt for pt in offer.payload_types if offer.codec_name(pt) in codecs), None)
    if chosen is None:
        offered = ", ".join(offer.codec_name(pt) or str(pt) for pt in offer.payload_types) or "none"
        raise SdpError(f"no common audio codec: offered {offered}; we accept {', '.join(codecs)}", 488)
    rate = offer.rtpmap.get(chosen, ("", 8000))[1]
    if rate != 8000:
        raise SdpError(f"codec {offer.codec_name(chosen)} at {rate} Hz; G.711 runs at 8000 Hz", 488)
    dtmf = next(
        (
            pt
            for pt, (name, rate) in offer.rtpmap.items()
            if name.lower() == "telephone-event" and rate == 8000
        ),
        None,
    )
    direction = _ANSWER_DIRECTION[offer.direction]
    if offer.address in ("0.0.0.0", "::"):
        direction = "recvonly" if direction == "sendrecv" else "inactive"
    return Negotiated(offer.codec_name(chosen), chosen, dtmf, offer.address, offer.port, direction)


@dataclass
class LocalMedia:
    """Our side of the session description; ``version`` grows with every change."""

    address: str
    port: int
    session_id: int = field(default_factory=lambda: int(time.time()))
    version: int = 1

    def describe(
        self,
        payloads: list[tuple[int, str]],
        dtmf_payload_type: int | None,
        direction: str = "sendrecv",
    ) -> bytes:
        """An SDP body offering/answering ``payloads`` ((pt, name) pairs)."""
        family = "IP6" if ":" in self.address else "IP4"
        pts = [pt for pt, _ in payloads] + ([dtmf_payload_type] if dtmf_payload_type is not None else [])
        lines = [
            "v=0",
            f"o=cascade {self.session_id} {self.version} IN {family} {self.address}",
            "s=cascade",
            f"c=IN {family} {self.address}",
            "t=0 0",
            f"m=audio {self.port} RTP/AVP {' '.join(map(str, pts))}",
            *(f"a=rtpmap:{pt} {name}/8000" for pt, name in payloads),
        ]
        if dtmf_payload_type is not None:
            lines += [
                f"a=rtpmap:{dtmf_payload_type} telephone-event/8000",
                f"a=fmtp:{dtmf_payload_type} 0-15",
            ]
        lines += ["a=ptime:20", f"a={direction}"]
        return ("\r\n".join(lines) + "\r\n").encode()

    def answer(self, negotiated: Negotiated) -> bytes:
        """The answer to an offer."""
        return self.describe(
            [(negotiated.payload_type, negotiated.codec)], negotiated.dtmf_payload_type, negotiated.direction
        )

    def offer(self, codecs: tuple[str, ...] = ("PCMU", "PCMA")) -> bytes:
        """Our offer (for INVITEs that came without SDP)."""
        payloads = [(pt, name) for pt, name in STATIC_CODECS.items() if name in codecs]
        payloads.sort(key=lambda item: codecs.index(item[1]))
        return self.describe(payloads, 101)
