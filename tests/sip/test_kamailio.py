"""Scale-out: Kamailio's dispatcher spreads calls over two bridge workers and skips a dead one."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

import anyio
import pytest

from cascade.testing.sip_peers.ports import free_port, free_port_both
from cascade.testing.sip_peers.recorder import RtpRecorder
from cascade.testing.sip_peers.sipp import question_scenario
from cascade.transports.sip import BridgeOptions, PhoneBridge, SipOptions
from tests.sip.conftest import need, run_sipp, wait_until
from tests.sip.helpers import fake_agent

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

START = Path(__file__).parents[2] / "deploy" / "kamailio" / "start-proxy.sh"


def proxy_answers(port: int) -> bool:
    """True once Kamailio answers an OPTIONS on ``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(0.3)
        me = sock.getsockname()[1]
        probe = (
            f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bKprobe{me}\r\n"
            f"From: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1:{port}>\r\nCall-ID: probe-{me}\r\n"
            "CSeq: 1 OPTIONS\r\nMax-Forwards: 5\r\nContent-Length: 0\r\n\r\n"
        )
        sock.sendto(probe.encode(), ("127.0.0.1", port))
        try:
            return sock.recv(4096).startswith(b"SIP/2.0 200")
        except OSError:
            return False


async def test_dispatcher_spreads_calls_and_skips_a_stopped_worker(tmp_path: Path) -> None:
    """Six calls over two workers reach both; after one worker stops, four more calls still work."""
    need("kamailio", "kamailio")
    need("sipp", "sip-tester")
    proxy_port = free_port()
    workers = [
        PhoneBridge(
            fake_agent, BridgeOptions(sip=SipOptions(port=free_port_both(), rtp_timeout=5), hangup_grace=1)
        )
        for _ in range(2)
    ]
    env = {**os.environ, "RUN_DIR": str(tmp_path / "kamailio"), "FR_TIMER": "1000", "PING_INTERVAL": "1"}
    log_file = (tmp_path / "kamailio.log").open("wb")
    process = await anyio.open_process(
        [str(START), f"127.0.0.1:{proxy_port}", *(f"127.0.0.1:{w.port}" for w in workers)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=log_file,
        start_new_session=True,
    )
    try:
        async with anyio.create_task_group() as tg:
            scopes = []
            for worker in workers:
                scope = anyio.CancelScope()
                scopes.append(scope)

                async def serve(w: PhoneBridge = worker, s: anyio.CancelScope = scope) -> None:
                    with s:
                        await w.run()

                tg.start_soon(serve)
            await wait_until(lambda: all(w.ua.ready.is_set() for w in workers), 5)
            for _ in range(50):
                if proxy_answers(proxy_port):
                    break
                await anyio.sleep(0.1)
            else:
                pytest.fail(f"Kamailio did not start:\n{(tmp_path / 'kamailio.log').read_text()[-2000:]}")
            with RtpRecorder() as recorder:
                scenario = question_scenario(None, recorder.port, 300)
                target = f"127.0.0.1:{proxy_port}"
                await run_sipp(scenario, 0, tmp_path, name="spread", calls=6, rate=20, target=target)
                await wait_until(lambda: sum(len(w.finished) for w in workers) == 6, 5)
                assert all(len(w.finished) >= 2 for w in workers), [len(w.finished) for w in workers]

                scopes[1].cancel()  # worker 2 goes away without a word
                await wait_until(lambda: not workers[1].ua.ready.is_set() or workers[1].active_calls == 0, 5)
                await anyio.sleep(0.2)
                before = len(workers[0].finished)
                await run_sipp(
                    scenario, 0, tmp_path, name="failover", calls=4, rate=5, target=target, limit=30
                )
                await wait_until(lambda: len(workers[0].finished) == before + 4, 5)
                assert all(r.end_reason == "caller hung up" for r in workers[0].finished)
            tg.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            os.killpg(process.pid, signal.SIGTERM)
            with anyio.move_on_after(10):
                await process.wait()
            if process.returncode is None:
                os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
            await process.aclose()
            log_file.close()
