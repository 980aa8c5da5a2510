"""The shared playback buffer: what is announced as bot speech, holds, flushes."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from cascade.frames import (
    BotAudioFrame,
    BotAudioPlayed,
    BotSpeechEnded,
    BotSpeechStarted,
    PlaybackHold,
    PlaybackRelease,
    SessionPlaysAudio,
)
from cascade.session import SessionContext
from cascade.testing import run_stages
from cascade.testing.sinks import PacedSink

pytestmark = pytest.mark.anyio

RATE = 16000


def audio(response_id: str, seconds: float, *, last: bool = False, text: str = "") -> BotAudioFrame:
    pcm = b"\x10\x00" * round(seconds * RATE)
    return BotAudioFrame(pts=0.0, pcm=pcm, sample_rate=RATE, response_id=response_id, text=text, last=last)


async def test_a_response_without_audio_is_not_bot_speech() -> None:
    frames = [audio("empty", 0.0, last=True), audio("apology", 0.2, last=True, text="Sorry.")]
    result = await run_stages([PacedSink()], frames)  # type: ignore[list-item]
    started = [e.response_id for e in result.events if isinstance(e, BotSpeechStarted)]
    ended = [(e.response_id, e.heard_text) for e in result.events if isinstance(e, BotSpeechEnded)]
    assert started == ["apology"] and ended == [("apology", "Sorry.")]
    # replies are heard only once played
    assert isinstance(result.events[0], SessionPlaysAudio)


async def test_a_session_without_a_playout_sink_plays_no_audio() -> None:
    result = await run_stages([], [audio("r", 0.1, last=True)])  # type: ignore[list-item]
    assert not [e for e in result.events if isinstance(e, SessionPlaysAudio)]


async def test_held_audio_waits_and_plays_on_from_where_it_stopped() -> None:
    sink = PacedSink()

    def hold(ctx: SessionContext) -> None:
        ctx.broadcast(PlaybackHold(reason="barge-in-pause"))
        ctx.broadcast(PlaybackHold(reason="speculative"))

    actions = {
        0.1: hold,
        0.4: lambda ctx: ctx.broadcast(PlaybackRelease(reason="barge-in-pause")),  # one hold is left
        0.6: lambda ctx: ctx.broadcast(PlaybackRelease(reason="speculative")),
    }
    result = await run_stages([sink], [audio("r", 0.3, last=True, text="one two")], actions=actions)
    times = sink.played_at
    assert times[0] == pytest.approx(0.02) and max(t for t in times if t < 0.5) == pytest.approx(
        0.1, abs=0.025
    )
    assert min(t for t in times if t > 0.1) == pytest.approx(0.6, abs=0.025)
    assert len(times) == 15  # 0.3 s in 20 ms ticks: nothing lost to the holds
    (ended,) = [e for e in result.events if isinstance(e, BotSpeechEnded)]
    assert not ended.interrupted and ended.heard_text == "one two"


async def test_what_was_played_is_reported_chunk_by_chunk_with_its_words_and_energy() -> None:
    sink = PacedSink()
    frames = [audio("r", 0.1, text="one "), audio("r", 0.1, last=True, text="two")]
    actions = {0.05: lambda ctx: ctx.broadcast(PlaybackHold(reason="x"))}
    actions[0.3] = lambda ctx: ctx.broadcast(PlaybackRelease(reason="x"))
    result = await run_stages([sink], frames, actions=actions)  # type: ignore[arg-type]
    played = [e for e in result.events if isinstance(e, BotAudioPlayed)]
    assert [round(e.pts, 2) for e in played] == [0.02, 0.04, 0.32, 0.34, 0.36, 0.38, 0.40, 0.42, 0.44, 0.46]
    assert "".join(e.text for e in played) == "one two" and {e.response_id for e in played} == {"r"}
    level = 20 * math.log10(16 / 32768)  # the steady tone the frames carry, in dB
    assert all(e.envelope == pytest.approx((level,), abs=0.01) for e in played)


async def test_an_interrupted_reply_reports_the_rest_it_was_going_to_say() -> None:
    sink = PacedSink()
    frames = [
        audio("r", 0.1, text="one two "),
        audio("r", 0.1, text="three four "),
        audio("r", 0.1, last=True),
    ]
    result = await run_stages([sink], frames, actions={0.11: lambda ctx: ctx.interrupt("barge-in")})  # type: ignore[arg-type]
    (ended,) = [e for e in result.events if isinstance(e, BotSpeechEnded)]
    assert ended.interrupted and ended.heard_text == "one two" and ended.unheard_text == "three four"


def level(pcm: bytes) -> float:
    """Mean absolute sample of a played chunk."""
    return float(np.abs(np.frombuffer(pcm, np.int16).astype(np.float32)).mean())


@pytest.mark.parametrize("release_at", [0.3, None])
async def test_a_soft_hold_ducks_the_audio_and_stops_it_only_later(release_at: float | None) -> None:
    """Ducked at once, at full level again (no gap) when released in time; stopped after
    ``duck_for`` when not -- and what was ducked counts as heard."""
    sink = PacedSink()
    actions = {0.1: lambda ctx: ctx.broadcast(PlaybackHold(reason="p", duck_db=-20.0, duck_for=0.3))}
    if release_at is not None:
        actions[release_at] = lambda ctx: ctx.broadcast(PlaybackRelease(reason="p"))
    pcm = np.full(round(0.8 * RATE), 1000, np.int16).tobytes()
    frames = [BotAudioFrame(pts=0.0, pcm=pcm, sample_rate=RATE, response_id="r", text="one two", last=True)]
    result = await run_stages([sink], frames, actions=actions)  # type: ignore[arg-type]
    full = level(sink.played[0][1])
    steady = [(t, level(pcm) / full) for t, pcm in sink.played if t not in sink.ducked_at]
    ducked = [(t, level(pcm) / full) for t, pcm in sink.played if t in sink.ducked_at]
    assert ducked[0][0] == pytest.approx(0.12, abs=0.015)
    assert all(ratio == pytest.approx(0.1, abs=0.01) for _, ratio in ducked[1:])  # -20 dB
    ramps = [t for t, ratio in steady if ratio != pytest.approx(1.0, abs=0.01)]
    if release_at is not None:
        times = sink.played_at
        assert max(b - a for a, b in itertools.pairwise(times)) == pytest.approx(0.02, abs=0.005)
        assert ducked[-1][0] == pytest.approx(release_at, abs=0.025)
        assert ramps == [pytest.approx(release_at + 0.02, abs=0.025)]  # back up over one chunk
    else:
        assert ducked[-1][0] == pytest.approx(0.1 + 0.3, abs=0.025)
        assert max(sink.played_at) == ducked[-1][0]  # held from then on, until the end of the run
        assert sink.playout.held and not ramps
    (ended,) = [e for e in result.events if isinstance(e, BotSpeechEnded)] or [None]
    if release_at is not None:
        assert ended is not None and ended.heard_text == "one two" and not ended.interrupted
