"""Drive real SIP peers against the bridge: SIPp scenarios, RTP pcaps, an RTP recorder, baresip.

Used by the SIP tests and ``benchmarks/sip.py`` (never by the bridge itself). Everything binds to
loopback (or whatever address the caller passes).
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cascade.transports.sip.dtmf import build_telephone_event
from cascade.transports.sip.g711 import G711Codec
from cascade.transports.sip.rtp import RtpError, RtpPacket


def free_port(kind: int = socket.SOCK_DGRAM, host: str = "127.0.0.1", even: bool = False) -> int:
    """A currently free port on ``host`` (UDP by default; ``even`` for RTP)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, kind) as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        if not even or port % 2 == 0:
            return port
    raise OSError("no free port found")


def free_media_ports(count: int = 4, host: str = "127.0.0.1") -> int:
    """An even UDP port ``p`` with ``p .. p + count - 1`` all free (SIPp's ``-mp`` takes audio
    RTP/RTCP and video RTP/RTCP from there)."""
    for _ in range(100):
        base = free_port(socket.SOCK_DGRAM, host, even=True)
        held: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                held.append(sock)
                sock.bind((host, port))
        except OSError:
            continue
        finally:
            for sock in held:
                sock.close()
        return base
    raise OSError(f"no {count} consecutive free UDP ports found")


def free_port_both(host: str = "127.0.0.1") -> int:
    """A port free for both UDP and TCP (SIP listens on both)."""
    for _ in range(100):
        port = free_port(socket.SOCK_DGRAM, host)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            try:
                tcp.bind((host, port))
            except OSError:
                continue
        return port
    raise OSError("no port free for both UDP and TCP")


# --- pcap of an RTP stream (what SIPp's play_pcap_audio replays) -------------------------------


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


# --- an RTP recorder (the caller's ear) ---------------------------------------------------------


@dataclass
class RecordedStream:
    """What one sender (by address) sent to the recorder."""

    packets: list[tuple[float, RtpPacket]] = field(default_factory=list)

    def audio(self, codec: str = "PCMU") -> np.ndarray:
        """The decoded 8 kHz audio, placed by RTP timestamp (gaps are silence)."""
        g711 = G711Codec(codec)
        media = [p for _, p in self.packets if p.payload_type == g711.payload_type]
        if not media:
            return np.zeros(0, np.int16)
        first = media[0].timestamp
        end = max(((p.timestamp - first) & 0xFFFFFFFF) + len(p.payload) for p in media)
        out = np.zeros(end, np.int16)
        for p in media:
            offset = (p.timestamp - first) & 0xFFFFFFFF
            out[offset : offset + len(p.payload)] = np.frombuffer(g711.decode(p.payload), np.int16)
        return out

    def first_voice_time(
        self, threshold: float = 0.02, after: float = 0.0, codec: str = "PCMU"
    ) -> float | None:
        """Arrival time (epoch seconds) of the first packet louder than ``threshold`` RMS after ``after``."""
        g711 = G711Codec(codec)
        for arrived, p in self.packets:
            if arrived < after or p.payload_type != g711.payload_type:
                continue
            samples = np.frombuffer(g711.decode(p.payload), np.int16).astype(np.float32) / 32768
            if samples.size and float(np.sqrt(np.mean(samples**2))) > threshold:
                return arrived
        return None

    def gaps(self) -> np.ndarray:
        """Inter-arrival times between packets, in seconds."""
        times = np.array([t for t, _ in self.packets])
        return np.diff(times) if len(times) > 1 else np.zeros(0)


