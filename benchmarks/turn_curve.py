"""The rhythm trade-off: heard cut-ins against end-of-turn delay as the doubt wait varies (JSON).

    python benchmarks/turn_curve.py --endpointing FILE.jsonl [--asr-cache C.json] \\
        [--grid endpointing.doubtful_max_delay=0.8,1.0,1.4,2.5] [--grid ...] [--set PATH=VALUE]

Each point of the grid (the product of the ``--grid`` lists, on top of ``--set``) runs the
endpointing half of ``benchmarks/turns.py`` on the same recordings, recognizer transcripts and
model answers (computed once, remembered), and reports: false cut-ins (the turn taken inside a
pause), heard cut-ins (the reply's first audio reaching the caller inside a pause, in the call
simulation), end-of-turn delay p50/p95 over all turns and over the complete turns (no pause),
and first-audio delay p50/p95. Choose the knee on a dev set; report it on test sets.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).parent))

from machine_info import describe_machine as machine
from turn_replay import RATE, Whisper, audio_key, load_manifest, pct
from turn_setup import TEXT_MODELS, add_setup_arguments, load_models, turn_options
from turns import bench_endpointing

from cascade.audio import load_audio
from cascade.vad import VADOptions

DEFAULT_GRID = ["endpointing.doubtful_max_delay=0.8,1.0,1.4,1.8,2.5"]


def grid_points(grids: list[str]) -> list[list[str]]:
    """The ``--set`` lists of every point of the grid.

    >>> grid_points(["a.b=1,2", "a.c=x"])
    [['a.b=1', 'a.c=x'], ['a.b=2', 'a.c=x']]
    """
    axes = []
    for grid in grids:
        path, sep, values = grid.partition("=")
        if not sep or not values:
            raise SystemExit(f"--grid {grid!r}: expected PATH=V1,V2,...")
        axes.append([f"{path}={v}" for v in values.split(",")])
    return [list(point) for point in itertools.product(*axes)]


def complete_turn_delays(per_item: list[dict[str, Any]]) -> dict[str, float | None]:
    """End-of-turn delay p50/p95 of the turns without a pause (where any wait is silence)."""
    delays = [
        row["ours"] - row["end_of_speech"]
        for row in per_item
        if not row["pauses"] and row["ours"] is not None and row["ours"] >= row["end_of_speech"] - 0.1
    ]
    return {"complete_eot_delay_p50": pct(delays, 50), "complete_eot_delay_p95": pct(delays, 95)}


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    whisper = Whisper(args.asr_cache)
    detector, reader = load_models(args)
    args.variants, args.per_item, args.breakdown = [], True, None
    # the recognizer runs in real time on a recording it has not heard: record them all first,
    # keeping what is done (a long first run that fails loses nothing)
    for done, item in enumerate(load_manifest(args.endpointing, args.limit), 1):
        audio = load_audio(item["path"], RATE)
        await whisper.stream(audio_key(audio), audio, VADOptions(min_silence=args.vad_silence))
        if done % 20 == 0:
            whisper.save()
    whisper.save()
    points = []
    for settings in grid_points(args.grid or DEFAULT_GRID):
        args.turn_options = turn_options([*args.set, *settings])
        report = await bench_endpointing(args.endpointing, args, whisper, detector, reader)
        ours, call = report["ours"], report["ours_as_call"]
        points.append(
            {
                "settings": settings,
                "false_cut_in_rate": ours["false_cut_in_rate"],
                "heard_cut_in_rate": call["heard_cut_in_rate"],
                "eot_delay_p50": ours["eot_delay_p50"],
                "eot_delay_p95": ours["eot_delay_p95"],
                **complete_turn_delays(report["per_item"]),
                "first_audio_delay_p50": call["first_audio_delay_p50"],
                "first_audio_delay_p95": call["first_audio_delay_p95"],
                "missed_ends": ours["missed_ends"],
            }
        )
        print(json.dumps(points[-1]), file=sys.stderr, flush=True)
    return {
        "benchmark": "turn_curve",
        "machine": machine(),
        "manifest": str(args.endpointing),
        "text_end_of_turn_model": TEXT_MODELS[args.text_model],
        "fixed": args.set,
        "points": points,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpointing", type=Path, required=True, help="endpointing manifest (JSONL)")
    parser.add_argument("--asr-cache", type=Path, default=None, help="JSON file caching Whisper decodes")
    parser.add_argument("--grid", action="append", default=[], metavar="PATH=V1,V2,...")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--vad-silence", type=float, default=0.2)
    parser.add_argument("--horizon", type=float, default=3.0)
    parser.add_argument("--reply-latency", type=float, default=0.4)
    add_setup_arguments(parser)
    args = parser.parse_args()
    args.asr = "streaming"
    if not args.endpointing.is_file():
        parser.error(f"{args.endpointing} does not exist")
    print(json.dumps(anyio.run(amain, args), indent=2))


if __name__ == "__main__":
    main()
