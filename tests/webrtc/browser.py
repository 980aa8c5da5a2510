"""Run the demo in headless Chromium inside a private network namespace, and read what it heard.

Used by the browser test and by ``benchmarks/webrtc.py``. Needs root (network namespaces), Debian
``chromium`` and ``npm install`` in ``tests/browser`` (``scripts/setup.sh test`` does both).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from cascade.audio import load_audio

ROOT = Path(__file__).resolve().parents[2]
DRIVER = ROOT / "tests" / "browser" / "demo_call.mjs"
NETNS = ROOT / "scripts" / "netns.sh"
ADDRESS = "192.0.2.1"
SPEECH = Path("/usr/share/pocketsphinx/test/data")
QUESTION_WAV = SPEECH / "librivox" / "sense_and_sensibility_01_austen_64kb-0880.wav"
BARGE_IN_WAV = SPEECH / "cards" / "005.wav"


def missing_prerequisites() -> str | None:
    """Why the browser cannot run here (``None`` when it can)."""
    if os.geteuid() != 0:
        return "network namespaces need root (run scripts/test.sh as root, as CI does)"
    if not Path("/usr/bin/chromium").exists():
        return "Debian chromium is missing: run scripts/setup.sh test"
    if not (DRIVER.parent / "node_modules" / "playwright-core").is_dir():
        return "playwright-core is missing: run scripts/setup.sh test (npm install in tests/browser)"
    if shutil.which("node") is None:
        return "node is missing"
    if not QUESTION_WAV.exists():
        return "pocketsphinx-testdata is missing: run scripts/setup.sh test"
    return None


@contextmanager
def network_namespace(name: str) -> Iterator[str]:
    """A private namespace (veth with 192.0.2.1) for the server and the browser; always removed."""
    subprocess.run([str(NETNS), "up", name, f"{ADDRESS}/24"], check=True)
    try:
        yield name
    finally:
        subprocess.run([str(NETNS), "down", name], check=False)


@contextmanager
def demo_server(
    netns: str,
    agent: str,
    *,
    port: int = 8765,
    token: str = "browser-test",
    max_sessions: int = 4,
    log_path: Path,
) -> Iterator[str]:
    """``cascade demo`` inside ``netns``; yields the page URL once the agent is prepared (the demo
    prints it then; before, offers get 503). Stopped with SIGINT (graceful)."""
    command = [
        "ip", "netns", "exec", netns, sys.executable, "-c",
        "import sys; from cascade.cli import app; sys.argv[0] = 'cascade'; app()",
        "demo", "--host", ADDRESS, "--port", str(port), "--token", token, "--agent", agent,
        "--max-sessions", str(max_sessions), "--app-dir", str(ROOT),
    ]  # fmt: skip
    with log_path.open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        wait_for_line(log_path, "cascade demo: open", process, limit=300)
        yield f"http://{ADDRESS}:{port}/?token={token}&raw=1"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for_line(path: Path, text: str, process: subprocess.Popen[bytes], limit: float) -> None:
    """Wait until ``text`` appears in the log at ``path``; fail if the process ends or time runs out."""
    deadline = time.monotonic() + limit
    while text not in path.read_text(errors="replace"):
        if process.poll() is not None:
            raise RuntimeError(f"cascade demo exited ({process.returncode}):\n{path.read_text()[-2000:]}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"cascade demo never printed {text!r} in {limit:.0f} s")
        time.sleep(0.1)


def caller_wav(path: Path, rate: int = 16000, answer_gap: float = 3.0) -> dict[str, float]:
    """Question, ``answer_gap`` s of silence (the bot answers), a barge-in, 6 s of silence.

    Returns the timeline.
    """
    question, barge = load_audio(QUESTION_WAV, rate), load_audio(BARGE_IN_WAV, rate)
    lead, tail = np.zeros(rate, np.int16), np.zeros(6 * rate, np.int16)
    gap = np.zeros(int(answer_gap * rate), np.int16)
    soundfile.write(str(path), np.concatenate([lead, question, gap, barge, tail]), rate, subtype="PCM_16")
    return {"question_start": 1.0, "barge_in_start": 1.0 + (len(question) + len(gap)) / rate}


def run_browser(
    netns: str,
    url: str,
    wav: Path,
    out: Path,
    *,
    sessions: int = 1,
    seconds: float = 18.0,
    screenshot: bool = True,
) -> list[dict[str, Any]]:
    """Run ``sessions`` pages at once; returns each page's JSON (events, recording path, state)."""
    options = {
        "url": url, "wav": str(wav), "out": str(out), "sessions": sessions, "seconds": seconds,
        "screenshot": screenshot,
    }  # fmt: skip
    subprocess.run(
        ["ip", "netns", "exec", netns, "node", str(DRIVER), json.dumps(options)],
        check=True, timeout=seconds + 60 + 2 * sessions, cwd=DRIVER.parent, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return [json.loads((out / f"call{i}.json").read_text()) for i in range(sessions)]


@dataclass
class Heard:
    """Speech segments (start, end) in seconds on the page's recording clock."""

    mic: list[tuple[float, float]] = field(default_factory=list)
    bot: list[tuple[float, float]] = field(default_factory=list)

    def bot_audio_between(self, start: float, end: float) -> float:
        """Seconds of bot audio inside [start, end]."""
        return sum(max(0.0, min(b, end) - max(a, start)) for a, b in self.bot)


def segments(
    x: np.ndarray, rate: int, threshold: float = 0.01, gap: float = 0.3
) -> list[tuple[float, float]]:
    """Loud stretches of ``x`` (float mono) at 10 ms resolution, merging gaps shorter than ``gap``."""
    hop = rate // 100
    n = len(x) // hop
    rms = np.sqrt((x[: n * hop].reshape(n, hop) ** 2).mean(axis=1))
    out: list[tuple[float, float]] = []
    for i in np.flatnonzero(rms > threshold):
        t = i / 100
        if out and t - out[-1][1] <= gap:
            out[-1] = (out[-1][0], t + 0.01)
        else:
            out.append((t, t + 0.01))
    return out


def read_recording(path: str | Path) -> Heard:
    """The stereo page recording (left: microphone, right: bot) as speech segments."""
    data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    return Heard(mic=segments(data[:, 0], rate), bot=segments(data[:, 1], rate))