class RtpRecorder:
    """A UDP socket that records every RTP packet with its arrival time, per sender address.

    Use as a context manager; a background thread receives until :meth:`close`.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.sock.settimeout(0.1)
        self.port = int(self.sock.getsockname()[1])
        self.streams: dict[tuple[str, int], RecordedStream] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"rtp-recorder-{self.port}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, address = self.sock.recvfrom(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            arrived = time.time()
            try:
                packet = RtpPacket.parse(data)
            except RtpError:
                continue
            with self._lock:
                self.streams.setdefault((address[0], address[1]), RecordedStream()).packets.append(
                    (arrived, packet)
                )

    def stream(self) -> RecordedStream:
        """The single stream recorded (merged if several senders were seen)."""
        with self._lock:
            merged = RecordedStream()
            for s in self.streams.values():
                merged.packets.extend(s.packets)
        merged.packets.sort(key=lambda item: item[0])
        return merged

    def close(self) -> None:
        """Stop receiving and close the socket."""
        self._stop.set()
        self._thread.join()
        self.sock.close()

    def __enter__(self) -> RtpRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- SIPp scenarios -----------------------------------------------------------------------------

_HEADERS = """Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "sipp" <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
Contact: <sip:sipp@[local_ip]:[local_port];transport=[transport]>
Max-Forwards: 70"""


def sdp_offer(media_port: str = "[media_port]", codecs: str = "0 101") -> str:
    """An SDP offer for SIPp (``media_port`` may be a number: where the bridge should send RTP)."""
    lines = [
        "v=0",
        "o=sipp 53655765 2353687637 IN IP[local_ip_type] [local_ip]",
        "s=-",
        "c=IN IP[media_ip_type] [media_ip]",
        "t=0 0",
        f"m=audio {media_port} RTP/AVP {codecs}",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-15",
    ]
    return "\n".join(lines)


def _invite(sdp: str, extra: str = "") -> str:
    return f"""  <send retrans="500">
    <![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
{_HEADERS.replace("[peer_tag_param]", "")}
CSeq: 1 INVITE
Content-Type: application/sdp
{extra}Content-Length: [len]

{sdp}
    ]]>
  </send>
"""


def _in_dialog(method: str, cseq: int, body: str = "", content_type: str = "", retrans: bool = True) -> str:
    ctype = f"Content-Type: {content_type}\n" if content_type else ""
    attr = ' retrans="500"' if retrans else ""
    return f"""  <send{attr}>
    <![CDATA[
{method} sip:[service]@[remote_ip]:[remote_port] SIP/2.0
{_HEADERS}
CSeq: {cseq} {method}
{ctype}Content-Length: [len]

{body}
    ]]>
  </send>
"""


def _ack() -> str:
    return f"""  <send>
    <![CDATA[
ACK [next_url] SIP/2.0
{_HEADERS}
[routes]
CSeq: 1 ACK
Content-Length: 0

    ]]>
  </send>
"""


def _bye(cseq: int = 2) -> str:
    return f"""  <send retrans="500">
    <![CDATA[
BYE [next_url] SIP/2.0
{_HEADERS}
[routes]
CSeq: {cseq} BYE
Content-Length: 0

    ]]>
  </send>
  <recv response="200" crlf="true"/>
