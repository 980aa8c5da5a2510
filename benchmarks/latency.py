"""Voice-to-voice latency of the embedded default vs a naive cascade and Pipecat 1.14, same models.

    python benchmarks/latency.py --manifest FILE.jsonl [--limit 24] [--turns 5] [--pipecat]
        [--no-naive] [--llm-url URL] [--config FILE] [--out DIR]

The manifest lists recorded caller turns, ``{"wav": path relative to the manifest, "text": ...}``
(build one from Debian's recorded speech with ``python benchmarks/build_asr_manifest.py``). The
first ``--limit`` are grouped in order into sessions of ``--turns`` caller turns (a shorter rest is
dropped); ``--turns 1`` is one session per recording. Each session runs on a real-time caller: the
turns' WAVs are played one after another, each once the bot has finished speaking its reply to the
previous one (replies play in real time; the conversation context grows), then 0.3 s of silence.
The first turn of a session counts like the others.

Every framework runs every session, interleaved session by session (cascade, the naive cascade,
Pipecat), against the same LLM server:

* ``cascade`` -- the embedded default (``VoiceAgent``) on cascade's file transport;
* ``naive_cascade`` -- the same models with none of the tricks (``naive_cascade.py``);
* ``pipecat`` (``--pipecat``) -- Pipecat 1.14's canonical pipeline in its own venv, made or
  completed on first use with ``faster-whisper`` and ``hibari-tts`` (``latency_pipecat.py``,
  whose docstring lists how it is built): Silero VAD, the same Whisper files and compute type as
  cascade's ASR, Smart Turn v3.2 from the same ONNX file, the OpenAI LLM service on the same server
  and model, hibari with the same voice, the same system prompt, temperature and ``max_tokens``.

Definition, the same for all: voice-to-voice = the caller's speech end → the first bot audio
leaving toward the caller after it (cascade: the playout starting a response; Pipecat: the output
transport's first ``write_audio_frame`` after the bot was silent). The speech end is a reference
computed once per recording, not each framework's own VAD: cascade's Silero VAD with the agent's
options run offline over the WAV, placed where the WAV started on each session's timeline. So all
are timed from the same instant; each one's own VAD speech end is in the breakdown
(``user_speech_end``). The audible variant times the bot's first sound above -45 dBFS instead
(a voice that starts with silence is not heard yet). Breakdown per turn, relative to the same
speech end: own VAD end, end-of-turn decision, final transcript, LLM first token, first TTS audio
-- for each, the last one before the answer started. A turn whose answer started before the
speech end counts in ``bot_started_before_speech_end`` and has no audible figure.

Differences that cannot be removed: Pipecat's ``WhisperSTTService`` decodes with faster-whisper's
defaults (beam 5, its own thread count; cascade: greedy, one thread) and has no streaming mode, so
it transcribes each VAD segment after it ends; Pipecat's VAD is its own Silero ONNX with its
defaults (confidence 0.7, 0.2 s stop); its TTS speaks whole sentences (its default aggregation).
These are how each framework runs by default and are part of what is measured.

Prints JSON: ``{"cascade": {...}, "naive_cascade": {...}, "pipecat": {...}, "ratio": {"p50":
cascade/pipecat, "p95": ..., "mean": ...}, "ratio_naive": {...}, "machine": ..., "goals": ...}``.
WAVs of each session (bot track; cascade's also stereo with the caller) go under ``--out``, with
``details.json``: per framework, each session's WAV starts, reference speech ends and marks, and
each turn's figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import anyio
import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from latency_common import (
    SessionRun,
    TurnResult,
    group_sessions,
    locate_starts,
    measure_turns,
    ratios,
    summarize,
)
from machine_info import describe_machine as machine
from naive_cascade import naive_pipeline
from overhead import pipecat_python

from cascade.agent.agent import VoiceAgent
from cascade.agent.config import AgentConfig
from cascade.asr.models import resolve_model
from cascade.audio import load_audio, write_wav
from cascade.metrics import MetricsCollector, TurnEvent
from cascade.pipeline import Pipeline
from cascade.transports.file import FileTransport
from cascade.turn.smart_turn import prepare_smart_turn
from cascade.vad.options import VADOptions
from cascade.vad.segmenter import SpeechSegmenter
from cascade.vad.silero import SileroModel, StreamingVAD

RATE = 16000
REPLY_TIMEOUT = 20.0
GAP = 0.3
PIPECAT_EXTRAS = ("faster-whisper==1.2.1", "hibari-tts==0.2.1")

SYSTEM_PROMPT = (
    "You are a phone assistant. Whatever the caller says, answer with one short friendly sentence."
)


def read_manifest(path: Path) -> list[tuple[Path, str]]:
    """``(wav, text)`` pairs; wav paths are relative to the manifest."""
    items = []
    for line in path.read_text().splitlines():
        if line.strip():
            entry = json.loads(line)
            items.append(((path.parent / entry["wav"]).resolve(), entry.get("text", "")))
    if not items:
        raise SystemExit(f"{path}: no entries")
    return items


def speech_end(audio: np.ndarray, options: VADOptions) -> float | None:
    """Where the speech in ``audio`` (16 kHz int16) ends, by cascade's VAD run offline; None
    without speech. One second of silence is appended, as the caller sends after each turn."""
    stream, segmenter = StreamingVAD(SileroModel(options.model_path)), SpeechSegmenter(options)
    end = None
    for start, stop, probability in stream.push(np.concatenate([audio, np.zeros(RATE, np.int16)]), RATE, 0.0):
        event = segmenter.push(start, stop, probability)
        if event is not None and event.what == "stop":
            end = event.time
    last = segmenter.stop()
    return last.time if last is not None else end


class RecordingMetrics(MetricsCollector):
    """The session's metrics, also keeping every mark as it came (the timelines keep one each)."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, float]] = []

    def mark(self, event: TurnEvent, t: float) -> None:
        self.events.append((event, t))
        super().mark(event, t)


