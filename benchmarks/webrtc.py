"""WebRTC benchmark: voice-to-voice latency as a real browser hears it, and concurrent sessions.

    python benchmarks/webrtc.py --build-manifest build/webrtc-manifest.jsonl   # from Debian audio
    python benchmarks/webrtc.py build/webrtc-manifest.jsonl [--agent module:name] [--sessions 1,2,4]

For each manifest line ``{"audio": "question.wav"}`` (paths relative to the manifest) the question is
played as a headless Chromium's microphone into ``cascade demo`` (in a private network namespace);
latency = end of the caller's speech in the page's microphone recording → first bot audio in the
page's recording of the remote track. The same agent answers the same file on the FileTransport in
the same run (latency = caller speech end → first bot audio on the reply track), so the ratio shows
what WebRTC adds. Then N pages call at once (one server process) to see how many sessions it holds
in real time. Needs root, chromium and tests/browser/node_modules (``scripts/setup.sh test``).
Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import soundfile

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cascade.apps.demo import resolve_agent  # noqa: E402
from cascade.audio import load_audio  # noqa: E402
from cascade.transports.file import FileTransport  # noqa: E402
from tests.webrtc.browser import (  # noqa: E402
    demo_server,
    missing_prerequisites,
    network_namespace,
    read_recording,
    run_browser,
    segments,
)

RATE = 16000
LEAD, TAIL = 1.0, 6.0
DEBIAN_SPEECH = Path("/usr/share/pocketsphinx/test/data/librivox")


def build_manifest(path: Path) -> None:
    """Write a manifest of recorded utterances from Debian's pocketsphinx-testdata."""
    files = sorted(DEBIAN_SPEECH.glob("*.wav"))
    if not files:
        sys.exit("pocketsphinx-testdata is missing: apt install pocketsphinx-testdata")
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"audio": os.path.relpath(f, path.parent)}) for f in files[:3]]
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {len(lines)} entries to {path}", file=sys.stderr)


def caller(question: Path, out: Path) -> float:
    """Silence, the question, silence; returns where the question's speech ends (seconds)."""
    audio = load_audio(question, RATE)
    pad = np.zeros(int(LEAD * RATE), np.int16)
    soundfile.write(str(out), np.concatenate([pad, audio, np.zeros(int(TAIL * RATE), np.int16)]), RATE)
    return LEAD + segments(audio.astype(np.float32) / 32768, RATE)[-1][1]


def browser_latency(page: dict[str, Any]) -> float | None:
    """Caller speech end → first bot audio, both in the page's own recording."""
    heard = read_recording(page["wav"])
    if not heard.mic:
        return None
    end = heard.mic[-1][1]  # the caller file holds one question, then silence
    after = [a for a, _ in heard.bot if a > end]
    return float(after[0] - end) if after else None


async def file_latency(spec: str, question_wav: Path, speech_end: float, out: Path) -> float | None:
    """The same agent on the FileTransport: caller speech end → first bot audio on the reply track."""
    factory, startup = resolve_agent(spec, ROOT)
    if startup is not None:
        await startup()
    transport = FileTransport(question_wav, out / "reply.wav", reply_timeout=10.0)
    await factory().run(transport)
    reply, rate = soundfile.read(str(out / "reply.wav"), dtype="float32")
    after = [a for a, _ in segments(reply, rate) if a > speech_end]
    return float(after[0] - speech_end) if after else None


def summary(values: list[float | None]) -> dict[str, Any]:
    got = [v for v in values if v is not None]
    return {
        "n": len(values),
        "answered": len(got),
        "median_s": round(statistics.median(got), 3) if got else None,
        "max_s": round(max(got), 3) if got else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("manifest", type=Path, nargs="?")
    parser.add_argument("--build-manifest", type=Path)
    parser.add_argument(
        "--agent", default="tests.webrtc.agents:scripted", help="module:name (see cascade demo)"
    )
    parser.add_argument("--sessions", default="1,2,4,8", help="concurrent browser sessions to try")
    args = parser.parse_args()
    if args.build_manifest:
        build_manifest(args.build_manifest)
        return
    if args.manifest is None:
        parser.error("give a manifest (or --build-manifest PATH)")
    reason = missing_prerequisites()
    if reason:
        sys.exit(f"cannot run the browser: {reason}")
    base = args.manifest.parent
    questions = [base / json.loads(line)["audio"] for line in args.manifest.read_text().splitlines() if line]
    work = Path(tempfile.mkdtemp(prefix="cascade-webrtc-bench-"))
    result: dict[str, Any] = {
        "benchmark": "webrtc",
        "agent": args.agent,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "note": "browser (Chromium) and server share the same CPUs",
        },
    }
    browser: list[float | None] = []
    files: list[float | None] = []
    netns_name = f"cascade-bench-{os.getpid()}"
    with (
        network_namespace(netns_name) as netns,
        demo_server(netns, args.agent, max_sessions=64, log_path=work / "server.log") as url,
    ):
        for i, question in enumerate(questions):
            wav = work / f"caller{i}.wav"
            end = caller(question, wav)
            seconds = LEAD + load_audio(question, RATE).size / RATE + 5
            (page,) = run_browser(netns, url, wav, work / f"one{i}", seconds=seconds, screenshot=False)
            browser.append(browser_latency(page))
            (work / f"file{i}").mkdir()
            files.append(anyio.run(file_latency, args.agent, wav, end, work / f"file{i}"))
        result["voice_to_voice"] = {
            "browser": summary(browser),
            "file_transport": summary(files),
            "per_question": [
                {"audio": str(q.name), "browser_s": b and round(b, 3), "file_s": f and round(f, 3)}
                for q, b, f in zip(questions, browser, files, strict=True)
            ],
        }
        wav = work / "caller-concurrent.wav"
        caller(questions[0], wav)
        seconds = LEAD + load_audio(questions[0], RATE).size / RATE + 5
        baseline = summary(browser)["median_s"] or 1.0
        concurrency = []
        for n in (int(x) for x in args.sessions.split(",")):
            started = time.monotonic()
            out = work / f"many{n}"
            pages = run_browser(netns, url, wav, out, sessions=n, seconds=seconds, screenshot=False)
            lat = [browser_latency(p) for p in pages]
            row = summary(lat)
            row["sessions"] = n
            row["wall_s"] = round(time.monotonic() - started, 1)
            row["real_time"] = row["answered"] == n and (row["max_s"] or 99) <= 2 * baseline + 0.3
            concurrency.append(row)
        result["concurrency"] = concurrency
        held = [r["sessions"] for r in concurrency if r["real_time"]]
        result["max_real_time_sessions"] = max(held) if held else 0
        result["criterion"] = "every session answered and its browser-heard latency <= 2x single + 0.3 s"
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
