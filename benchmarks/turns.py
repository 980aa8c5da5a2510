"""Turn-taking benchmark: end-of-turn detection and barge-in on labelled recordings (prints JSON).

    python benchmarks/build_turn_manifests.py --out /tmp/turns
    python benchmarks/turns.py --endpointing /tmp/turns/endpointing.jsonl --bargein /tmp/turns/bargein.jsonl

Each recording runs through the real Silero VAD, the Whisper recognizer (described below) and
the :class:`~cascade.turn.TurnTaker` with the real Smart Turn and text models, in virtual time
(deterministic; model compute does not advance the clock -- its measured cost is reported
separately).

Variants: ``ours`` (Smart Turn + the text model on final transcripts + cues), without the text
model, without cues (nor text model), without Smart Turn (text model and cues only).

Endpointing (``{"wav", "text", "pauses": [[s, e], ...], "end_of_speech"}``):
false cut-in rate (the turn taken before the caller's real end, i.e. inside a pause), end-of-turn
delay after ``end_of_speech`` (p50/p95) and missed ends (no decision within the 3 s tail). The
end-of-turn delay is when the reply starts (a preemptive one on the partial text); its audio is
held until the final transcript confirms the turn, so the delay at which the caller can hear the
bot is reported as well (``turn_taken_delay``). The baselines end the turn after a fixed VAD
silence of 0.5 s and 0.8 s on the same VAD segments. ``ours_as_call`` runs each recording once
more as a call, with a scripted reply whose first audio comes ``--reply-latency`` seconds after it
starts: a turn taken in a pause is heard only if the bot's audio plays before the caller goes on
(a reply the caller speaks over before it plays is dropped unheard), so ``heard_cut_in_rate`` is
what callers hear of the false cut-ins; ``first_audio_delay`` is the caller's wait after their end.

Barge-in (``{"wav", "speech_start", "kind"}``): the clip is played while the bot speaks; reported
are interruption success (kind ``interrupt`` cancelled the reply within 2 s), latency from speech
start to the bot's audio going silent (p50/p95; with ``pause_on_speech`` the audio is ducked,
then paused, before the interruption is certain, so the latency to the bot yielding -- ducked or
silent -- and the cancellation latency are listed too), and false interruptions for
``backchannel`` and ``noise`` (the reply was cancelled; how many were then resumed is listed).
How often a backchannel or noise ducked or paused the bot, and the audible gap it left (seconds
the reply was held silent before it went on, 0 when it only ducked; p50/p95 over all such items)
are reported as well. Variants: ours without the pause, and the baseline that interrupts on
every VAD speech start, as a plain cascade does.

``--breakdown source,category`` adds our figures per value of those manifest fields
(``turn_breakdown.py``), e.g. per voice and phrasing of the held-out sets that
``build_turn_testsets.py`` builds.

The recognizer (``--asr``): by default the real :class:`~cascade.asr.WhisperASR` stage (tiny.en,
default options, the recognizer the agent runs) hears each recording once, streamed in real time
through the Silero VAD; its partial and final transcripts are recorded with the session time it
emitted them and replayed at those times in every variant, so transcript quality and timing
(speculative finals, partial cadence) are the stage's own, measured on this machine. The first run
streams every recording (as long as the audio); ``--asr-cache`` keeps the recordings. ``--asr
segment`` is the older quick model: Whisper tiny.en decodes the audio of the current VAD segment
every ``--partial-every`` seconds while the caller speaks and once more at the segment's end (a
FinalTranscript ``--final-latency`` seconds after the VAD's stop).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from machine_info import describe_machine as machine
from turn_bargein import bench_bargein
from turn_breakdown import breakdown, endpointing_summary
from turn_replay import (
    HOP,
    RATE,
    HoldWatch,
    TickSink,
    TimedModel,
    Whisper,
    audio_frames,
    listening,
    load_manifest,
    pct,
)
from turn_setup import TEXT_MODELS, add_setup_arguments, load_models, turn_options

from cascade.audio import load_audio
from cascade.frames import (
    EndOfTurn,
)
from cascade.testing import run_stages
from cascade.testing.fakes import FakeLLM, FakeTTS
from cascade.turn import TurnOptions

CUT_IN_MARGIN = 0.2
"""A decision this much before the labelled end is a cut-in (labels and VAD differ by ~0.1 s)."""


# --- endpointing -----------------------------------------------------------------------------


def silence_baseline(events: list[tuple[str, float, float]], silence: float, horizon: float) -> float | None:
    """When a fixed-silence endpointer ends the turn: the first gap between VAD segments >= silence."""
    stops = [pts for kind, pts, _ in events if kind == "stop"]
    starts = [pts for kind, pts, _ in events if kind == "start"]
    for stop in stops:
        following = [s for s in starts if s > stop]
        if not following or following[0] - stop >= silence:
            t = stop + silence
            return t if t <= horizon else None
    return None


@dataclass
class EndpointRun:
    """One recording through VAD, recognizer and turn-taker."""

    decided: float | None
    """When the turn was taken (the turn's ``end_of_turn`` mark), unless its reply was discarded
    unheard because the caller went on."""
    taken: float | None
    """When that reply may be heard: a preemptive one is held until the final text confirms it."""
    first_any: float | None
    """The first EndOfTurn of any kind: a speculative reply prepared (and held) during a pause
    counts too, even if it was discarded unheard."""
    vad_events: list[tuple[str, float, float]]
    wasted: int


async def run_call_item(
    item: dict[str, Any],
    whisper: Whisper,
    models: tuple[TimedModel | None, TimedModel | None],
    args: argparse.Namespace,
) -> float | None:
    """The recording as a call: each turn taken gets a reply whose audio reaches the caller
    ``args.reply_latency`` after the reply starts (held until the turn is taken, dropped unheard
    when the caller goes on first). Returns when the caller first heard the bot (None: never)."""
    audio = load_audio(item["path"], RATE)
    _, _, caller_side = await listening(audio, whisper, models, args.turn_options, args)
    sink = TickSink()
    stages = [
        *caller_side,
        FakeLLM("Sure. Let me look that up for you.", ttft=max(0.0, args.reply_latency - HOP)),
        FakeTTS(word_seconds=0.28, latency=0.0),
        sink,
    ]
    await run_stages(stages, audio_frames(audio), tail=3.0)
    return next((t - HOP for t, played in sink.ticks if played), None)


async def run_endpointing_item(
    item: dict[str, Any],
    whisper: Whisper,
    models: tuple[TimedModel | None, TimedModel | None],
    options: TurnOptions,
    args: argparse.Namespace,
) -> EndpointRun:
    audio = load_audio(item["path"], RATE)
    recognizer, turn, caller_side = await listening(audio, whisper, models, options, args)
    watch = HoldWatch()
    result = await run_stages([*caller_side, watch], audio_frames(audio), tail=0.5)
    # a speculative reply discarded unheard clears its turn's end_of_turn mark: not a decision
    decisions = [t.end_of_turn for t in result.timelines if t.end_of_turn is not None]
    decided = min(decisions, default=None)
    ends = [f for f in result.frames if isinstance(f, EndOfTurn)]
    return EndpointRun(
        decided=decided,
        taken=None if decided is None else watch.released_after(decided),
        first_any=ends[0].pts if ends else None,
        vad_events=recognizer.vad_events,
        wasted=turn.stats.preemptive_wasted,
    )


def score_endpointing(
    rows: list[tuple[dict[str, Any], float | None]], horizon_after: float
) -> dict[str, Any]:
    cut_ins, delays, missed = 0, [], 0
    for item, decided in rows:
        end = item["end_of_speech"]
        if decided is None or decided > end + horizon_after:
            missed += 1
        elif decided < end - CUT_IN_MARGIN:
            cut_ins += 1
        else:
            delays.append(decided - end)
    n = len(rows)
    return {
        "items": n,
        "false_cut_in_rate": round(cut_ins / n, 4) if n else None,
        "false_cut_ins": cut_ins,
        "eot_delay_p50": pct(delays, 50),
        "eot_delay_p95": pct(delays, 95),
        "eot_delay_mean": round(statistics.fmean(delays), 3) if delays else None,
        "missed_ends": missed,
    }


async def bench_endpointing(
    path: Path, args: argparse.Namespace, whisper: Whisper, detector: TimedModel, reader: TimedModel
) -> dict[str, Any]:
    items = load_manifest(path, args.limit)
    with_pauses = sum(1 for i in items if i["pauses"])
    ours: TurnOptions = args.turn_options
    no_cues = ours.endpointing.model_copy(update={"use_transcript_cues": False})
    variants: dict[str, tuple[tuple[TimedModel | None, TimedModel | None], TurnOptions]] = {
        "ours": ((detector, reader), ours),
        "ours_without_text_model": ((detector, None), ours),
        "ours_no_transcript_cues": ((detector, None), ours.model_copy(update={"endpointing": no_cues})),
        "ours_without_smart_turn": ((None, reader), ours),
    }
    variants = {name: v for name, v in variants.items() if name == "ours" or name in args.variants}
    results: dict[str, list[tuple[dict[str, Any], float | None]]] = {name: [] for name in variants}
    baselines: dict[str, list[tuple[dict[str, Any], float | None]]] = {
        "vad_silence_0.5s": [],
        "vad_silence_0.8s": [],
    }
    per_item = []
    speculative: list[tuple[dict[str, Any], float | None]] = []
    taken: list[tuple[dict[str, Any], float | None]] = []
    heard: list[tuple[dict[str, Any], float | None]] = []
    for item in items:
        row: dict[str, Any] = {
            "wav": item["wav"],
            "end_of_speech": item["end_of_speech"],
            "pauses": item["pauses"],
        }
        for name, (models, options) in variants.items():
            run = await run_endpointing_item(item, whisper, models, options, args)
            results[name].append((item, run.decided))
            row[name] = None if run.decided is None else round(run.decided, 3)
            events = run.vad_events
            if name == "ours":
                row["preemptive_wasted"] = run.wasted
                row["ours_taken"] = None if run.taken is None else round(run.taken, 3)
                speculative.append((item, run.first_any))
                taken.append((item, run.taken))
                heard_at = await run_call_item(item, whisper, models, args)
                heard.append((item, heard_at))
                row["ours_heard"] = None if heard_at is None else round(heard_at, 3)
        horizon = item["end_of_speech"] + args.horizon
        for silence, name in ((0.5, "vad_silence_0.5s"), (0.8, "vad_silence_0.8s")):
            decided = silence_baseline(events, silence, horizon)
            baselines[name].append((item, decided))
            row[name] = None if decided is None else round(decided, 3)
        per_item.append(row)
    report: dict[str, Any] = {"manifest": str(path), "items": len(items), "items_with_pauses": with_pauses}
    for name, rows in {**results, **baselines}.items():
        report[name] = score_endpointing(rows, args.horizon)
    any_end = score_endpointing(speculative, args.horizon)
    # replies prepared during a pause and discarded unheard when the caller went on (wasted work)
    report["ours"]["speculation_in_pause_rate"] = any_end["false_cut_in_rate"]
    report["ours"]["preemptive_wasted"] = sum(r.get("preemptive_wasted", 0) for r in per_item)
    audible = score_endpointing(taken, args.horizon)
    report["ours"]["turn_taken_delay_p50"] = audible["eot_delay_p50"]
    report["ours"]["turn_taken_delay_p95"] = audible["eot_delay_p95"]
    # the same turns as calls: a turn taken in a pause is heard only if the caller is still
    # silent when the reply's first audio arrives (else the reply is dropped unheard)
    call = score_endpointing(heard, args.horizon + args.reply_latency)
    report["ours_as_call"] = {
        "reply_latency": args.reply_latency,
        "heard_cut_in_rate": call["false_cut_in_rate"],
        "heard_cut_ins": call["false_cut_ins"],
        "first_audio_delay_p50": call["eot_delay_p50"],
        "first_audio_delay_p95": call["eot_delay_p95"],
        "missed_ends": call["missed_ends"],
    }
    if args.breakdown:
        report["breakdown"] = breakdown(
            items,
            args.breakdown,
            lambda idx: endpointing_summary(
                score_endpointing([results["ours"][i] for i in idx], args.horizon),
                score_endpointing([heard[i] for i in idx], args.horizon + args.reply_latency),
            ),
        )
    if args.per_item:
        report["per_item"] = per_item
    return report


# --- main ------------------------------------------------------------------------------------


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    whisper = Whisper(args.asr_cache)
    detector, reader = load_models(args)
    report: dict[str, Any] = {
        "benchmark": "turns",
        "machine": machine(),
        "setup": {
            "vad": f"Silero v6 ONNX, min_silence={args.vad_silence}s",
            "asr": "WhisperASR stage (tiny.en int8, default options) streamed in real time, replayed"
            if args.asr == "streaming"
            else f"Whisper tiny.en int8 per VAD segment, partial every {args.partial_every}s, "
            f"final {args.final_latency}s after the VAD stop",
            "end_of_turn_model": "Smart Turn v3.2 ONNX (cpu int8)",
            "text_end_of_turn_model": TEXT_MODELS[args.text_model],
            "turn_options": args.turn_options.model_dump(mode="json"),
        },
    }
    began = time.perf_counter()
    if args.endpointing:
        report["endpointing"] = await bench_endpointing(args.endpointing, args, whisper, detector, reader)
    if args.bargein:
        report["bargein"] = await bench_bargein(args.bargein, args, whisper, (detector, reader))
    whisper.save()
    report["compute"] = {
        "smart_turn_ms_p50": pct([s * 1000 for s in detector.seconds], 50),
        "smart_turn_ms_p95": pct([s * 1000 for s in detector.seconds], 95),
        "smart_turn_calls": len(detector.seconds),
        "text_model_ms_p50": pct([s * 1000 for s in reader.seconds], 50),
        "text_model_ms_p95": pct([s * 1000 for s in reader.seconds], 95),
        "text_model_calls": len(reader.seconds),
        "whisper_decode_ms_p50": pct([s * 1000 for s in whisper.seconds], 50),
        "audio_streamed_seconds": round(whisper.streamed_seconds, 1),
        "wall_seconds": round(time.perf_counter() - began, 1),
    }
    return report


def main(argv: Sequence[str] | None = None, run: Callable[..., Any] = anyio.run) -> None:
    parser = argparse.ArgumentParser(description="Turn-taking benchmark (prints JSON).")
    parser.add_argument("--endpointing", type=Path, help="endpointing manifest (JSONL)")
    parser.add_argument("--bargein", type=Path, help="barge-in manifest (JSONL)")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N items of each manifest")
    parser.add_argument("--vad-silence", type=float, default=0.2, help="VAD min_silence for our detector")
    parser.add_argument(
        "--asr",
        choices=("streaming", "segment"),
        default="streaming",
        help="the real WhisperASR stage run in real time and replayed (default), or the quick "
        "per-segment model with --partial-every and --final-latency",
    )
    parser.add_argument(
        "--partial-every", type=float, default=1.0, help="segment model: seconds between partials"
    )
    parser.add_argument(
        "--final-latency", type=float, default=0.3, help="segment model: final this long after the VAD stop"
    )
    parser.add_argument(
        "--horizon", type=float, default=3.0, help="a decision later than this is a missed end"
    )
    parser.add_argument(
        "--reply-latency",
        type=float,
        default=0.4,
        help="seconds from a reply's start to its first audio in the call simulation (ours_as_call)",
    )
    parser.add_argument("--per-item", action="store_true", help="include per-item results")
    parser.add_argument(
        "--breakdown",
        type=lambda v: [k for k in v.split(",") if k],
        default=None,
        help="also score ours per value of these manifest fields, e.g. source,category",
    )
    parser.add_argument(
        "--interruption-sweep",
        type=lambda v: [float(x) for x in v.split(",")],
        default=None,
        help="also score barge-in without the pause for these min_duration values, e.g. 0.1,0.3,0.5",
    )
    parser.add_argument("--asr-cache", type=Path, default=None, help="JSON file caching Whisper decodes")
    add_setup_arguments(parser)
    args = parser.parse_args(argv)
    args.turn_options = turn_options(args.set)
    if not args.endpointing and not args.bargein:
        parser.error("give --endpointing and/or --bargein")
    for path in (args.endpointing, args.bargein):
        if path is not None and not path.is_file():
            parser.error(f"{path} does not exist (build it with benchmarks/build_turn_manifests.py)")
    print(json.dumps(run(amain, args), indent=2))


if __name__ == "__main__":
    main()
