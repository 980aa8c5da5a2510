"""Unit tests of the SIP building blocks: codecs, RTP, jitter buffer, DTMF, SDP, messages, digest."""

from __future__ import annotations

import contextlib
import socket

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cascade.testing.sip_peers.ports import free_media_ports
from cascade.transports.sip.address import NameAddr, SipUri, Via
from cascade.transports.sip.auth import DigestVerifier, authorization_header
from cascade.transports.sip.dtmf import (
    TelephoneEventDetector,
    build_telephone_event,
    parse_info_dtmf,
    parse_telephone_event,
)
from cascade.transports.sip.g711 import G711Codec, alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from cascade.transports.sip.jitter import JitterBuffer
from cascade.transports.sip.message import (
    SipParseError,
    SipRequest,
    check_request,
    frame_stream,
    parse_message,
)
from cascade.transports.sip.options import SipOptions
from cascade.transports.sip.rtp import RtpError, RtpPacket
from cascade.transports.sip.sdp import LocalMedia, SdpError, negotiate, parse_sdp

INVITE = (
    b"INVITE sip:bot@127.0.0.1:5070 SIP/2.0\r\n"
    b"v: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKabc;rport, "
    b"SIP/2.0/TCP [2001:db8::1]:5061;branch=z9hG4bKdef\r\n"
    b'f: "Smith, J" <sip:j@example.com>;tag=77\r\n'
    b"t: <sip:bot@example.com>\r\n"
    b"i: call-1\r\n"
    b"CSeq: 10 INVITE\r\n"
    b"Contact: <sip:j@10.0.0.1:5060>\r\n"
    b"Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n"
    b"c: application/sdp\r\n"
    b"l: 4\r\n\r\nv=0\r\nEXTRA"
)


@pytest.mark.parametrize(("encode", "decode"), [(ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)])
def test_g711_round_trip(encode: object, decode: object) -> None:
    """Every code word decodes and re-encodes to itself; a tone survives with G.711's ~37 dB SNR."""
    assert callable(encode) and callable(decode)
    words = bytes(range(256))
    assert decode(encode(decode(words))) == decode(words)
    tone = (np.sin(np.arange(8000) * 2 * np.pi * 440 / 8000) * 16000).astype("<i2")
    back = np.frombuffer(decode(encode(tone.tobytes())), "<i2").astype(np.float64)
    snr = 10 * np.log10(np.sum(tone.astype(np.float64) ** 2) / np.sum((back - tone) ** 2))
    assert snr > 30


def test_g711_known_values() -> None:
    """Reference points of the ITU tables: silence and full-scale code words."""
    assert ulaw_encode(bytes(2)) == b"\xff" and alaw_encode(bytes(2)) == b"\xd5"
    assert np.frombuffer(ulaw_decode(b"\x00"), "<i2")[0] == -32124
    assert np.frombuffer(alaw_decode(b"\xaa"), "<i2")[0] == 32256
    with pytest.raises(ValueError, match="PCMU or PCMA"):
        G711Codec("G729")


def test_rtp_parse_build_and_errors() -> None:
    """Headers round-trip; CSRCs, extensions and padding are skipped; junk is rejected."""
    packet = RtpPacket(0, 65535, 2**32 - 1, 0xDEADBEEF, b"\x01\x02", marker=True)
    assert RtpPacket.parse(packet.build()) == packet
    fancy = (
        bytes([0xB1, 0x08]) + packet.build()[2:12] + b"CSRC" + b"\xbe\xde\x00\x01XXXX" + b"pay" + b"\x00\x02"
    )
    assert RtpPacket.parse(fancy).payload == b"pay"
    for junk in (b"", b"\x00" * 12, bytes([0x80 | 0x0F]) + b"\x00" * 11):
        with pytest.raises(RtpError):
            RtpPacket.parse(junk)


def pcm(value: int, n: int = 160) -> bytes:
    return np.full(n, value, "<i2").tobytes()


def test_jitter_buffer_reorders_conceals_and_skips() -> None:
    """Out-of-order packets come out in order; a lost one becomes silence; a late one is dropped."""
    jb = JitterBuffer(target=0.04, max_delay=0.3)
    assert jb.read(160) is None
    jb.put(1160, pcm(2))
    assert jb.read(160) is None  # not yet 40 ms buffered
    jb.put(1000, pcm(1))
    jb.put(1480, pcm(4))  # 1320 is lost
    out = [np.frombuffer(jb.read(160) or b"", "<i2")[0] for _ in range(4)]
    assert out == [1, 2, 0, 4]
    jb.put(1320, pcm(3))  # too late now
    assert jb.stats.late == 1 and jb.stats.concealed_samples == 160


