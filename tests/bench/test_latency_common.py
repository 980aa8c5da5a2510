"""The latency benchmark's pure parts: sessions from a manifest, where each turn started, which
bot response answers which turn."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))

from latency_common import (
    SessionRun,
    group_sessions,
    locate_starts,
    measure_turns,
    ratios,
    summarize,
)

RATE = 16000
FRAME = 320


def test_sessions_are_consecutive_groups_and_a_short_rest_is_dropped() -> None:
    items = list("abcdefghijk")
    assert group_sessions(items, 5) == [list("abcde"), list("fghij")]
    assert group_sessions(items, 1) == [[x] for x in items]
    assert group_sessions(items[:3], 5) == []
    with pytest.raises(ValueError):
        group_sessions(items, 0)


def tone(seconds: float, lead: float = 0.0) -> np.ndarray:
    """A tone after ``lead`` seconds of digital silence (int16)."""
    t = np.arange(int(seconds * RATE)) / RATE
    body = (8000 * np.sin(2 * np.pi * 220 * t)).astype(np.int16)
    return np.concatenate([np.zeros(int(lead * RATE), np.int16), body])


def test_starts_are_found_after_the_silence_between_turns_even_with_a_silent_lead() -> None:
    first, second = tone(0.51), tone(0.3, lead=0.1)  # neither a whole number of frames
    pad = lambda a: np.pad(a, (0, -len(a) % FRAME))  # noqa: E731
    gap = np.zeros(37 * FRAME, np.int16)
    track = np.concatenate([gap, pad(first), gap, gap, pad(second), gap])
    expected = [len(gap), len(gap) + len(pad(first)) + 2 * len(gap)]
    assert locate_starts(track, [first, second], FRAME) == expected
    assert locate_starts(track, [np.zeros(FRAME, np.int16)], FRAME) == [None]


def run_with(events: list[tuple[str, float]], starts: list[float | None], bot: list[float]) -> SessionRun:
    track = np.zeros(int(20 * RATE), np.int16)
    for at in bot:  # one second of audible reply from each time
        track[int(at * RATE) : int((at + 1) * RATE)] = tone(1.0)
    return SessionRun(starts, events, track, RATE)


def test_each_turn_is_timed_from_its_speech_end_to_the_first_response_after_it() -> None:
    events = [
        ("user_speech_end", 1.9),
        ("end_of_turn", 2.2),
        ("llm_first_token", 2.3),
        ("first_audio_out", 2.5),
        ("user_speech_end", 7.3),  # a pause inside turn 2, then the real end
        ("end_of_turn", 7.4),
        ("end_of_turn", 8.4),
        ("first_audio_out", 8.8),
        ("first_audio_out", 9.9),  # a second response to the same turn does not count
    ]
    run = run_with(events, [0.0, 6.0], bot=[2.6, 8.8])
    first, second = measure_turns(run, [2.0, 2.1])
    assert first.voice_to_voice == pytest.approx(0.5)
    assert first.audible == pytest.approx(0.6)
    assert first.marks == pytest.approx({"user_speech_end": -0.1, "end_of_turn": 0.2, "llm_first_token": 0.3})
    assert second.voice_to_voice == pytest.approx(0.7)
    assert second.marks["end_of_turn"] == pytest.approx(0.3)  # the decision that led to the answer
    assert not first.early and not second.early


def test_a_reply_before_the_speech_end_is_a_cut_in_and_unanswered_turns_have_no_figure() -> None:
    events = [("first_audio_out", 1.0), ("first_audio_out", 3.0)]
    run = run_with(events, [0.0, 5.0], bot=[1.0, 3.0])
    cut, silent = measure_turns(run, [2.0, 1.0])
    assert cut.early and cut.voice_to_voice == pytest.approx(1.0) and cut.audible is None
    assert silent.voice_to_voice is None and silent.marks == {}
    summary = summarize([cut, silent])
    assert (summary["turns"], summary["answered"], summary["bot_started_before_speech_end"]) == (2, 1, 1)
    assert summary["voice_to_voice_p50_by_turn"] == {"1": 1.0, "2": None}


def test_ratio_is_cascade_over_pipecat() -> None:
    ours = {"voice_to_voice_p50": 0.5, "voice_to_voice_p95": 1.0, "voice_to_voice_mean": None}
    theirs = {"voice_to_voice_p50": 2.0, "voice_to_voice_p95": 4.0, "voice_to_voice_mean": 3.0}
    assert ratios(ours, theirs)["p50"] == 0.25
    assert ratios(ours, theirs)["p95"] == 0.25
    assert ratios(ours, theirs)["mean"] is None
