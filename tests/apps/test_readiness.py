"""Apps take calls only once the agent is prepared: SIP and ``/healthz`` answer 503 until then,
and preparation happens once however many first calls arrive together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import httpx
import pytest

from cascade.agent.agent import VoiceAgent
from cascade.agent.config import AgentConfig
from cascade.testing.sip_peers.ports import free_port, free_port_both
from cascade.testing.sip_peers.sipp import options_scenario, refused_scenario
from cascade.transports.sip import BridgeOptions, PhoneBridge, SipOptions
from cascade.weights import PrepareError
from tests.sip.conftest import run_sipp
from tests.sip.helpers import fake_agent

pytestmark = pytest.mark.anyio
ROOT = Path(__file__).resolve().parents[2]


class Gate:
    """A startup hook the test releases (or fails)."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = anyio.Event()
        self.error: Exception | None = None

    async def __call__(self) -> None:
        self.calls += 1
        await self.release.wait()
        if self.error is not None:
            raise self.error


@pytest.mark.integration
async def test_sipp_options_and_invite_get_503_until_the_agent_is_ready(tmp_path: Path) -> None:
    gate, port = Gate(), free_port_both()
    options = BridgeOptions(sip=SipOptions(port=port, rtp_timeout=5), hangup_grace=1)
    bridge = PhoneBridge(fake_agent, options, startup=gate)
    async with anyio.create_task_group() as tg:
        await tg.start(bridge.run)
        await run_sipp(options_scenario(503), port, tmp_path, name="options-preparing")
        await run_sipp(refused_scenario(503), port, tmp_path, name="invite-preparing")
        assert bridge.ua.stats.calls == 0 and not bridge.readiness.ready
        gate.release.set()
        await bridge.readiness.wait()
        await run_sipp(options_scenario(200), port, tmp_path, name="options-ready")
        tg.cancel_scope.cancel()
    assert gate.calls == 1


async def test_a_failed_preparation_ends_the_bridge_with_its_error() -> None:
    gate = Gate()
    gate.error = PrepareError("no model")
    bridge = PhoneBridge(fake_agent, BridgeOptions(sip=SipOptions(port=0)), startup=gate)
    gate.release.set()
    with pytest.raises(ExceptionGroup) as caught:
        await bridge.run()
    assert caught.group_contains(PrepareError, match="no model")
    assert bridge.readiness.probe() == (
        503,
        {"status": "failed", "error": "the agent failed to prepare: no model"},
    )


async def test_first_calls_arriving_together_prepare_the_agent_once(monkeypatch: pytest.MonkeyPatch) -> None:
    prepared: list[float] = []

    async def slow_prepare(self: VoiceAgent) -> None:
        prepared.append(time.monotonic())
        await anyio.sleep(0.2)

    monkeypatch.setattr(VoiceAgent, "_prepare", slow_prepare)
    agent = VoiceAgent(AgentConfig(llm={"base_url": "http://127.0.0.1:9/v1"}))
    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(agent.prepare)
    assert len(prepared) == 1 and agent.prepared
    await agent.prepare()
    assert len(prepared) == 1


@contextmanager
def app_process(*args: str, ready_file: Path) -> Iterator[subprocess.Popen[str]]:
    """``cascade ARGS`` with the slow agent; SIGINT on exit (a clean stop is asserted)."""
    env = {**os.environ, "CASCADE_TEST_READY": str(ready_file), "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "cascade.cli", *args]
    process = subprocess.Popen(command, env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        yield process
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail("the app did not stop within 20 s of SIGINT")


def probe(url: str, limit: float = 30.0) -> httpx.Response:
    """GET ``url``, retrying while the port is not open yet."""
    deadline = time.monotonic() + limit
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.mark.integration
@pytest.mark.parametrize("app", ["demo", "phone"])
def test_http_probes_say_503_while_preparing_then_200(app: str, tmp_path: Path) -> None:
    ready, http, metrics = tmp_path / "ready", free_port(), free_port()
    if app == "demo":
        args = ["demo", "--agent", "tests.apps.slow_agent:agent", "--no-token", "--port", str(http)]
    else:
        args = ["phone", "--factory", "tests.apps.slow_agent:agent", "--port", str(free_port_both())]
        args += ["--health-port", str(http)]
    args += ["--metrics-port", str(metrics)]
    base = f"http://127.0.0.1:{http}"
    with app_process(*args, ready_file=ready) as process:
        preparing = probe(f"{base}/healthz")
        assert (preparing.status_code, preparing.json()) == (503, {"status": "preparing"})
        assert probe(f"{base}/livez").status_code == 200
        if app == "demo":
            offer = httpx.post(f"{base}/offer", json={"type": "offer", "sdp": "v=0"}, timeout=5)
            assert offer.status_code == 400  # a bad offer is still told what is wrong
        ready.write_text("go")
        deadline = time.monotonic() + 10
        while probe(f"{base}/healthz").status_code != 200:
            assert time.monotonic() < deadline, "never became ready"
            time.sleep(0.1)
        scraped = probe(f"http://127.0.0.1:{metrics}/metrics").text
        assert f'cascade_ready{{app="{app}"}} 1.0' in scraped
    assert process.returncode in (0, 130), process.stderr.read() if process.stderr else ""


@pytest.mark.integration
def test_a_demo_whose_agent_cannot_prepare_exits_with_one_line(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    ready.write_text("fail")
    env = {**os.environ, "CASCADE_TEST_READY": str(ready), "PYTHONPATH": str(ROOT)}
    args = ["demo", "--agent", "tests.apps.slow_agent:agent", "--no-token", "--port", str(free_port())]
    result = subprocess.run(
        [sys.executable, "-m", "cascade.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "cascade: error: the model cache is unreadable: run `cascade prepare` again"
    )