"""


def _answered(pcap: str | None) -> str:
    play = (
        '<gettimeofday assign_to="s,us"/><log message="audio-start [$s] [$us]"/>'
        f'<exec play_pcap_audio="{pcap}"/>'
        if pcap
        else ""
    )
    return f"""  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rrs="true" rtd="true"/>
{_ack()}  <nop><action>{play}</action></nop>
"""


def _wrap(name: str, body: str) -> str:
    return f'<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="{name}">\n{body}</scenario>\n'


def question_scenario(pcap: str | None, record_port: int | str, talk_ms: int, *, dtmf_info: str = "") -> str:
    """Call, stream ``pcap`` as the caller's voice, stay ``talk_ms``, hang up.

    The bridge is told (SDP) to send its audio to ``record_port`` (an :class:`RtpRecorder`).
    ``dtmf_info`` sends a SIP INFO (application/dtmf-relay) with that digit first.
    """
    body = _invite(sdp_offer(str(record_port))) + _answered(pcap)
    if dtmf_info:
        body += _in_dialog("INFO", 2, f"Signal={dtmf_info}\nDuration=160", "application/dtmf-relay")
        body += '  <recv response="200"/>\n'
    body += f'  <pause milliseconds="{talk_ms}"/>\n' + _bye(3 if dtmf_info else 2)
    return _wrap("cascade question", body)


def cancel_scenario() -> str:
    """INVITE, wait for 180 Ringing, CANCEL; expect 200 (CANCEL) and 487 (INVITE)."""
    cancel = """  <send>
    <![CDATA[
CANCEL sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-3]
From: "sipp" <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 CANCEL
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
"""
    ack487 = """  <send>
    <![CDATA[
ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "sipp" <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
"""
    body = (
        _invite(sdp_offer())
        + '  <recv response="100" optional="true"/>\n  <recv response="180"/>\n'
        + cancel
        + '  <recv response="200"/>\n  <recv response="487"/>\n'
        + ack487
    )
    return _wrap("cascade cancel", body)


def hold_scenario(record_port: int | str, pcap: str) -> str:
    """Call, talk, re-INVITE with sendonly (hold), re-INVITE sendrecv (resume), hang up."""

    def reinvite(cseq: int, direction: str) -> str:
        sdp = sdp_offer(str(record_port)) + f"\na={direction}"
        return (
            _in_dialog("INVITE", cseq, sdp, "application/sdp").replace(
                "sip:[service]@[remote_ip]:[remote_port] SIP/2.0", "[next_url] SIP/2.0"
            )
            + '  <recv response="200"/>\n'
            + _ack().replace("CSeq: 1 ACK", f"CSeq: {cseq} ACK")
        )

    body = _invite(sdp_offer(str(record_port))) + _answered(pcap)
    body += '  <pause milliseconds="1500"/>\n' + reinvite(2, "sendonly")
    body += '  <pause milliseconds="1500"/>\n' + reinvite(3, "sendrecv")
    body += '  <pause milliseconds="1000"/>\n' + _bye(4)
    return _wrap("cascade hold", body)


def refused_scenario(expected: int, sdp: str | None = None) -> str:
    """INVITE that the bridge must refuse with ``expected`` (then ACK)."""
    body = _invite(sdp if sdp is not None else sdp_offer())
    body += f'  <recv response="100" optional="true"/>\n  <recv response="{expected}"/>\n'
    body += """  <send>
    <![CDATA[
ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "sipp" <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
"""
    return _wrap(f"cascade refused {expected}", body)


def transfer_scenario(record_port: int | str, pcap: str) -> str:
    """Call; expect the bot's REFER, accept it (202), report success (NOTIFY 200), expect BYE."""
    notify = """  <send retrans="500">
    <![CDATA[
NOTIFY [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "sipp" <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
Contact: <sip:sipp@[local_ip]:[local_port];transport=[transport]>
Max-Forwards: 70
[routes]
CSeq: 2 NOTIFY
Event: refer
Subscription-State: terminated;reason=noresource
Content-Type: message/sipfrag;version=2.0
Content-Length: [len]

SIP/2.0 200 OK
    ]]>
  </send>
"""
    body = _invite(sdp_offer(str(record_port))) + _answered(pcap)
    body += """  <recv request="REFER"/>
  <send>
    <![CDATA[
SIP/2.0 202 Accepted
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:sipp@[local_ip]:[local_port];transport=[transport]>
Content-Length: 0

    ]]>
  </send>
"""
    body += notify + '  <recv response="200"/>\n  <recv request="BYE"/>\n'
    body += """  <send>
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

    ]]>
  </send>
"""
    return _wrap("cascade transfer", body)


def registrar_scenario(user: str, password: str) -> str:
    """A registrar (UAS): challenge the REGISTER, check the digest with SIPp's verifyauth, accept it."""
    reply = """  <send>
    <![CDATA[
SIP/2.0 {status}
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
{extra}Content-Length: 0

    ]]>
  </send>
"""
    body = '  <recv request="REGISTER"/>\n'
    body += reply.format(
        status="401 Unauthorized",
        extra='WWW-Authenticate: Digest realm="test.invalid", nonce="5f1e2d3c4b5a69788796a5b4c3d2e1f0"\n',
    )
    body += f"""  <recv request="REGISTER">
    <action>
      <verifyauth assign_to="authvalid" username="{user}" password="{password}"/>
    </action>
  </recv>
  <nop condexec="authvalid" next="good"/>
"""
    body += reply.format(status="403 Forbidden", extra="") + '  <nop next="end"/>\n  <label id="good"/>\n'
    body += reply.format(status="200 OK", extra="Contact: [last_Contact:];expires=300\n").replace(
        "Contact: Contact:", "Contact:"
    )
    body += '  <label id="end"/>\n'
    return _wrap("cascade registrar", body)


def hung_up_by_bridge_scenario(record_port: int | str, pcap: str | None = None, wait_ms: int = 20000) -> str:
    """Call (optionally streaming ``pcap``) and wait for the bridge to hang up (BYE), then answer it."""
    body = _invite(sdp_offer(str(record_port))) + _answered(pcap)
    body += f'  <recv request="BYE" timeout="{wait_ms}"/>\n'
    body += """  <send>
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

    ]]>
  </send>
"""
    return _wrap("cascade bridge hangs up", body)


def auth_scenario(pcap: str | None, record_port: int | str, talk_ms: int = 1000) -> str:
    """INVITE, answer the 401 challenge (SIPp ``-au``/``-ap`` credentials), talk, hang up."""
    ack401 = """  <send>
    <![CDATA[
ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "sipp" <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
"""
    second = _invite(sdp_offer(str(record_port))).replace(
        "CSeq: 1 INVITE", "CSeq: 2 INVITE\n[authentication]"
    )
    body = _invite(sdp_offer(str(record_port))) + '  <recv response="100" optional="true"/>\n'
    body += '  <recv response="401" auth="true"/>\n' + ack401 + second
    body += _answered(pcap).replace("CSeq: 1 ACK", "CSeq: 2 ACK")
    body += f'  <pause milliseconds="{talk_ms}"/>\n' + _bye(3)
    return _wrap("cascade auth", body)


# --- baresip --------------------------------------------------------------------------------------


def baresip_config(directory: str | Path, audio_wav: str | Path, sip_port: int) -> Path:
    """Write a baresip configuration that plays ``audio_wav`` as the microphone and records the call.

    The answer is written by the ``sndfile`` module as ``dump-*-dec.wav`` in ``directory``;
    baresip hangs up when the file ends (pad it with silence to hear the whole answer).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    lines = [
        "poll_method epoll",
        f"sip_listen 127.0.0.1:{sip_port}",
        "sip_transports udp",
        f"audio_source aufile,{audio_wav}",
        "audio_player aubridge,nil",
        "audio_alert aubridge,nil",
        "audio_srate 8000",
        "audio_channels 1",
        "module_path /usr/lib/baresip/modules",
        "module g711.so",
        "module aufile.so",
        "module aubridge.so",
        "module sndfile.so",
        "module_app account.so",
        "module_app menu.so",
        f"snd_path {directory}",
    ]
    (directory / "config").write_text("\n".join(lines) + "\n")
    (directory / "accounts").write_text("<sip:caller@127.0.0.1>;regint=0;audio_codecs=PCMU\n")
    return directory


def baresip_command(config_dir: str | Path, target: str, seconds: int) -> list[str]:
    """Command line that dials ``target`` and quits after ``seconds`` at the latest."""
    return [
        "baresip",
        "-4",
        "-n",
        "127.0.0.1",
        "-f",
        str(config_dir),
        "-e",
        f"/dial {target}",
        "-t",
        str(seconds),
    ]
