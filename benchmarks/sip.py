"""Phone bridge benchmark: voice-to-voice latency as the caller hears it, and concurrent calls.

    python benchmarks/build_sip_manifest.py --out /tmp/sip-bench
    python benchmarks/sip.py --manifest /tmp/sip-bench/manifest.jsonl --calls 1 8 16 32

The bridge runs in its own process (``--serve``) with a pipeline of fakes (energy VAD/ASR,
turn-taker, an LLM answering after ``--llm-ttft`` seconds as a remote LLM would, a tone TTS), so
the figures are the transport's own: SIP, RTP, jitter buffer, resampling, pacing. SIPp places the
calls and streams each manifest utterance as PCMU from a pcap; an RTP recorder is the caller's
ear. Per concurrency level it prints:

* ``v2v_p50/p95`` -- voice-to-voice latency as the caller hears it: the first loud reply packet's
  arrival minus the moment the caller's speech ended (SIPp's stream start + the speech end in the
  utterance). Includes the fake ASR's 0.4 s end-of-speech silence and the LLM's TTFT.
* ``gap_p99_ms`` / ``late_packet_ratio`` -- inter-arrival gaps of the bot's RTP at the caller and
  the share of gaps over 40 ms (a 20 ms stream that stutters);
  ``source_late_ticks`` -- input ticks the bridge ran a packet late; ``bridge_cpu`` -- CPU
  seconds the bridge used per call-second.
* ``realtime`` -- every call answered, gap p99 < 45 ms, late packets < 1 % and late input
  ticks < 1 %.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from cascade.audio import load_audio
from cascade.testing.sip_peers.pcap import RtpStreamSpec
from cascade.testing.sip_peers.ports import free_media_ports, free_port, free_port_both
from cascade.testing.sip_peers.recorder import RtpRecorder
from cascade.testing.sip_peers.sipp import question_scenario

SILENCE_THRESHOLD = 0.02


def serve(port: int, records: Path, ttft: float, max_calls: int) -> None:
    """Run the bridge with the fake pipeline; append each finished call to ``records`` (JSONL)."""
    import anyio

    from cascade.pipeline import Pipeline
    from cascade.testing.fakes import FakeASR, FakeLLM, FakeTTS, FakeTurnTaker
    from cascade.transports.sip import BridgeOptions, CallInfo, PhoneBridge, SipOptions

    def factory(info: CallInfo) -> Pipeline:
        reply = "Sure. Your order ships tomorrow morning and arrives on Friday."
        return Pipeline(
            [FakeASR(["question"], silence=0.4), FakeTurnTaker(), FakeLLM(reply, ttft=ttft), FakeTTS()]
        )

    options = BridgeOptions(sip=SipOptions(port=port, max_calls=max_calls, rtp_timeout=10))
    bridge = PhoneBridge(factory, options)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            await tg.start(bridge.run)
            written = 0
            with anyio.open_signal_receiver(signal.SIGTERM) as signals:
                tg.start_soon(_stop_on, signals, tg.cancel_scope)
                while True:
                    await anyio.sleep(0.2)
                    with records.open("a") as out:
                        for record in bridge.finished[written:]:
                            out.write(json.dumps(record.__dict__) + "\n")
                    written = len(bridge.finished)

    async def _stop_on(signals: Any, scope: Any) -> None:
        async for _ in signals:
            scope.cancel()
            return

    anyio.run(main)


def speech_end(audio: np.ndarray) -> float:
    """Seconds into ``audio`` where the last loud 20 ms frame ends."""
    frames = audio[: len(audio) // 160 * 160].reshape(-1, 160).astype(np.float32) / 32768
    loud = np.nonzero(np.sqrt((frames**2).mean(axis=1)) > SILENCE_THRESHOLD)[0]
    return float((loud[-1] + 1) * 0.02) if loud.size else 0.0


def run_level(calls: int, utterance: np.ndarray, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Place ``calls`` simultaneous calls through a fresh bridge process and measure them."""
    port = free_port_both()
    records = work / f"records-{calls}.jsonl"
    records.unlink(missing_ok=True)
    bridge = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve",
            str(port),
            "--records",
            str(records),
            "--llm-ttft",
            str(args.llm_ttft),
        ],
        stdout=subprocess.DEVNULL,
        stderr=(work / f"bridge-{calls}.log").open("wb"),
    )
    spec = RtpStreamSpec()
    lead = np.zeros(4000, np.int16)
    spec.add_audio(np.concatenate([lead, utterance]))
    end = 0.5 + speech_end(utterance)
    spec.add_silence(0.5)
    pcap = spec.write_pcap(work / "question.pcap")
    try:
        time.sleep(1.5)  # bridge start-up
        cpu_before = _cpu_seconds(bridge.pid)
        with RtpRecorder() as recorder:
            scenario = question_scenario(str(pcap), recorder.port, int(end * 1000) + int(args.listen * 1000))
            scenario = scenario.replace('message="audio-start', 'message="audio-start [call_number]')
            path = work / f"calls-{calls}.xml"
            path.write_text(scenario)
            log = work / f"calls-{calls}.log"
            log.unlink(missing_ok=True)
            started = time.monotonic()
            command = ["sipp", "-sf", str(path), "-i", "127.0.0.1", "-p", str(free_port())]
            command += ["-mp", str(free_media_ports()), "-m", str(calls), "-l", str(calls)]
            command += [
                "-r",
                str(max(calls, 1)),
                "-s",
                "bot",
                "-nostdin",
                "-timeout",
                "120",
                "-timeout_error",
            ]
            command += ["-trace_logs", "-log_file", str(log), f"127.0.0.1:{port}"]
            sipp = subprocess.run(command, cwd=work, capture_output=True, check=False)
            wall = time.monotonic() - started
            time.sleep(0.5)
            cpu = _cpu_seconds(bridge.pid) - cpu_before
            streams = sorted(recorder.streams.values(), key=lambda s: s.packets[0][0] if s.packets else 0)
    finally:
        bridge.send_signal(signal.SIGTERM)
        bridge.wait(timeout=20)
    starts = sorted(
        float(p[2]) + float(p[3]) / 1e6
        for p in (line.split() for line in log.read_text().splitlines() if line.startswith("audio-start"))
    )
    latencies, gaps = [], []
    for stream, start in zip(streams, starts, strict=False):
        first = stream.first_voice_time(SILENCE_THRESHOLD, after=start + end)
        if first is not None:
            latencies.append(first - (start + end))
        gaps.extend(stream.gaps().tolist())
    finished = [json.loads(line) for line in records.read_text().splitlines()] if records.exists() else []
    gap_array = np.array(gaps) if gaps else np.zeros(1)
    gap_p99 = float(np.percentile(gap_array, 99)) * 1000
    late_ratio = float(np.mean(gap_array > 0.04))
    answered = len(latencies)
    late_ticks = sum(r.get("late_ticks", 0) for r in finished)
    return {
        "calls": calls,
        "sipp_ok": sipp.returncode == 0,
        "answered": answered,
        "v2v_p50": round(statistics.median(latencies), 3) if latencies else None,
        "v2v_p95": round(float(np.percentile(latencies, 95)), 3) if latencies else None,
        "gap_p99_ms": round(gap_p99, 1),
        "late_packet_ratio": round(late_ratio, 4),
        "source_late_ticks": late_ticks,
        "bridge_cpu_per_call_second": round(cpu / max(1e-9, calls * wall), 4),
        "realtime": answered == calls
        and sipp.returncode == 0
        and gap_p99 < 45
        and late_ratio < 0.01
        and late_ticks <= 0.01 * calls * wall / 0.02,
    }


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description="SIP phone bridge benchmark (prints JSON)")
    parser.add_argument("--manifest", type=Path, help="JSONL of {wav, text}, paths relative to it")
    parser.add_argument("--calls", type=int, nargs="+", default=[1, 8, 16, 32])
    parser.add_argument("--llm-ttft", type=float, default=0.3, help="fake remote LLM time to first token (s)")
    parser.add_argument("--listen", type=float, default=4.0, help="seconds the caller listens after speaking")
    parser.add_argument("--work", type=Path, default=Path("/tmp/cascade-sip-bench"))
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--records", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--max-calls", type=int, default=200, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.records, args.llm_ttft, args.max_calls)
        return
    if args.manifest is None:
        parser.error("--manifest is required (build one with benchmarks/build_sip_manifest.py)")
    entries = [json.loads(line) for line in args.manifest.read_text().splitlines() if line.strip()]
    utterance = load_audio(args.manifest.parent / entries[0]["wav"], 8000)
    args.work.mkdir(parents=True, exist_ok=True)
    levels = [run_level(n, utterance, args.work, args) for n in args.calls]
    held = [level["calls"] for level in levels if level["realtime"]]
    print(
        json.dumps(
            {
                "benchmark": "sip",
                "machine": {
                    "cpus": os.cpu_count(),
                    "affinity": len(os.sched_getaffinity(0)),
                    "platform": platform.platform(),
                    "python": platform.python_version(),
                    "processor": platform.processor() or platform.machine(),
                    "loadavg_1m_at_end": round(os.getloadavg()[0], 2),
                },
                "pipeline": "FakeASR(0.4 s silence) -> FakeTurnTaker -> FakeLLM(remote, ttft) -> FakeTTS",
                "llm_ttft": args.llm_ttft,
                "utterance": entries[0]["wav"],
                "levels": levels,
                "max_realtime_calls_tested": max(held) if held else 0,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
