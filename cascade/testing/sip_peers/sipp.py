"""SIPp scenarios (XML) that call the bridge: a question, cancel, hold, transfer, auth, refusals.

Each function returns the scenario text for ``sipp -sf``; the caller's voice comes from a pcap
(:mod:`cascade.testing.sip_peers.pcap`) and the bridge's audio goes to an RTP recorder
(:mod:`cascade.testing.sip_peers.recorder`) named in the SDP offer.
"""

from __future__ import annotations

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


_ACK_ERROR_RESPONSE = """  <send>
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
"""The ACK of an INVITE's error response (401, 487, a refusal): the INVITE's transaction, CSeq 1."""


_OK_TO_REQUEST = """  <send>
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
"""A 200 answering the request just received (the bridge's BYE)."""


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
    body = (
        _invite(sdp_offer())
        + '  <recv response="100" optional="true"/>\n  <recv response="180"/>\n'
        + cancel
        + '  <recv response="200"/>\n  <recv response="487"/>\n'
        + _ACK_ERROR_RESPONSE
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
    body += _ACK_ERROR_RESPONSE
    return _wrap(f"cascade refused {expected}", body)


def options_scenario(expected: int) -> str:
    """An OPTIONS ping (what a proxy's health check sends) that must get ``expected``."""
    body = f"""  <send retrans="500">
    <![CDATA[
OPTIONS sip:[service]@[remote_ip]:[remote_port] SIP/2.0
{_HEADERS.replace("[peer_tag_param]", "")}
CSeq: 1 OPTIONS
Content-Length: 0

    ]]>
  </send>
  <recv response="{expected}"/>
"""
    return _wrap(f"cascade OPTIONS {expected}", body)


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
    body += _OK_TO_REQUEST
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
    body += _OK_TO_REQUEST
    return _wrap("cascade bridge hangs up", body)


def auth_scenario(pcap: str | None, record_port: int | str, talk_ms: int = 1000) -> str:
    """INVITE, answer the 401 challenge (SIPp ``-au``/``-ap`` credentials), talk, hang up."""
    second = _invite(sdp_offer(str(record_port))).replace(
        "CSeq: 1 INVITE", "CSeq: 2 INVITE\n[authentication]"
    )
    body = _invite(sdp_offer(str(record_port))) + '  <recv response="100" optional="true"/>\n'
    body += '  <recv response="401" auth="true"/>\n' + _ACK_ERROR_RESPONSE + second
    body += _answered(pcap).replace("CSeq: 1 ACK", "CSeq: 2 ACK")
    body += f'  <pause milliseconds="{talk_ms}"/>\n' + _bye(3)
    return _wrap("cascade auth", body)
