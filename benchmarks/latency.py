"""Voice-to-voice latency of the embedded default vs a naive cascade of the same models.

    python benchmarks/latency.py --manifest FILE.jsonl [--limit 24] [--no-naive] [--llm-url URL]

The manifest lists recorded caller turns, ``{"wav": path relative to the manifest, "text": ...}``
(build one from Debian's recorded speech with ``python benchmarks/build_asr_manifest.py``). Each
turn is one session on the real-time file transport. Voice-to-voice latency = caller speech end
(the VAD's end of speech, audio time) → first bot audio out of the transport, with the breakdown
(end-of-turn decision, final transcript, LLM first token, first TTS audio). The same latency to
the bot's first *audible* sound (``audible_voice_to_voice``, from the recorded bot track: a voice
that starts with silence is not heard yet) is reported beside it. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from machine_info import describe_machine as machine
from naive_cascade import naive_pipeline

from cascade.agent.agent import VoiceAgent
from cascade.agent.config import AgentConfig
from cascade.metrics import TURN_EVENTS, TurnTimeline
from cascade.pipeline import Pipeline
from cascade.transports.file import FileTransport

AUDIBLE_DB = -45.0
"""Level (dBFS, 20 ms RMS) from which the bot's audio counts as heard."""

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


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


@dataclass
class Turn:
    """One measured caller turn."""

    timeline: TurnTimeline
    audible: float | None
    """Caller speech end -> the bot's first audible sound (not the silence a voice may start with)."""


def summarize(turns: list[Turn], attempted: int) -> dict[str, Any]:
    answered = [t.timeline for t in turns if t.timeline.voice_to_voice is not None]
    v2v = [t.voice_to_voice for t in answered if t.voice_to_voice is not None]
    audible = [t.audible for t in turns if t.audible is not None]
    breakdown = {}
    for mark in TURN_EVENTS[1:]:
        values = [t.deltas()[mark] for t in answered if mark in t.deltas()]
        breakdown[mark] = {"p50": pct(values, 0.5), "p95": pct(values, 0.95)}
    return {
        "turns": attempted,
        "answered": len(answered),
        "voice_to_voice_p50": pct(v2v, 0.5),
        "voice_to_voice_p95": pct(v2v, 0.95),
        "voice_to_voice_mean": round(statistics.fmean(v2v), 3) if v2v else None,
        "audible_voice_to_voice_p50": pct(audible, 0.5),
        "audible_voice_to_voice_p95": pct(audible, 0.95),
        "breakdown_after_speech_end": breakdown,
    }


def audible_onset(track: np.ndarray, rate: int, after: float) -> float | None:
    """Session time of the first 20 ms of ``track`` (int16) louder than ``AUDIBLE_DB`` after ``after``."""
    hop = rate // 50
    start = max(0, int(after * rate))
    frames = track[start : start + (len(track) - start) // hop * hop].astype(np.float64).reshape(-1, hop)
    loud = np.flatnonzero(np.sqrt((frames**2).mean(axis=1)) / 32768 > 10 ** (AUDIBLE_DB / 20))
    return start / rate + loud[0] / 50 if loud.size else None


async def measure(make: Any, items: list[tuple[Path, str]], out: Path) -> list[Turn]:
    turns: list[Turn] = []
    for index, (wav, _) in enumerate(items):
        pipeline: Pipeline = make()
        transport = FileTransport(wav, out / f"{index:03d}.wav", reply_timeout=20.0, gap=0.3)
        ctx = await pipeline.run(transport)
        first = next((t for t in ctx.metrics.timelines if t.voice_to_voice is not None), None)
        if first is not None and first.user_speech_end is not None:
            heard = audible_onset(transport.bot_track, transport.sample_rate, first.user_speech_end)
            turns.append(Turn(first, None if heard is None else heard - first.user_speech_end))
    return turns


async def main(args: argparse.Namespace) -> dict[str, Any]:
    items = read_manifest(args.manifest)[: args.limit]
    overrides = {"llm.system_prompt": SYSTEM_PROMPT, "llm.base_url": args.llm_url}
    if args.llm_url:  # the naive cascade needs the model's name: the server's first
        async with httpx.AsyncClient(timeout=10) as client:
            listing = (await client.get(args.llm_url.rstrip("/") + "/models")).json()
        overrides["llm.model"] = listing["data"][0]["id"]
    config = AgentConfig.load(args.config, **overrides)
    agent = VoiceAgent(config)
    await agent.prepare()
    out = args.out
    result: dict[str, Any] = {
        "benchmark": "latency",
        "machine": machine(),
        "manifest": str(args.manifest),
        "stack": {
            "asr": config.asr.model,
            "llm": agent.llm_base_url,
            "tts": config.tts.engine,
            "turn": "SileroVAD + Smart Turn v3.2 + transcript cues",
        },
    }
    ours = await measure(agent.pipeline, items, out / "cascade")
    result["cascade"] = summarize(ours, len(items))
    if not args.no_naive:
        shared = agent.shared_models()
        base_url, model = agent.llm_endpoint()

        def make_naive() -> Pipeline:
            return naive_pipeline(shared["asr"], shared["tts"], base_url, model, SYSTEM_PROMPT)

        naive = await measure(make_naive, items, out / "naive")
        result["naive_cascade"] = summarize(naive, len(items))
        ours_p50 = result["cascade"]["voice_to_voice_p50"]
        naive_p50 = result["naive_cascade"]["voice_to_voice_p50"]
        if ours_p50 and naive_p50:
            result["ratio_p50"] = round(ours_p50 / naive_p50, 3)
    result["goals"] = {"p50_under_s": 0.8, "ratio_under": 0.5}
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=24)
    parser.add_argument("--config", type=Path, default=None, help="agent config (TOML/JSON)")
    parser.add_argument("--llm-url", default=None, help="use this LLM endpoint instead of the embedded one")
    parser.add_argument("--no-naive", action="store_true", help="skip the naive reference")
    parser.add_argument("--out", type=Path, default=Path("out/latency"))
    print(json.dumps(anyio.run(main, parser.parse_args()), indent=2))
