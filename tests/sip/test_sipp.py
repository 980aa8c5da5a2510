"""The bridge against SIPp, a real SIP test tool: calls, audio, DTMF, hold, CANCEL, BYE, errors."""

from __future__ import annotations

import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import pytest

from cascade.frames import DTMFFrame, Frame, LLMResponseEnded
from cascade.llm import RunContext, tool
from cascade.pipeline import Pipeline
from cascade.session_info import SessionInfo
from cascade.stage import Stage
from cascade.testing.fakes import FakeASR, FakeLLM, FakeTurnTaker
from cascade.testing.sip_peers.pcap import RtpStreamSpec
from cascade.testing.sip_peers.recorder import RtpRecorder
from cascade.testing.sip_peers.sipp import (
    auth_scenario,
    cancel_scenario,
    hold_scenario,
    hung_up_by_bridge_scenario,
    question_scenario,
    refused_scenario,
    registrar_scenario,
    sdp_offer,
    transfer_scenario,
)
from cascade.transports.sip import CallInfo, RegisterOptions
from cascade.transports.sip.rtp import RtpPacket
from tests.sip.conftest import audio_start, rms, run_sipp, running_bridge, transcribe, wait_until
from tests.sip.helpers import REPLY_TEXT, ActOnTurn, RecordedReply, fake_agent, question_audio, run_tool

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

Check = Callable[[Callable[[], Awaitable[None]]], Awaitable[None]]


async def test_question_gets_a_spoken_reply(
    tmp_path: Path, question_pcap: tuple[Path, float], whisper: Any, no_leaks: Check
) -> None:
    """SIPp streams a recorded question as PCMU; what it receives back is intelligible speech."""
    pcap, speech_end = question_pcap

    async def body() -> None:
        with RtpRecorder() as recorder:
            async with running_bridge() as bridge:
                scenario = question_scenario(str(pcap), recorder.port, int(speech_end * 1000) + 5000)
                await run_sipp(scenario, bridge.port, tmp_path)
                await wait_until(lambda: bool(bridge.finished), 5)
            stream = recorder.stream()
        record = bridge.finished[0]
        assert record.end_reason == "caller hung up" and not record.error
        assert record.packets_in > speech_end * 50 * 0.9  # the whole question arrived
        reply = stream.audio()
        assert rms(reply) > 0.01, "the caller heard only silence"
        first_voice = stream.first_voice_time()
        assert first_voice is not None
        assert first_voice > audio_start(tmp_path) + speech_end, "the bot spoke before the question ended"
        text = transcribe(whisper, reply).lower()
        assert "number" in text or "dial" in text, f"reply transcribed as {text!r}; expected {REPLY_TEXT!r}"

    await no_leaks(body)


async def test_call_over_tcp(tmp_path: Path, question_pcap: tuple[Path, float], no_leaks: Check) -> None:
    """The same call with SIP over TCP (one connection, reused for the bridge's requests)."""
    pcap, speech_end = question_pcap

    async def body() -> None:
        with RtpRecorder() as recorder:
            async with running_bridge() as bridge:
                scenario = question_scenario(str(pcap), recorder.port, int(speech_end * 1000) + 4000)
                await run_sipp(scenario, bridge.port, tmp_path, transport="t1")
                await wait_until(lambda: bool(bridge.finished), 5)
            assert rms(recorder.stream().audio()) > 0.01
        assert bridge.finished[0].end_reason == "caller hung up"

    await no_leaks(body)


