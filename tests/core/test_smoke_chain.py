"""A full fake chain runs in virtual time and measures one turn."""

import pytest

from cascade.frames import BotAudioPlayed, BotSpeechEnded, BotSpeechStarted, SessionPlaysAudio
from cascade.testing import run_stages
from cascade.testing.fakes import FakeASR, FakeLLM, FakeTTS, FakeTurnTaker
from cascade.testing.sinks import PacedSink
from tests.core.helpers import speech


@pytest.mark.anyio
async def test_fake_chain_answers_and_measures_turn() -> None:
    result = await run_stages(
        [FakeASR(["hello"]), FakeTurnTaker(), FakeLLM("Hi there."), FakeTTS(), PacedSink()],
        speech(0.5, 1.5, 3.0),
    )
    assert isinstance(result.events[0], SessionPlaysAudio)  # the sink's reports, in order:
    played = [e for e in result.events[1:-1] if isinstance(e, BotAudioPlayed)]
    assert [type(e) for e in result.events] == [
        SessionPlaysAudio,
        BotSpeechStarted,
        *[BotAudioPlayed] * len(played),
        BotSpeechEnded,
    ]
    assert "".join(e.text for e in played).strip() == "Hi there."
    ended = result.events[-1]
    assert isinstance(ended, BotSpeechEnded)
    assert ended.heard_text == "Hi there." and not ended.interrupted
    (turn,) = result.timelines
    assert turn.user_speech_end == pytest.approx(1.5)
    assert turn.voice_to_voice is not None and 0 < turn.voice_to_voice < 1.0
