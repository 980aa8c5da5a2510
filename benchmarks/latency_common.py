"""What ``latency.py`` measures alike for cascade and Pipecat (numpy only, no cascade import).

A session is a list of caller turns played one after another. Each framework's run is reduced to
the same record, :class:`SessionRun`: when each turn's WAV started on the session timeline, the
marks the framework reported (``(name, session seconds)``, any number of each), and the bot's
track. :func:`measure_turns` turns a record and the reference speech ends into one
:class:`TurnResult` per caller turn, and :func:`summarize` into figures.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

MARKS = ("user_speech_end", "end_of_turn", "final_transcript", "llm_first_token", "first_tts_audio")
"""The breakdown, in pipeline order; each is reported relative to the reference speech end."""

AUDIBLE_DB = -45.0
"""Level (dBFS, 20 ms RMS) from which the bot's audio counts as heard."""

T = TypeVar("T")


def group_sessions(items: Sequence[T], turns: int) -> list[list[T]]:
    """Consecutive groups of ``turns`` items, one session each; a shorter remainder is dropped
    (every session has the same number of turns, so turn positions compare)."""
    if turns < 1:
        raise ValueError(f"turns must be at least 1, got {turns}")
    return [list(items[i : i + turns]) for i in range(0, len(items) - turns + 1, turns)]


def pct(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) of ``values``, rounded to ms; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


def locate_starts(track: np.ndarray, files: Sequence[np.ndarray], frame: int) -> list[int | None]:
    """Sample offsets in ``track`` where each of ``files`` starts being played.

    ``track`` is what a caller sent, frame by frame: every file padded to whole ``frame``s, each
    followed by some silence, in order. A file is found by its first frame that is not all zeros
    (silence cannot tell where it starts); None for a file that is all zeros or not found.
    """
    usable = len(track) // frame
    sent = track[: usable * frame].reshape(usable, frame)
    starts: list[int | None] = []
    cursor = 0
    for audio in files:
        padded = np.pad(audio, (0, -len(audio) % frame)).reshape(-1, frame)
        loud = np.flatnonzero(padded.any(axis=1))
        if not loud.size:
            starts.append(None)
            continue
        first = int(loud[0])
        hits = np.flatnonzero((sent[cursor + first :] == padded[first]).all(axis=1))
        if not hits.size:
            starts.append(None)
            continue
        begin = cursor + int(hits[0])
        starts.append(begin * frame)
        cursor = begin + len(padded)
    return starts


def audible_onset(track: np.ndarray, rate: int, after: float, before: float | None = None) -> float | None:
    """Session time of the first 20 ms of ``track`` (int16) louder than ``AUDIBLE_DB`` in
    ``[after, before)``."""
    hop = rate // 50
    start = max(0, int(after * rate))
    stop = len(track) if before is None else min(len(track), int(before * rate))
    span = track[start : start + max(0, stop - start) // hop * hop].astype(np.float64).reshape(-1, hop)
    loud = np.flatnonzero(np.sqrt((span**2).mean(axis=1)) / 32768 > 10 ** (AUDIBLE_DB / 20))
    return start / rate + loud[0] / 50 if loud.size else None


@dataclass
class SessionRun:
    """One session as a framework ran it, on its own timeline (seconds from the first frame)."""

    starts: list[float | None]
    """Session time each caller WAV started playing."""
    events: list[tuple[str, float]]
    """Marks as reported: ``first_audio_out`` at the start of every bot response, and the
    ``MARKS``."""
    bot_track: np.ndarray
    rate: int


@dataclass
class TurnResult:
    """One caller turn: latency from the reference speech end, and the breakdown."""

    index: int
    """Position of the turn in its session (0 = the first)."""
    voice_to_voice: float | None = None
    audible: float | None = None
    early: bool = False
    """The bot started a response after this turn began but before the caller's speech ended."""
    marks: dict[str, float] = field(default_factory=dict)


def measure_turns(run: SessionRun, speech_ends: Sequence[float | None]) -> list[TurnResult]:
    """Per turn ``k`` (speech end ``E`` = WAV start + its reference end, window up to the next
    WAV's start): the first response start in ``[E, window)`` is the answer; each mark is its last
    event in ``[WAV start, answer]`` (the one that led to the answer), relative to ``E``."""
    results = []
    for k, (begin, offset) in enumerate(zip(run.starts, speech_ends, strict=True)):
        result = TurnResult(index=k)
        results.append(result)
        if begin is None or offset is None:
            continue
        end = begin + offset
        later = [s for s in run.starts[k + 1 :] if s is not None]
        window = later[0] if later else float("inf")
        outs = [t for name, t in run.events if name == "first_audio_out" and begin <= t < window]
        result.early = any(t < end for t in outs)
        answers = [t for t in outs if t >= end]
        if not answers:
            continue
        answer = answers[0]
        result.voice_to_voice = answer - end
        heard = audible_onset(run.bot_track, run.rate, end, None if window == float("inf") else window)
        if heard is not None and not result.early:
            result.audible = heard - end
        for mark in MARKS:
            times = [t for name, t in run.events if name == mark and begin <= t <= answer]
            if times:
                result.marks[mark] = times[-1] - end
    return results


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 3) if values else None


def summarize(turns: Sequence[TurnResult]) -> dict[str, Any]:
    """Voice-to-voice (and to the first audible sound) p50/p95/mean, per turn position, and the
    breakdown of the answered turns."""
    v2v = [t.voice_to_voice for t in turns if t.voice_to_voice is not None]
    audible = [t.audible for t in turns if t.audible is not None]
    positions = sorted({t.index for t in turns})
    by_position = {
        str(i + 1): pct(
            [t.voice_to_voice for t in turns if t.index == i and t.voice_to_voice is not None], 0.5
        )
        for i in positions
    }
    breakdown = {}
    for mark in MARKS:
        values = [t.marks[mark] for t in turns if mark in t.marks]
        breakdown[mark] = {"p50": pct(values, 0.5), "p95": pct(values, 0.95), "n": len(values)}
    return {
        "turns": len(turns),
        "answered": len(v2v),
        "bot_started_before_speech_end": sum(t.early for t in turns),
        "voice_to_voice_p50": pct(v2v, 0.5),
        "voice_to_voice_p95": pct(v2v, 0.95),
        "voice_to_voice_mean": _mean(v2v),
        "audible_voice_to_voice_p50": pct(audible, 0.5),
        "audible_voice_to_voice_p95": pct(audible, 0.95),
        "audible_voice_to_voice_mean": _mean(audible),
        "voice_to_voice_p50_by_turn": by_position,
        "breakdown_after_speech_end": breakdown,
    }


def ratios(ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, float | None]:
    """cascade / Pipecat for p50, p95 and mean (below 1: cascade answers sooner)."""

    def ratio(key: str) -> float | None:
        a, b = ours.get(key), theirs.get(key)
        return round(a / b, 3) if a is not None and b else None

    return {
        "p50": ratio("voice_to_voice_p50"),
        "p95": ratio("voice_to_voice_p95"),
        "mean": ratio("voice_to_voice_mean"),
        "audible_p50": ratio("audible_voice_to_voice_p50"),
        "audible_p95": ratio("audible_voice_to_voice_p95"),
    }
