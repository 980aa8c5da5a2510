"""Voice-to-voice latency of the embedded default vs a naive cascade of the same models.

    python benchmarks/latency.py --manifest FILE.jsonl [--limit 24] [--no-naive] [--llm-url URL]

The manifest lists recorded caller turns, ``{"wav": path relative to the manifest, "text": ...}``
(build one from Debian's recorded speech with ``python benchmarks/build_asr_manifest.py``). Each
turn is one session on the real-time file transport. Voice-to-voice latency = caller speech end
(the VAD's end of speech, audio time) → first bot audio out of the transport, with the breakdown
(end-of-turn decision, final transcript, LLM first token, first TTS audio). Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).parent))

from machine_info import describe_machine as machine
from naive_cascade import naive_pipeline

from cascade.agent.agent import VoiceAgent
from cascade.agent.config import AgentConfig
from cascade.metrics import TURN_EVENTS, TurnTimeline
from cascade.pipeline import Pipeline
from cascade.transports.file import FileTransport

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


def summarize(timelines: list[TurnTimeline], attempted: int) -> dict[str, Any]:
    answered = [t for t in timelines if t.voice_to_voice is not None]
    v2v = [t.voice_to_voice for t in answered if t.voice_to_voice is not None]
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
        "breakdown_after_speech_end": breakdown,
    }


async def measure(make: Any, items: list[tuple[Path, str]], out: Path) -> list[TurnTimeline]:
    timelines: list[TurnTimeline] = []
    for index, (wav, _) in enumerate(items):
        pipeline: Pipeline = make()
        transport = FileTransport(wav, out / f"{index:03d}.wav", reply_timeout=20.0, gap=0.3)
        ctx = await pipeline.run(transport)
        first = next((t for t in ctx.metrics.timelines if t.voice_to_voice is not None), None)
        if first is not None:
            timelines.append(first)
    return timelines


async def main(args: argparse.Namespace) -> dict[str, Any]:
    items = read_manifest(args.manifest)[: args.limit]
    config = AgentConfig.load(
        args.config, **{"llm.system_prompt": SYSTEM_PROMPT, "llm.base_url": args.llm_url}
    )
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
