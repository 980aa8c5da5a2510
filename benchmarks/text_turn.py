"""How well a text end-of-turn model tells a finished turn from a pause inside one (JSON).

    python benchmarks/text_turn.py --endpointing FILE.jsonl [--asr-cache C.json] [--llm-url URL]

Every final transcript the real streaming recognizer (``WhisperASR``, as replayed by
``benchmarks/turns.py``; decodes are cached in ``--asr-cache``) gives on a labelled endpointing
set is read the way the turn-taker reads it: the turn's finals so far joined. Its label is *end*
when its last word ends within ``--end-margin`` of the turn's labelled end of speech, else
*pause* (a final inside a mid-turn pause). For each model (the in-process SmolLM2-135M and the
served chat model) the report gives the ROC AUC (the chance that a turn end scores above a
pause) and, at each threshold, the share of ends scored below it (finished turns the rule would
hold: silence) and of pauses scored at or above it (pauses the rule would not hold).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from machine_info import describe_machine as machine
from turn_replay import RATE, Whisper, audio_key, load_manifest
from turn_setup import text_reader

from cascade.audio import load_audio
from cascade.vad import VADOptions

THRESHOLDS = (0.001, 0.003, 0.01, 0.03, 0.1)


def roc_auc(ends: list[float], pauses: list[float]) -> float | None:
    """P(a random end scores above a random pause), ties counting half.

    >>> roc_auc([0.9, 0.8], [0.1, 0.8])
    0.875
    """
    if not ends or not pauses:
        return None
    e, p = np.asarray(ends)[:, None], np.asarray(pauses)[None, :]
    return round(float(((e > p) + 0.5 * (e == p)).mean()), 4)


async def labelled_finals(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The turn text at each final transcript of the set, labelled end or pause (deduplicated)."""
    whisper = Whisper(args.asr_cache)
    rows, seen = [], set()
    for item in load_manifest(args.endpointing, args.limit):
        audio = load_audio(item["path"], RATE)
        records = await whisper.stream(audio_key(audio), audio, VADOptions(min_silence=0.2))
        finals: list[str] = []
        for _, final, text, _, words in records:
            if not final or not words:
                continue
            finals.append(text)
            label = "end" if words[-1][2] > item["end_of_speech"] - args.end_margin else "pause"
            turn_text = " ".join(finals)
            if (turn_text, label) not in seen:
                seen.add((turn_text, label))
                rows.append({"text": turn_text, "label": label, "source": item.get("source")})
    whisper.save()
    return rows


def score(rows: list[dict[str, Any]], name: str) -> dict[str, Any]:
    ends = [r[name] for r in rows if r["label"] == "end" and r[name] is not None]
    pauses = [r[name] for r in rows if r["label"] == "pause" and r[name] is not None]
    return {
        "auc": roc_auc(ends, pauses),
        "thresholds": {
            str(t): {
                "ends_below": round(float(np.mean(np.asarray(ends) < t)), 3) if ends else None,
                "pauses_at_or_above": round(float(np.mean(np.asarray(pauses) >= t)), 3) if pauses else None,
            }
            for t in THRESHOLDS
        },
    }


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    rows = await labelled_finals(args)
    report: dict[str, Any] = {
        "benchmark": "text_turn",
        "machine": machine(),
        "manifest": str(args.endpointing),
        "finals": len(rows),
        "ends": sum(r["label"] == "end" for r in rows),
        "pauses": sum(r["label"] == "pause" for r in rows),
    }
    for name in args.models:
        model = text_reader(argparse.Namespace(text_model=name, llm_url=args.llm_url))
        model.load()
        seconds = []
        for row in rows:
            began = time.perf_counter()
            row[name] = model(row["text"], "")
            seconds.append(time.perf_counter() - began)
        report[name] = {**score(rows, name), "ms_p50": round(float(np.median(seconds)) * 1000, 1)}
    if args.per_item:
        report["per_item"] = rows
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpointing", type=Path, required=True, help="endpointing manifest (JSONL)")
    parser.add_argument("--asr-cache", type=Path, default=None, help="JSON file caching Whisper decodes")
    parser.add_argument("--llm-url", default=None, help="the chat model's server (default: embedded)")
    parser.add_argument(
        "--models", type=lambda v: v.split(","), default=["smollm2", "chat"], help="smollm2,chat"
    )
    parser.add_argument("--end-margin", type=float, default=0.35, help="seconds (label tolerance)")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--per-item", action="store_true")
    args = parser.parse_args()
    if not args.endpointing.is_file():
        parser.error(f"{args.endpointing} does not exist")
    print(json.dumps(anyio.run(amain, args), indent=2))


if __name__ == "__main__":
    main()