def test_jitter_buffer_wraps_and_catches_up() -> None:
    """Timestamps wrap at 2^32; a backlog beyond max_delay is skipped down to the target delay."""
    jb = JitterBuffer(target=0.02, max_delay=0.1)
    ts = 2**32 - 320
    for i in range(20):
        jb.put((ts + 160 * i) & 0xFFFFFFFF, pcm(i + 1))
    first = np.frombuffer(jb.read(160) or b"", "<i2")[0]
    assert first >= 15 and jb.stats.skipped_samples > 0
    assert jb.buffered_seconds <= 0.1


def test_jitter_buffer_splits_odd_packet_sizes() -> None:
    """30 ms packets are read out in 20 ms pieces without loss."""
    jb = JitterBuffer(target=0.0)
    for i in range(4):
        jb.put(240 * i, pcm(i + 1, 240))
    data = b"".join(jb.read(160) or b"" for _ in range(6))
    values = np.frombuffer(data, "<i2")
    assert list(values[::80]) == [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]


def test_dtmf_events_and_info() -> None:
    """One digit per RFC 4733 event (redundant packets ignored); INFO bodies in both formats."""
    detector = TelephoneEventDetector()
    digits = []
    for ts, digit in ((100, "5"), (100, "5"), (900, "#"), (900, "#")):
        got = detector.feed(ts, build_telephone_event(digit, end=ts == 900, duration=160))
        digits.append(got)
    assert digits == ["5", None, "#", None]
    assert parse_telephone_event(b"\x10\x80\x00\xa0") is None  # event 16 (not a key)
    assert parse_info_dtmf("application/dtmf-relay", "Signal=*\r\nDuration=160\r\n") == "*"
    assert parse_info_dtmf("application/dtmf", "11") == "#"
    assert parse_info_dtmf("application/dtmf", "7") == "7"
    assert parse_info_dtmf("text/plain", "Signal=1") is None
    assert parse_info_dtmf("application/dtmf-relay", "Signal=Z") is None


SDP = """v=0
o=- 1 1 IN IP4 192.0.2.10
s=-
c=IN IP4 192.0.2.10
t=0 0
m=video 5000 RTP/AVP 96
m=audio 4000 RTP/AVP 8 0 101
a=rtpmap:101 telephone-event/8000
a=sendonly
"""


def test_sdp_negotiation_and_hold() -> None:
    """The offerer's first supported codec wins; sendonly means we are on hold (recvonly answer)."""
    offer = parse_sdp(SDP)
    assert (offer.address, offer.port, offer.payload_types) == ("192.0.2.10", 4000, [8, 0, 101])
    chosen = negotiate(offer)
    assert (chosen.codec, chosen.dtmf_payload_type, chosen.direction) == ("PCMA", 101, "recvonly")
    assert not chosen.may_send
    answer = LocalMedia("127.0.0.1", 30000).answer(chosen).decode()
    assert "m=audio 30000 RTP/AVP 8 101" in answer and "a=recvonly" in answer
    old_hold = parse_sdp(SDP.replace("192.0.2.10", "0.0.0.0").replace("a=sendonly\n", ""))
    assert negotiate(old_hold).direction == "recvonly"
    assert "RTP/AVP 0 8 101" in LocalMedia("127.0.0.1", 3).offer().decode()


@pytest.mark.parametrize(
    ("body", "status", "problem"),
    [
        ("v=0\nc=IN IP4 192.0.2.1\nm=audio 4000 RTP/AVP 9\n", 488, "no common audio codec"),
        ("v=0\nc=IN IP4 192.0.2.1\n", 488, "no audio stream"),
        ("v=0\nm=audio 4000 RTP/AVP 0\n", 400, "no connection address"),
        ("v=0\nc=IN IP4 nowhere\nm=audio 4000 RTP/AVP 0\n", 400, "not an IP address"),
        ("v=0\nc=IN IP4 192.0.2.1\nm=audio 0 RTP/AVP 0\n", 488, "port 0"),
    ],
)
def test_sdp_errors_name_the_problem(body: str, status: int, problem: str) -> None:
    """Unusable offers raise SdpError with the SIP status to answer and a readable reason."""
    with pytest.raises(SdpError, match=problem) as info:
        negotiate(parse_sdp(body))
    assert info.value.status == status