async def run_cascade(make: Callable[[], Pipeline], wavs: list[Path], reply: Path) -> SessionRun:
    """One session of a cascade pipeline on the real-time file transport."""
    transport = FileTransport(wavs, reply, reply_timeout=REPLY_TIMEOUT, gap=GAP, sample_rate=RATE)
    metrics = RecordingMetrics()
    await make().run(transport, metrics=metrics)
    starts = locate_starts(transport.caller_track, transport.audio, transport.frame_samples)
    return SessionRun(
        [None if s is None else s / RATE for s in starts], metrics.events, transport.bot_track, RATE
    )


class PipecatProcess:
    """``latency_pipecat.py`` in Pipecat's venv (started here), serving one session per request."""

    def __init__(self, config: AgentConfig, base_url: str, model: str) -> None:
        self.command = [
            str(pipecat_python(PIPECAT_EXTRAS)),
            str(Path(__file__).with_name("latency_pipecat.py")),
            *("--whisper", resolve_model(config.asr.model), "--compute-type", config.asr.compute_type),
            *("--smart-turn", str(prepare_smart_turn()), "--llm-url", base_url, "--model", model),
            *("--system-prompt", config.llm.system_prompt or "", "--voice", config.tts.voice or "heart"),
            *("--temperature", str(config.llm.temperature), "--max-tokens", str(config.llm.max_tokens)),
            *("--reply-timeout", str(REPLY_TIMEOUT), "--gap", str(GAP)),
        ]
        self.process = subprocess.Popen(
            self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    async def _line(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await anyio.to_thread.run_sync(self.process.stdout.readline)
        if not line:
            raise SystemExit(f"the Pipecat runner ended (exit {self.process.wait()}); see its stderr")
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def ready(self) -> None:
        """Wait until the runner has loaded and warmed its models."""
        await self._line()

    async def session(self, index: int, wavs: list[Path], reply: Path) -> SessionRun:
        assert self.process.stdin is not None
        request = {"session": index, "wavs": [str(w) for w in wavs], "bot_wav": str(reply)}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer = await self._line()
        events = [(str(name), float(t)) for name, t in answer["events"]]
        return SessionRun(answer["starts"], events, load_audio(reply, RATE), RATE)

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def pipecat_inputs(wavs: list[Path], folder: Path) -> list[Path]:
    """The caller's WAVs as cascade's transport plays them (16 kHz mono int16), for Pipecat."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for wav in wavs:
        target = folder / f"{wav.stem}.wav"
        if not target.exists():
            write_wav(target, load_audio(wav, RATE), RATE)
        out.append(target)
    return out


async def main(args: argparse.Namespace) -> dict[str, Any]:
    items = read_manifest(args.manifest)[: args.limit]
    sessions = group_sessions([wav for wav, _ in items], args.turns)
    if not sessions:
        raise SystemExit(f"--limit {args.limit} gives no session of {args.turns} turns")
    overrides = {"llm.system_prompt": SYSTEM_PROMPT, "llm.base_url": args.llm_url}
    if args.llm_url:  # the naive cascade and Pipecat need the model's name: the server's first
        async with httpx.AsyncClient(timeout=10) as client:
            listing = (await client.get(args.llm_url.rstrip("/") + "/models")).json()
        overrides["llm.model"] = listing["data"][0]["id"]
    config = AgentConfig.load(args.config, **overrides)
    agent = VoiceAgent(config)
    await agent.prepare()
    base_url, model = agent.llm_endpoint()
    ends = {wav: speech_end(load_audio(wav, RATE), config.vad) for wav, _ in items}
    shared = agent.shared_models()

    def make_naive() -> Pipeline:
        return naive_pipeline(shared["asr"], shared["tts"], base_url, model, SYSTEM_PROMPT)

    pipecat = PipecatProcess(config, base_url, model) if args.pipecat else None
    if pipecat is not None:
        await pipecat.ready()
    turns: dict[str, list[TurnResult]] = {"cascade": [], "naive_cascade": [], "pipecat": []}
    runs: dict[str, list[dict[str, Any]]] = {"cascade": [], "naive_cascade": [], "pipecat": []}

    def record(name: str, run: SessionRun, session_ends: list[float | None]) -> None:
        turns[name] += measure_turns(run, session_ends)
        runs[name].append({"starts": run.starts, "speech_ends": session_ends, "events": run.events})

    try:
        for index, wavs in enumerate(sessions):
            session_ends = [ends[w] for w in wavs]
            run = await run_cascade(agent.pipeline, wavs, args.out / "cascade" / f"{index:03d}.wav")
            record("cascade", run, session_ends)
            if not args.no_naive:
                run = await run_cascade(make_naive, wavs, args.out / "naive" / f"{index:03d}.wav")
                record("naive_cascade", run, session_ends)
            if pipecat is not None:
                inputs = pipecat_inputs(wavs, args.out / "pipecat" / "inputs")
                run = await pipecat.session(index, inputs, args.out / "pipecat" / f"{index:03d}.wav")
                record("pipecat", run, session_ends)
    finally:
        if pipecat is not None:
            pipecat.close()
    details = {name: {"sessions": runs[name], "turns": [asdict(t) for t in turns[name]]} for name in runs}
    (args.out / "details.json").write_text(json.dumps(details, indent=1))
    result: dict[str, Any] = {
        "benchmark": "latency",
        "machine": machine(),
        "manifest": str(args.manifest),
        "sessions": len(sessions),
        "turns_per_session": args.turns,
        "stack": {
            "asr": config.asr.model,
            "llm": f"{model} at {base_url}",
            "tts": f"{config.tts.engine} ({config.tts.voice or 'heart'})",
            "turn": "SileroVAD + Smart Turn v3.2 + transcript cues",
        },
        "cascade": summarize(turns["cascade"]),
    }
    if not args.no_naive:
        result["naive_cascade"] = summarize(turns["naive_cascade"])
        result["ratio_naive"] = ratios(result["cascade"], result["naive_cascade"])
    if pipecat is not None:
        result["pipecat"] = {"version": "1.14.0", **summarize(turns["pipecat"])}
        result["ratio"] = ratios(result["cascade"], result["pipecat"])
    result["goals"] = goals(result)
    return result


def goals(result: dict[str, Any]) -> dict[str, Any]:
    """The issue's targets: p50 < 0.6 s, p95 < 1.0 s, at most half of Pipecat's p50 and p95."""
    ours, ratio = result["cascade"], result.get("ratio", {})
    met = {
        "p50_under_0_6_s": (ours["voice_to_voice_p50"] or 99) < 0.6,
        "p95_under_1_0_s": (ours["voice_to_voice_p95"] or 99) < 1.0,
    }
    if ratio:
        met["at_most_half_of_pipecat"] = all((ratio.get(k) or 99) <= 0.5 for k in ("p50", "p95"))
    return {"p50_under_s": 0.6, "p95_under_s": 1.0, "ratio_to_pipecat_at_most": 0.5, "met": met}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=24, help="recordings to use (in manifest order)")
    parser.add_argument("--turns", type=int, default=1, help="caller turns per session")
    parser.add_argument("--config", type=Path, default=None, help="agent config (TOML/JSON)")
    parser.add_argument("--llm-url", default=None, help="use this LLM endpoint instead of the embedded one")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive reference")
    parser.add_argument("--pipecat", action="store_true", help="also run Pipecat 1.14 and report the ratio")
    parser.add_argument("--out", type=Path, default=Path("out/latency"))
    print(json.dumps(anyio.run(main, parser.parse_args()), indent=2))
