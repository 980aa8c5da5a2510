"""The wheel, installed with ``[all]`` into a fresh venv, works away from the source tree.

The wheel is built from a copy of what it needs (``cascade/``, ``pyproject.toml``, ``README.md``,
``LICENSE``), so no stale ``build/`` folder in the checkout leaks into it, and installed into a venv
made in a temporary folder. Every command then runs there with the checkout neither on
``PYTHONPATH`` nor the working directory: a module, page or template missing from the package data
fails here rather than on a user's machine. The models come from the shared cache that
``scripts/setup.sh`` prepared, and the LLM from the session's embedded vLLM (``vllm_server``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).parents[2]
SOURCES = ("cascade", "pyproject.toml", "README.md", "LICENSE")
"""What building the wheel needs from the checkout."""
PAGE_FILES = ("index.html", "demo.js", "demo.css")
PAGE_TITLE = "cascade · voice agent demo"


def run(command: list[str | Path], *, timeout: float, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run ``command``; on failure the assertion shows its output."""
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)
    assert result.returncode == 0, (
        f"`{' '.join(map(str, command))}` exited {result.returncode}:\n"
        f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``cascade_voice-*.whl`` built from a clean copy of the sources."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, source / name)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", work / "dist", source], timeout=300)
    (built,) = (work / "dist").glob("cascade_voice-*.whl")
    return built


class Installed(NamedTuple):
    """A fresh venv holding the wheel: its ``bin/``, an environment and a folder to run in."""

    bin: Path
    env: dict[str, str]
    cwd: Path

    def run(self, *command: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """``bin/<command[0]> command[1:]`` in the folder outside the checkout."""
        return run([self.bin / command[0], *command[1:]], env=self.env, cwd=self.cwd, timeout=timeout)


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel and its ``[all]`` extras in a fresh venv, run from outside the checkout."""
    venv = tmp_path_factory.mktemp("venv") / "venv"
    # Without the checkout on PYTHONPATH: pip would take its cascade_voice.egg-info (an editable
    # install's) for the package already installed.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join([str(venv / "bin"), env.get("PATH", "")])
    installed = Installed(venv / "bin", env, tmp_path_factory.mktemp("elsewhere"))
    run([sys.executable, "-m", "venv", venv], env=env, timeout=120)
    installed.run("python", "-m", "pip", "install", "-q", f"{wheel}[all]", timeout=600)
    return installed


def test_wheel_holds_the_package_data(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        *(f"cascade/transports/webrtc_page/{name}" for name in PAGE_FILES),
        "cascade/py.typed",
        "cascade/llm/chatml_tools.jinja",
        "cascade/llm/convert_gguf.py.txt",
        "cascade/llm/vllm_tool_parser.py.txt",
    }
    assert expected <= names, f"missing from the wheel: {sorted(expected - names)}"
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    assert not any("__pycache__" in name or name.startswith("tests/") for name in names)


def test_installed_cascade_is_the_wheels(installed: Installed) -> None:
    where = installed.run("python", "-c", "import cascade; print(cascade.__file__)").stdout
    assert str(installed.bin.parent / "lib") in where and str(ROOT) not in where
    assert "Commands" in installed.run("cascade", "--help").stdout
    for command in ("talk", "demo", "phone", "prepare"):
        installed.run("cascade", command, "--help")


@pytest.mark.usefixtures("vllm_server")
def test_talk_answers_from_the_installed_wheel(installed: Installed) -> None:
    installed.run(
        "cascade", "talk", str(ROOT / "examples" / "question.wav"),
        "--knowledge", str(ROOT / "examples" / "knowledge" / "bakery.md"),
        "--fast", "--out", "out/reply.wav",
        timeout=600,
    )  # fmt: skip
    transcript = json.loads((installed.cwd / "out" / "reply.json").read_text())["transcript"]
    said = [entry["text"] for entry in transcript if entry["role"] == "user"]
    replies = [entry["text"] for entry in transcript if entry["role"] == "assistant"]
    assert said and "saturday" in said[0].lower(), transcript
    assert replies and replies[0].strip(), transcript


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str) -> tuple[int, str]:
    """Status and body of ``GET url``; ``(0, "")`` while nothing listens."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""
    except OSError:
        return 0, ""


@pytest.fixture
def demo(installed: Installed) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    """``cascade demo --no-token`` from the installed wheel, in its own process group."""
    port = free_port()
    log = installed.cwd / f"demo-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [installed.bin / "cascade", "demo", "--no-token", "--port", str(port)],
            env=installed.env, cwd=installed.cwd, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        yield f"http://127.0.0.1:{port}", process, log
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.usefixtures("vllm_server")
def test_demo_serves_the_packaged_page(demo: tuple[str, subprocess.Popen[bytes], Path]) -> None:
    url, process, log = demo
    deadline = time.monotonic() + 300  # a cold start assembles models and starts vLLM
    status, page = get(url + "/")
    while status != 200 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(1)
        status, page = get(url + "/")
    assert status == 200, f"no page at {url}/ (exit {process.poll()}):\n{log.read_text()[-3000:]}"
    assert f"<title>{PAGE_TITLE}</title>" in page and "static/demo.js" in page
    script_status, script = get(url + "/static/demo.js")
    assert script_status == 200 and "RTCPeerConnection" in script
    # The port opens at once; ``/healthz`` says 503 until the agent's models are ready.
    while get(url + "/healthz")[0] != 200 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(1)
    assert get(url + "/healthz")[0] == 200, f"never ready (exit {process.poll()}):\n{log.read_text()[-3000:]}"

    process.send_signal(signal.SIGINT)  # the way a user stops it: Ctrl-C
    assert process.wait(timeout=30) == 0, log.read_text()[-3000:]
    time.sleep(0.5)
    assert not group_alive(process.pid), "cascade demo left processes behind"