def test_parse_message_compact_forms_and_commas() -> None:
    """Compact names, comma-separated Via/Record-Route, quoted commas and Content-Length are handled."""
    message = parse_message(INVITE)
    assert isinstance(message, SipRequest)
    check_request(message)
    assert message.call_id == "call-1" and message.cseq == (10, "INVITE")
    assert len(message.get_all("Via")) == 2 and len(message.get_all("Record-Route")) == 2
    assert message.body == b"v=0\r"[:4]
    assert NameAddr.parse(message.require("From")).display == "Smith, J"
    assert Via.parse(message.get_all("Via")[1]).host == "2001:db8::1"
    again = parse_message(message.to_bytes())
    assert again.headers == message.headers


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"HELLO\r\n\r\n", "bad start line"),
        (b"INVITE sip:a@b SIP/2.0\r\nno colon here\r\n\r\n", "bad header line"),
        (b"INVITE sip:a@b SIP/2.0\r\nl: 99\r\n\r\nshort", "Content-Length 99"),
        (b"INVITE sip:a@b SIP/2.0\r\nVia: x\r\n", "no blank line"),
        (b"INVITE sip:a@b SIP/2.0\r\n\xff\xfe: x\r\n\r\n", "not UTF-8"),
    ],
)
def test_parse_errors_name_the_problem(data: bytes, problem: str) -> None:
    """Malformed messages raise SipParseError saying what is wrong."""
    with pytest.raises(SipParseError, match=problem):
        parse_message(data)


def test_check_request_requires_headers() -> None:
    """A request without the mandatory headers, or with a mismatched CSeq, is refused."""
    request = parse_message(INVITE.replace(b"CSeq: 10 INVITE", b"CSeq: 10 BYE"))
    assert isinstance(request, SipRequest)
    with pytest.raises(SipParseError, match="does not match"):
        check_request(request)
    request = parse_message(INVITE.replace(b"i: call-1\r\n", b""))
    assert isinstance(request, SipRequest)
    with pytest.raises(SipParseError, match="missing Call-ID"):
        check_request(request)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_parser_never_crashes_on_garbage(data: bytes) -> None:
    """Arbitrary bytes either parse or raise SipParseError, never anything else."""
    with contextlib.suppress(SipParseError):
        parse_message(data)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, len(INVITE)), st.binary(min_size=1, max_size=8))
def test_parser_survives_mutations(position: int, junk: bytes) -> None:
    """A valid INVITE with bytes spliced in anywhere parses or fails cleanly."""
    try:
        message = parse_message(INVITE[:position] + junk + INVITE[position:])
        if isinstance(message, SipRequest):
            check_request(message)
    except SipParseError:
        pass


def test_tcp_framing() -> None:
    """Messages are cut at Content-Length; keep-alive CRLFs are skipped; no length is an error."""
    message = INVITE[: INVITE.index(b"\r\n\r\n") + 8]
    buffer = bytearray(b"\r\n\r\n" + message + message[:50])
    assert frame_stream(buffer) == message
    assert frame_stream(buffer) is None
    with pytest.raises(SipParseError, match="without Content-Length"):
        frame_stream(bytearray(b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n"))


def test_uri_and_via() -> None:
    """SIP URIs with IPv6 hosts, ports and parameters round-trip; bad ones are refused."""
    uri = SipUri.parse("sip:bot@[::1]:5070;transport=TCP;lr")
    assert (uri.host, uri.port, uri.transport, str(uri)) == (
        "::1",
        5070,
        "tcp",
        "sip:bot@[::1]:5070;transport=TCP;lr",
    )
    for bad in ("http://x", "sip:", "sip:a@b:99999"):
        with pytest.raises(SipParseError):
            SipUri.parse(bad)


def test_digest_challenge_and_response() -> None:
    """Our client answers our verifier's challenge; wrong passwords and foreign nonces fail."""
    verifier = DigestVerifier("cascade", {"gw": "secret"})
    challenge = verifier.challenge()
    good = authorization_header(challenge, method="INVITE", uri="sip:bot@x", username="gw", password="secret")
    bad = authorization_header(challenge, method="INVITE", uri="sip:bot@x", username="gw", password="nope")
    assert verifier.verify(good, "INVITE") == "gw"
    assert verifier.verify(good, "BYE") is None
    assert verifier.verify(bad, "INVITE") is None
    assert verifier.verify(None, "INVITE") is None
    other = DigestVerifier("cascade", {"gw": "secret"}).challenge()
    forged = authorization_header(other, method="INVITE", uri="sip:bot@x", username="gw", password="secret")
    assert verifier.verify(forged, "INVITE") is None


def test_options_validate() -> None:
    """Bad settings are refused with a message naming the field."""
    with pytest.raises(ValueError, match="allow_from entry 'everyone'"):
        SipOptions(allow_from=["everyone"])
    with pytest.raises(ValueError, match="rtp_ports"):
        SipOptions(rtp_ports=(30000, 20000))
    with pytest.raises(ValueError, match="advertise"):
        _ = SipOptions(host="0.0.0.0").contact_host


def test_free_media_ports_are_four_free_ports_from_an_even_one() -> None:
    base = free_media_ports()
    assert base % 2 == 0
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(4)]
    try:
        for offset, sock in enumerate(socks):
            sock.bind(("127.0.0.1", base + offset))  # SIPp binds all four (audio and video RTP/RTCP)
    finally:
        for sock in socks:
            sock.close()
