"""Per-group figures of ``benchmarks/turns.py`` (``--breakdown source,category``): the same scores
over the items that share a manifest field, so a set's weak voices and phrasings show."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

ENDPOINTING_FIELDS = (
    "items",
    "false_cut_ins",
    "false_cut_in_rate",
    "eot_delay_p50",
    "eot_delay_p95",
    "missed_ends",
)
BARGEIN_FIELDS = {
    "interrupt": ("interrupt_items", "interruption_success_rate", "latency_p50"),
    "backchannel": ("backchannel_items", "backchannel_false_interruption_rate", "backchannel_paused_rate"),
    "noise": ("noise_items", "noise_false_interruption_rate", "noise_paused_rate"),
}
"""The fields of each kind of barge-in item."""


def breakdown(
    items: Sequence[dict[str, Any]], keys: Sequence[str], score: Callable[[list[int]], dict[str, Any]]
) -> dict[str, dict[str, dict[str, Any]]]:
    """``{key: {value: score(indices of the items whose field key is value)}}``; an item without
    the field counts under ``"-"``."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for key in keys:
        groups: dict[str, list[int]] = {}
        for i, item in enumerate(items):
            groups.setdefault(str(item.get(key, "-")), []).append(i)
        out[key] = {value: score(indices) for value, indices in sorted(groups.items())}
    return out


def endpointing_summary(ours: dict[str, Any], heard: dict[str, Any]) -> dict[str, Any]:
    """The main endpointing figures of one group: ``ours`` and ``heard`` are ``score_endpointing``
    results of our decisions and of the call simulation's heard replies."""
    summary = {k: ours[k] for k in ENDPOINTING_FIELDS}
    summary["heard_cut_ins"] = heard["false_cut_ins"]
    summary["first_audio_delay_p50"] = heard["eot_delay_p50"]
    return summary


def bargein_summary(scored: dict[str, Any]) -> dict[str, Any]:
    """The main barge-in figures of one group (``score_bargein``), without the kinds it lacks."""
    return {
        k: scored[k] for kind, fields in BARGEIN_FIELDS.items() if scored[f"{kind}_items"] for k in fields
    }
