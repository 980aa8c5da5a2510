"""The barge-in half of ``turns.py``: clips said over a long bot reply (interruptions, backchannels,
noises), scored for success, time to silence, ducking and the audible gap."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
from turn_breakdown import bargein_summary, breakdown
from turn_replay import HOP, RATE, TickSink, TimedModel, Whisper, audio_frames, listening, load_manifest, pct

from cascade.audio import load_audio
from cascade.frames import (
    BotAudioFrame,
    BotSpeechEnded,
    Frame,
)
from cascade.testing import run_stages
from cascade.testing.fakes import FakeTTS
from cascade.turn import TurnOptions
from cascade.turn.options import InterruptionOptions

BOT_REPLY = (
    "Thanks for calling. Our store opens at nine in the morning and closes at six in the evening "
    "from Monday to Friday, and on Saturdays we are open from ten until two in the afternoon."
)
BOT_LEAD = 0.5
"""Seconds the bot has been speaking when the caller's clip starts."""


# --- barge-in --------------------------------------------------------------------------------


def bot_reply_frames() -> list[Frame]:
    """A long bot reply: speech-like audio (syllable-rate envelope), one chunk per word."""
    rng = np.random.default_rng(5)
    frames: list[Frame] = []
    for i, word in enumerate(BOT_REPLY.split()):
        n = round(0.28 * RATE)
        t = np.arange(n) / RATE
        env = 0.35 + 0.65 * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t + i))
        pcm = (rng.standard_normal(n) * 0.2 * env**2 * 32767).astype(np.int16).tobytes()
        frames.append(BotAudioFrame(pts=0.0, pcm=pcm, sample_rate=RATE, response_id="reply", text=word + " "))
    frames.append(BotAudioFrame(pts=0.0, pcm=b"", sample_rate=RATE, response_id="reply", last=True))
    return frames


async def run_bargein_item(
    item: dict[str, Any],
    whisper: Whisper,
    models: tuple[TimedModel, TimedModel],
    args: argparse.Namespace,
    options: TurnOptions | None = None,
) -> dict[str, Any]:
    clip = load_audio(item["path"], RATE)
    offset = BOT_LEAD + 0.02  # the bot's first audio leaves at the first 20 ms tick
    audio = np.concatenate([np.zeros(round(offset * RATE), np.int16), clip])
    speech_start = offset + float(item["speech_start"])
    recognizer, turn, caller_side = await listening(
        audio, whisper, models, options or args.turn_options, args
    )
    sink = TickSink()
    frames = sorted([*bot_reply_frames(), *audio_frames(audio)], key=lambda f: f.pts)
    stages = [
        *caller_side,
        FakeTTS(word_seconds=0.28),
        sink,
    ]
    result = await run_stages(stages, frames, tail=1.0)
    cancelled = [e.pts for e in result.events if isinstance(e, BotSpeechEnded) and e.interrupted]
    silenced = sink.silent_after(offset + HOP)
    yielded = sink.yielded_after(offset + HOP)
    vad_starts = [
        arrival for kind, _, arrival in recognizer.vad_events if kind == "start" and arrival >= BOT_LEAD
    ]
    return {
        "wav": item["wav"],
        "kind": item["kind"],
        "silenced_at": round(silenced - speech_start, 3) if silenced is not None else None,
        "yielded_at": round(yielded - speech_start, 3) if yielded is not None else None,
        "cancelled_at": round(cancelled[0] - speech_start, 3) if cancelled else None,
        "paused_seconds": None if cancelled else round(len(sink.gaps_after(offset + HOP)) * HOP, 3),
        "ducked_seconds": None if cancelled else round(len(sink.ducked) * HOP, 3),
        "resumed": turn.stats.resumed,
        "baseline_vad_start_at": round(vad_starts[0] - speech_start, 3) if vad_starts else None,
    }


def score_bargein(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """Success and latency of ``interrupt`` items and false interruptions, with ``key`` the time
    (from speech start) at which the reply was cancelled; for our rows, silenced and paused too."""
    wanted = [r for r in rows if r["kind"] == "interrupt"]
    cancelled = [r for r in wanted if r[key] is not None and r[key] <= 2.0]
    latency_key = "silenced_at" if key == "cancelled_at" else key
    latencies = [r[latency_key] for r in cancelled]
    out: dict[str, Any] = {
        "interrupt_items": len(wanted),
        "interruption_success_rate": round(len(cancelled) / len(wanted), 4) if wanted else None,
        "latency_p50": pct(latencies, 50),
        "latency_p95": pct(latencies, 95),
    }
    if key == "cancelled_at":
        out["yield_latency_p50"] = pct([r["yielded_at"] for r in cancelled], 50)
        out["yield_latency_p95"] = pct([r["yielded_at"] for r in cancelled], 95)
        out["cancel_latency_p50"] = pct([r[key] for r in cancelled], 50)
        out["cancel_latency_p95"] = pct([r[key] for r in cancelled], 95)
    for kind in ("backchannel", "noise"):
        group = [r for r in rows if r["kind"] == kind]
        false = [r for r in group if r[key] is not None]
        out[f"{kind}_items"] = len(group)
        out[f"{kind}_false_interruption_rate"] = round(len(false) / len(group), 4) if group else None
        if key == "cancelled_at":
            out[f"{kind}_resumed_after_false_interruption"] = sum(1 for r in false if r["resumed"])
            paused = [r["paused_seconds"] for r in group if r["paused_seconds"]]
            out[f"{kind}_paused_rate"] = round(len(paused) / len(group), 4) if group else None
            out[f"{kind}_pause_seconds_p50"] = pct(paused, 50)
            gone_on = [r["paused_seconds"] for r in group if r["paused_seconds"] is not None]
            out[f"{kind}_audible_gap_seconds_p50"] = pct(gone_on, 50)
            out[f"{kind}_audible_gap_seconds_p95"] = pct(gone_on, 95)
            ducked = [r["ducked_seconds"] for r in group if r["ducked_seconds"]]
            out[f"{kind}_ducked_rate"] = round(len(ducked) / len(group), 4) if group else None
            out[f"{kind}_duck_seconds_p50"] = pct(ducked, 50)
    return out


async def bench_bargein(
    path: Path, args: argparse.Namespace, whisper: Whisper, models: tuple[TimedModel, TimedModel]
) -> dict[str, Any]:
    items = load_manifest(path, args.limit)
    rows = [await run_bargein_item(item, whisper, models, args) for item in items]
    no_pause = TurnOptions(interruption=InterruptionOptions(pause_on_speech=False))
    rows_no_pause = [await run_bargein_item(item, whisper, models, args, no_pause) for item in items]
    report: dict[str, Any] = {
        "manifest": str(path),
        "items": len(rows),
        "ours": score_bargein(rows, "cancelled_at"),
        "ours_without_pause": score_bargein(rows_no_pause, "cancelled_at"),
        "vad_start_baseline": score_bargein(rows, "baseline_vad_start_at"),
    }
    if args.interruption_sweep:
        sweep = {}
        for value in args.interruption_sweep:
            options = TurnOptions(interruption=InterruptionOptions(min_duration=value, pause_on_speech=False))
            swept = [await run_bargein_item(item, whisper, models, args, options) for item in items]
            sweep[f"min_duration={value}"] = score_bargein(swept, "cancelled_at")
        report["ours_without_pause_min_duration_sweep"] = sweep
    if args.breakdown:
        report["breakdown"] = breakdown(
            items,
            args.breakdown,
            lambda idx: bargein_summary(score_bargein([rows[i] for i in idx], "cancelled_at")),
        )
    if args.per_item:
        report["per_item"] = rows
    return report
