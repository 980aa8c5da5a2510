"""The shared playback buffer: what is announced as bot speech, holds, flushes."""

from __future__ import annotations

import pytest

from cascade.frames import BotAudioFrame, BotSpeechEnded, BotSpeechStarted
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
    assert result.ctx is not None and result.ctx.plays_audio  # replies are heard only once played


async def test_a_session_without_a_playout_sink_plays_no_audio() -> None:
    result = await run_stages([], [audio("r", 0.1, last=True)])  # type: ignore[list-item]
    assert result.ctx is not None and not result.ctx.plays_audio


async def test_held_audio_waits_and_plays_on_from_where_it_stopped() -> None:
    sink = PacedSink()

    def hold(ctx: SessionContext) -> None:
        ctx.hold_playback("barge-in-pause")
        ctx.hold_playback("speculative")

    actions = {
        0.1: hold,
        0.4: lambda ctx: ctx.release_playback("barge-in-pause"),  # one hold is left
        0.6: lambda ctx: ctx.release_playback("speculative"),
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