MALFORMED = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="malformed">
  <send>
    <![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:sipp@[local_ip]:[local_port]>;tag=[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: one INVITE
Content-Length: [len]

    ]]>
  </send>
  <recv response="400"/>
  <send>
    <![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:sipp@[local_ip]:[local_port]>;tag=[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 2 INVITE
Content-Type: application/sdp
Content-Length: [len]

v=0
c=IN IP4 not-an-address
m=audio 4000 RTP/AVP 0
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="400"/>
  <send>
    <![CDATA[
ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:sipp@[local_ip]:[local_port]>;tag=[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 2 ACK
Content-Length: 0

    ]]>
  </send>
  <send>
    <![CDATA[
OPTIONS sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:sipp@[local_ip]:[local_port]>;tag=[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 3 OPTIONS
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
</scenario>
"""

GARBAGE = [
    b"",
    b"\r\n\r\n",
    b"\x00\xff" * 50,
    b"INVITE\r\n\r\n",
    b"INVITE sip:bot@127.0.0.1 SIP/2.0\r\nVia: nonsense\r\n\r\n",
    b"INVITE sip:bot@x SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKa\r\nFrom: <sip:a@b>;tag=1\r\n"
    b"To: <sip:bot@x>\r\nCall-ID: g1\r\nCSeq: 1 INVITE\r\nContent-Length: 500\r\n\r\nv=0",
    b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKnone\r\n\r\n",
    "BYE sip:bot@x SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9\r\nFrom: \u00e9\r\n\r\n".encode(),
    b"X" * 70000,
]


async def test_malformed_messages_get_400_or_are_dropped(tmp_path: Path, no_leaks: Check) -> None:
    """Broken requests get 400 Bad Request (with a Warning saying why); garbage is dropped; all survive."""

    async def body() -> None:
        async with running_bridge() as bridge:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.bind(("127.0.0.1", 0))
                udp.settimeout(0.5)
                for junk in GARBAGE:
                    udp.sendto(junk[:65000], ("127.0.0.1", bridge.port))
                await anyio.sleep(0.3)
                replies = []
                try:
                    while True:
                        replies.append(udp.recv(65535))
                except TimeoutError:
                    pass
            assert any(r.startswith(b"SIP/2.0 400") and b"Warning: 399" in r for r in replies)
            with socket.create_connection(("127.0.0.1", bridge.port)) as tcp:  # garbage on a stream
                tcp.sendall(b"NOT SIP AT ALL\r\n\r\n" * 3)
                await anyio.sleep(0.2)
            await run_sipp(MALFORMED, bridge.port, tmp_path, name="malformed")
            assert bridge.ua.stats.bad_requests >= 3
            assert not bridge.finished  # nothing was accepted as a call

    await no_leaks(body)


async def test_cancel_before_answer(tmp_path: Path, no_leaks: Check) -> None:
    """CANCEL while ringing: 200 to the CANCEL, 487 to the INVITE, no session is started."""
    started: list[str] = []

    def factory(info: CallInfo) -> Pipeline:
        started.append(info.call_id)
        return fake_agent(info)

    async def body() -> None:
        async with running_bridge(factory, ring_seconds=3.0) as bridge:
            await run_sipp(cancel_scenario(), bridge.port, tmp_path, name="cancel")
            await anyio.sleep(0.2)
            assert bridge.ua.calls == {}
        assert started == []

    await no_leaks(body)


async def test_bye_mid_reply_tears_the_call_down(
    tmp_path: Path, question_pcap: tuple[Path, float], no_leaks: Check
) -> None:
    """The caller hangs up while the bot is talking: the session ends at once, nothing is left."""
    pcap, speech_end = question_pcap
    ended_at: list[float] = []

    def long_reply(info: CallInfo) -> Pipeline:
        reply = RecordedReply()
        reply.audio = np.tile(reply.audio, 6)  # ~15 s of speech: surely still talking at the BYE
        return Pipeline([FakeASR(["hi"], silence=0.4), FakeTurnTaker(), FakeLLM(REPLY_TEXT), reply])

    async def body() -> None:
        with RtpRecorder() as recorder:
            async with running_bridge(long_reply) as bridge:
                scenario = question_scenario(str(pcap), recorder.port, int(speech_end * 1000) + 2000)
                await run_sipp(scenario, bridge.port, tmp_path)
                sent_bye = time.monotonic()
                await wait_until(lambda: bool(bridge.finished), 3)
                ended_at.append(time.monotonic() - sent_bye)
                assert bridge.active_calls == 0
            stream = recorder.stream()
        assert bridge.finished[0].end_reason == "caller hung up" and not bridge.finished[0].error
        assert rms(stream.audio()) > 0.01  # the bot was talking when the caller left
        assert ended_at[0] < 1.5, f"session took {ended_at[0]:.2f}s to end after the BYE"

    await no_leaks(body)


async def test_dtmf_rfc4733_and_info(tmp_path: Path, no_leaks: Check) -> None:
    """Key presses arrive as DTMFFrames, from RTP telephone-events and from SIP INFO."""
    digits: list[str] = []
    spec = RtpStreamSpec()
    spec.add_silence(0.3)
    spec.add_dtmf("1")
    spec.add_silence(0.2)
    spec.add_dtmf("#")
    spec.add_silence(0.3)
    pcap = spec.write_pcap(tmp_path / "dtmf.pcap")

    async def body() -> None:
        with RtpRecorder() as recorder:
            async with running_bridge(lambda info: fake_agent(info, digits=digits)) as bridge:
                await run_sipp(
                    question_scenario(str(pcap), recorder.port, 2000, dtmf_info="5"), bridge.port, tmp_path
                )
                await wait_until(lambda: bool(bridge.finished), 5)
        assert sorted(digits) == sorted(["5", "1", "#"]), digits
        assert digits.index("1") < digits.index("#")

    await no_leaks(body)


async def test_hold_and_resume(tmp_path: Path, question_pcap: tuple[Path, float], no_leaks: Check) -> None:
    """A re-INVITE with sendonly puts the bot on hold (no RTP to the caller); sendrecv resumes it."""

    async def body() -> None:
        with RtpRecorder() as recorder:
            async with running_bridge() as bridge:
                await run_sipp(hold_scenario(recorder.port, str(question_pcap[0])), bridge.port, tmp_path)
                await wait_until(lambda: bool(bridge.finished), 5)
            gaps = recorder.stream().gaps()
        assert bridge.finished[0].end_reason == "caller hung up"
        assert gaps.size and gaps.max() > 1.0, "RTP kept flowing while on hold"
        assert np.sum(gaps > 1.0) == 1, "RTP did not resume after the hold"

    await no_leaks(body)


@pytest.mark.parametrize("status", [486, 503])
async def test_call_limit(
    tmp_path: Path, question_pcap: tuple[Path, float], status: int, no_leaks: Check
) -> None:
    """Beyond max_calls a new INVITE is refused with 486 Busy Here (or 503 if configured)."""

    async def body() -> None:
        with RtpRecorder() as recorder:
            async with running_bridge(max_calls=1, busy_status=status) as bridge:
                async with anyio.create_task_group() as tg:
                    first = question_scenario(str(question_pcap[0]), recorder.port, 3000)
                    tg.start_soon(lambda: run_sipp(first, bridge.port, tmp_path, name="first"))
                    await wait_until(lambda: not (bridge.active_calls < 1), 5)
                    await run_sipp(refused_scenario(status), bridge.port, tmp_path, name="second")
                await wait_until(lambda: len(bridge.finished) == 1, 5)

    await no_leaks(body)


async def test_only_gateways_or_authenticated_callers(tmp_path: Path, no_leaks: Check) -> None:
    """Outside allow_from: 403 without auth configured; with auth, a digest challenge that SIPp answers."""

    async def body() -> None:
        with RtpRecorder() as recorder:
            async with running_bridge(allow_from=[]) as bridge:
                await run_sipp(refused_scenario(403), bridge.port, tmp_path, name="forbidden")
            async with running_bridge(allow_from=[], auth_users={"gateway": "s3cret"}) as bridge:
                wrong = ("-au", "gateway", "-ap", "wrong")
                await run_sipp(refused_scenario(401), bridge.port, tmp_path, name="noauth")
                result = await run_sipp(
                    auth_scenario(None, recorder.port),
                    bridge.port,
                    tmp_path,
                    name="wrong",
                    extra=wrong,
                    check=False,
                )
                assert result.returncode != 0 and not bridge.finished
                good = ("-au", "gateway", "-ap", "s3cret")
                await run_sipp(
                    auth_scenario(None, recorder.port), bridge.port, tmp_path, name="auth", extra=good
                )
                await wait_until(lambda: bool(bridge.finished), 5)
                assert bridge.finished[0].end_reason == "caller hung up"

    await no_leaks(body)


async def test_register_with_digest(tmp_path: Path, no_leaks: Check) -> None:
    """REGISTER to a registrar (SIPp as UAS) that challenges and verifies the digest."""

    async def body() -> None:
        from cascade.testing.sip_peers.ports import free_port

        registrar_port = free_port()
        reg = RegisterOptions(registrar=f"sip:127.0.0.1:{registrar_port}", user="bot", password="pw123")
        async with anyio.create_task_group() as tg:
            scenario = registrar_scenario("bot", "pw123")
            tg.start_soon(
                lambda: run_sipp(
                    scenario,
                    0,
                    tmp_path,
                    name="registrar",
                    extra=("-p", str(registrar_port)),
                    target="",
                    limit=20,
                )
            )
            await anyio.sleep(0.5)
            async with running_bridge(registration=reg) as bridge:
                with anyio.fail_after(10):
                    await bridge.ua.registered.wait()

    await no_leaks(body)


async def test_transfer_tool_sends_refer(
    tmp_path: Path, question_pcap: tuple[Path, float], no_leaks: Check
) -> None:
    """The LLM's transfer tool: REFER, 202, NOTIFY with 200 → the bot hangs up, result text says so."""
    results: list[str] = []

    def factory(info: CallInfo) -> Pipeline:
        async def transfer(call: CallInfo) -> str:
            return await run_tool(call.controls, "transfer_call", {"destination": "sales"})

        stages = [
            FakeASR(["hi"], silence=0.4),
            FakeTurnTaker(),
            FakeLLM("One moment."),
            RecordedReply(),
            ActOnTurn(info, transfer, results),
        ]
        return Pipeline(stages)

    async def body() -> None:
        with RtpRecorder() as recorder:
            targets = {"sales": "sip:sales@127.0.0.1"}
            async with running_bridge(factory, transfer_targets=targets) as bridge:
                await run_sipp(transfer_scenario(recorder.port, str(question_pcap[0])), bridge.port, tmp_path)
                await wait_until(lambda: bool(bridge.finished), 5)
        assert results == ["The caller was transferred to sales."]
        assert bridge.finished[0].end_reason.startswith("transferred to sip:sales@127.0.0.1")

    await no_leaks(body)


async def test_hang_up_tool_and_rtp_guard(
    tmp_path: Path, question_pcap: tuple[Path, float], no_leaks: Check
) -> None:
    """The hang-up tool lets the reply finish, then sends BYE; RTP from a stranger is ignored."""
    results: list[str] = []

    def factory(info: CallInfo) -> Pipeline:
        async def hang_up(call: CallInfo) -> str:
            return await run_tool(call.controls, "hang_up", {})

        return Pipeline(
            [
                FakeASR(["bye"], silence=0.4),
                FakeTurnTaker(),
                FakeLLM("Goodbye."),
                RecordedReply(),
                ActOnTurn(info, hang_up, results),
            ]
        )

    async def body() -> None:
        with RtpRecorder() as recorder:
            async with running_bridge(factory) as bridge, anyio.create_task_group() as tg:
                scenario = hung_up_by_bridge_scenario(recorder.port, str(question_pcap[0]))
                tg.start_soon(lambda: run_sipp(scenario, bridge.port, tmp_path))
                await wait_until(lambda: bool(bridge.ua.calls), 5)
                call = next(iter(bridge.ua.calls.values()))
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
                    stranger.bind(("127.0.0.2", 0))  # another address on loopback
                    loud = bytes([0x00, 0x80] * 80)
                    for seq in range(20):
                        packet = RtpPacket(0, seq, seq * 160, 99, loud).build()
                        stranger.sendto(packet, ("127.0.0.1", call.media.local_port))
                await anyio.sleep(0.2)
                assert call.media.stats.ignored >= 20
            stream = recorder.stream()
        assert results == ["The call has ended."]
        assert bridge.finished[0].end_reason == "the agent ended the call"
        assert rms(stream.audio()) > 0.01  # the goodbye was played before the BYE

    await no_leaks(body)


class RunToolOnReply(Stage):
    """Runs a RunContext tool once, after the first reply, with the session's context (as the
    LLM stage's tool runner builds it)."""

    inputs = (LLMResponseEnded,)

    def __init__(self, results: list[str], infos: list[SessionInfo]) -> None:
        super().__init__(name="RunToolOnReply")
        self.results, self.infos = results, infos

    async def process(self, frame: Frame) -> None:
        await self.emit(frame)
        if not self.results:
            self.results.append("pending")
            self.infos.append(self.ctx.info)
            self.results[0] = await end_call.invoke(
                end_call.parse({}), RunContext(info=self.ctx.info, userdata={})
            )


@tool(cancellable=False)
async def end_call(ctx: RunContext) -> str:
    """End the call."""
    return await ctx.hang_up()


async def test_a_tool_hangs_up_the_call_through_its_run_context(
    tmp_path: Path, question_pcap: tuple[Path, float], no_leaks: Check
) -> None:
    """The session of a phone call knows the caller and its Call-ID; a tool ends it with hang_up."""
    results: list[str] = []
    infos: list[SessionInfo] = []

    def factory(info: CallInfo) -> Pipeline:
        stages = [FakeASR(["bye"], silence=0.4), FakeTurnTaker(), FakeLLM("Goodbye."), RecordedReply()]
        return Pipeline([*stages, RunToolOnReply(results, infos)])

    async def body() -> None:
        with RtpRecorder() as recorder:
            async with running_bridge(factory) as bridge:
                scenario = hung_up_by_bridge_scenario(recorder.port, str(question_pcap[0]))
                await run_sipp(scenario, bridge.port, tmp_path)
                await wait_until(lambda: bool(bridge.finished), 5)
        assert results == ["The call has ended."]
        record = bridge.finished[0]
        assert record.end_reason == "the agent ended the call"
        (info,) = infos
        assert (info.transport, info.call_id, info.session_id) == ("sip", record.call_id, record.call_id)
        assert info.caller and info.caller in record.caller and info.remote

    await no_leaks(body)


async def test_rtp_timeout_hangs_up(tmp_path: Path, no_leaks: Check) -> None:
    """A caller that sends no audio at all is hung up after rtp_timeout."""

    async def body() -> None:
        with RtpRecorder() as recorder:
            async with running_bridge(rtp_timeout=1.0) as bridge:
                await run_sipp(
                    hung_up_by_bridge_scenario(recorder.port, None, wait_ms=8000), bridge.port, tmp_path
                )
                await wait_until(lambda: bool(bridge.finished), 5)
        assert bridge.finished[0].end_reason == "no RTP for 1s"

    await no_leaks(body)


async def test_codec_negotiation_refuses_unknown_codecs(tmp_path: Path, no_leaks: Check) -> None:
    """An offer without PCMU/PCMA is refused with 488 Not Acceptable Here."""

    async def body() -> None:
        async with running_bridge() as bridge:
            offer = sdp_offer(codecs="9 101").replace("a=rtpmap:0 PCMU/8000\n", "")
            await run_sipp(refused_scenario(488, offer), bridge.port, tmp_path, name="g722")

    await no_leaks(body)


def test_question_audio_is_speech() -> None:
    """Guard: the recorded question really has speech in it (the other tests rely on that)."""
    audio = question_audio()
    assert len(audio) > 8000 and rms(audio) > 0.02
    assert DTMFFrame(digit="#").digit == "#"


async def test_shutdown_says_goodbye(
    tmp_path: Path, question_pcap: tuple[Path, float], no_leaks: Check
) -> None:
    """Stopping the bridge mid-call sends BYE to the caller (SIPp expects it) and leaves nothing behind."""

    async def body() -> None:
        with RtpRecorder() as recorder:
            async with anyio.create_task_group() as tg:
                scenario = hung_up_by_bridge_scenario(recorder.port, str(question_pcap[0]), wait_ms=10000)
                async with running_bridge() as bridge:
                    tg.start_soon(lambda: run_sipp(scenario, bridge.port, tmp_path))
                    await wait_until(lambda: bool(bridge.ua.calls), 5)
                    await anyio.sleep(0.5)
        # SIPp's scenario only succeeds if the BYE came (run_sipp checks its exit status)
        assert bridge.finished and not bridge.finished[0].error

    await no_leaks(body)


async def test_the_embedded_agent_answers_a_phone_call(
    tmp_path: Path, question_pcap: tuple[Path, float], whisper: Any, no_leaks: Check, vllm_server: Any
) -> None:
    """The real agent on a call (VAD, Whisper, turn-taking, vLLM, hibari), keypad input included.

    The hang-up tool is left out: the embedded 0.5B model calls tools unasked and would hang up.
    """
    from cascade.agent import AgentConfig, VoiceAgent
    from cascade.agent.phone import call_pipeline

    agent = VoiceAgent(AgentConfig(call_control_tools=False))
    await agent.prepare()  # load the models before the call

    def phone_pipeline(info: CallInfo) -> Pipeline:
        return call_pipeline(agent, info)

    pcap, speech_end = question_pcap

    async def body() -> None:
        with RtpRecorder() as recorder:
            async with running_bridge(
                phone_pipeline, rtp_timeout=20.0
            ) as bridge:  # SIPp sends no RTP after the question
                scenario = question_scenario(str(pcap), recorder.port, int(speech_end * 1000) + 9000)
                await run_sipp(scenario, bridge.port, tmp_path)
                await wait_until(lambda: bool(bridge.finished), 5)
            stream = recorder.stream()
        record = bridge.finished[0]
        assert record.end_reason == "caller hung up" and not record.error
        reply = stream.audio()
        assert rms(reply) > 0.01, "the caller heard only silence"
        first_voice = stream.first_voice_time()
        assert first_voice is not None and first_voice > audio_start(tmp_path) + speech_end
        assert transcribe(whisper, reply).strip(), "the reply should be speech"

    await no_leaks(body)
