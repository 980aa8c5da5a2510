"""Barge-in in virtual time: words and speech interrupt; coughs, backchannels and echo do not;
after a false interruption the bot says the rest of its reply."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from cascade.frames import (
    BotAudioFrame,
    BotSpeechEnded,
    BotSpeechStarted,
    EndOfTurn,
    FinalTranscript,
    Frame,
    SpeechOnset,
    SpeechStarted,
    SpeechStopped,
    TextToSpeak,
    Word,
)
from cascade.session import SessionContext
from cascade.testing import run_stages
from cascade.testing.fakes import FakeLLM, FakeTTS
from cascade.testing.sinks import PacedSink
from cascade.turn import TurnOptions, TurnTaker
from cascade.turn.options import InterruptionOptions
from tests.turn.helpers import (
    RATE,
    bot_reply_frames,
    caller_frames,
    final,
    late,
    partial,
    speechlike,
    timeline,
    vad,
)

pytestmark = pytest.mark.anyio

REPLY = "Our opening hours are nine to five on weekdays and ten to two on Saturdays."


def bot_speaks(at: float = 0.2) -> dict[float, object]:
    def start(ctx: SessionContext) -> None:
        ctx.broadcast(BotSpeechStarted(pts=at, response_id="r1"))

    return {at: start}


NO_PAUSE = TurnOptions(interruption=InterruptionOptions(pause_on_speech=False))
"""The bot keeps talking until the interruption is certain (the pause is tested on its own)."""


def taker(options: TurnOptions | None = None) -> TurnTaker:
    return TurnTaker(options or NO_PAUSE, model=lambda audio: 0.9, text_model=None, offload=False)


def ends(frames: list[Frame]) -> list[EndOfTurn]:
    return [f for f in frames if isinstance(f, EndOfTurn)]


async def test_words_over_the_bot_interrupt_at_once() -> None:
    options = TurnOptions(interruption=InterruptionOptions(min_duration=5.0, pause_on_speech=False))
    spans = [(1.0, 2.0)]
    frames = timeline(
        caller_frames(4.0, spans), vad(spans), [partial(1.3, "wait, stop"), final(2.3, "Wait, stop.")]
    )
    result = await run_stages([taker(options)], frames, actions=bot_speaks())  # type: ignore[arg-type]
    (interrupt,) = result.interrupts
    assert interrupt.reason == "barge-in" and interrupt.pts == pytest.approx(1.3)
    (eot,) = ends(result.frames)
    assert eot.text == "Wait, stop."


async def test_long_speech_over_the_bot_interrupts_without_words() -> None:
    spans = [(1.0, 2.0)]
    frames = timeline(caller_frames(4.0, spans), vad(spans))
    result = await run_stages([taker()], frames, actions=bot_speaks())  # type: ignore[arg-type]
    (interrupt,) = result.interrupts
    assert interrupt.pts == pytest.approx(1.3, abs=0.03)  # min_duration after the VAD's start


async def test_a_cough_does_not_interrupt() -> None:
    spans = [(1.0, 1.12)]
    frames = timeline(caller_frames(4.0, spans), vad(spans))
    result = await run_stages([taker()], frames, actions=bot_speaks())  # type: ignore[arg-type]
    assert result.interrupts == [] and ends(result.frames) == []


async def test_a_backchannel_does_not_interrupt() -> None:
    spans = [(1.0, 1.7)]
    frames = timeline(caller_frames(4.0, spans), vad(spans), [partial(1.2, "mm-hmm"), final(1.9, "Mm-hmm.")])
    result = await run_stages([taker()], frames, actions=bot_speaks())  # type: ignore[arg-type]
    assert result.interrupts == [] and ends(result.frames) == []


async def test_a_short_real_word_recognized_late_still_interrupts() -> None:
    spans = [(1.0, 1.25)]
    frames = timeline(caller_frames(4.0, spans), vad(spans), [final(1.7, "Stop.")])
    result = await run_stages([taker()], frames, actions=bot_speaks())  # type: ignore[arg-type]
    (interrupt,) = result.interrupts
    assert interrupt.pts == pytest.approx(1.7)
    (eot,) = ends(result.frames)
    assert eot.text == "Stop."


def gaps(sink: PacedSink, after: float) -> list[tuple[float, float]]:
    """Silences in the bot's played audio after ``after`` (a tick without audio starts one)."""
    out: list[tuple[float, float]] = []
    times = [t for t in sink.played_at if t > after]
    for previous, t in itertools.pairwise(times):
        if t - previous > sink.tick * 1.5:
            out.append((previous, t))
    return out


def ducked(sink: PacedSink) -> tuple[float, float]:
    """The first and last tick the bot's audio played ducked (there must be some)."""
    assert sink.ducked_at, "the bot's audio was never ducked"
    return sink.ducked_at[0], sink.ducked_at[-1]


DUCK_FOR = TurnOptions().interruption.duck_for


async def test_speech_over_the_bot_ducks_it_at_once_pauses_it_later_and_long_speech_interrupts() -> None:
    spans = [(1.0, 2.5)]
    frames = timeline(bot_reply_frames(REPLY, start=0.1), caller_frames(6.0, spans), vad(spans))
    turn, stages = resume_chain(TurnOptions())
    result = await run_stages(stages, frames)  # type: ignore[arg-type]
    sink = stages[-1]
    assert isinstance(sink, PacedSink)
    # the first caller frame after the VAD's start ducks the audio; duck_for later it stops, for good
    first, last = ducked(sink)
    assert first == pytest.approx(1.04, abs=0.03)
    assert last == max(t for t in sink.played_at if t < 2.0) == pytest.approx(1.02 + DUCK_FOR, abs=0.03)
    (interrupt,) = result.interrupts
    assert interrupt.pts == pytest.approx(2.0, abs=0.03)  # paused_min_duration of speech
    ended = [e for e in result.events if isinstance(e, BotSpeechEnded)]
    assert ended[0].interrupted and turn.stats.paused == 1 and turn.stats.pause_resumed == 0


@pytest.mark.parametrize(("transcript", "goes_on_at"), [(final(1.8, "Mm-hmm."), 1.8), (None, 2.0)])
async def test_a_backchannel_or_a_sound_ducks_the_bot_which_goes_on_without_a_gap(
    transcript: Frame | None, goes_on_at: float
) -> None:
    spans = [(1.0, 1.5)]
    words = [] if transcript is None else [transcript]
    frames = timeline(bot_reply_frames(REPLY, start=0.1), caller_frames(6.0, spans), vad(spans), words)
    turn, stages = resume_chain(TurnOptions())
    result = await run_stages(stages, frames)  # type: ignore[arg-type]
    sink = stages[-1]
    assert isinstance(sink, PacedSink)
    assert result.interrupts == [] and ends(result.frames) == []
    # ducked at the first caller frame; at full level again when the transcript shows no
    # interrupting words, or pause_timeout after the speech ended when none comes -- past duck_for,
    # which pauses the audio until then
    first, last = ducked(sink)
    assert first == pytest.approx(1.04, abs=0.03)
    if goes_on_at < 1.02 + DUCK_FOR:
        assert gaps(sink, 0.5) == [] and last == pytest.approx(goes_on_at, abs=0.03)
    else:
        (gap,) = gaps(sink, 0.5)
        assert gap == (pytest.approx(1.02 + DUCK_FOR, abs=0.03), pytest.approx(goes_on_at, abs=0.03))
    (ended,) = [e for e in result.events if isinstance(e, BotSpeechEnded)]
    assert not ended.interrupted and ended.heard_text.split() == REPLY.split()
    assert turn.stats.paused == 1 and turn.stats.pause_resumed == 1


async def test_speech_in_bursts_adds_up_to_an_interruption_while_the_words_lag() -> None:
    spans = [(1.0, 1.5), (1.8, 2.5)]  # the VAD sees two segments; the recognizer is slow
    frames = timeline(bot_reply_frames(REPLY, start=0.1), caller_frames(6.0, spans), vad(spans))
    turn, stages = resume_chain(TurnOptions())
    result = await run_stages(stages, frames)  # type: ignore[arg-type]
    sink = stages[-1]
    assert isinstance(sink, PacedSink)
    # ducked, then paused, never resumed
    assert max(t for t in sink.played_at if t < 3.0) == pytest.approx(1.02 + DUCK_FOR, abs=0.03)
    (interrupt,) = result.interrupts
    assert interrupt.pts == pytest.approx(2.3, abs=0.05)  # 0.5 s + 0.5 s of speech
    assert turn.stats.pause_resumed == 0


async def test_words_turn_the_pause_into_an_interruption() -> None:
    spans = [(1.0, 1.5)]
    frames = timeline(
        bot_reply_frames(REPLY, start=0.1), caller_frames(6.0, spans), vad(spans), [final(1.8, "Hold on.")]
    )
    _, stages = resume_chain(TurnOptions())
    result = await run_stages(stages, frames)  # type: ignore[arg-type]
    sink = stages[-1]
    assert isinstance(sink, PacedSink)
    assert ducked(sink)[1] == max(sink.played_at) == pytest.approx(1.8, abs=0.03)  # ducked, then cut
    assert [(i.reason, i.pts) for i in result.interrupts] == [("barge-in", pytest.approx(1.8))]
    (eot,) = ends(result.frames)
    assert eot.text == "Hold on."


def unsure(t: float, text: str, *probabilities: float) -> FinalTranscript:
    """A final transcript whose words the recognizer gave these probabilities."""
    tokens = text.split()
    pairs = zip(tokens, probabilities, strict=True)
    words = tuple(Word(text=w, start=t, end=t, probability=p) for w, p in pairs)
    return FinalTranscript(pts=t, text=text, words=words)


@pytest.mark.parametrize("command", ["Stop.", "Wait.", "No.", "Hold on."])
@pytest.mark.parametrize("probability", [0.9, 0.3])
async def test_a_one_word_command_said_alone_interrupts_even_when_the_recognizer_is_unsure(
    command: str, probability: float
) -> None:
    """A lone word over the bot gets a low probability from a recognizer without context; said
    alone, it is still the caller's word (not a backchannel, not a hum): the ducked bot stops.
    (After a first word, the recognizer is sure of the next: "hold" 0.36, "on" 0.99.)"""
    spans = [(1.0, 1.4)]
    rest = [0.95] * (len(command.split()) - 1)
    words = [unsure(1.75, command, probability, *rest)]
    frames = timeline(bot_reply_frames(REPLY, start=0.1), caller_frames(6.0, spans), vad(spans), words)
    _, stages = resume_chain(TurnOptions())
    result = await run_stages(stages, frames)  # type: ignore[arg-type]
    sink = stages[-1]
    assert isinstance(sink, PacedSink)
    assert [(i.reason, i.pts) for i in result.interrupts] == [("barge-in", pytest.approx(1.75))]
    assert max(sink.played_at) == pytest.approx(1.74, abs=0.03)  # never went on
    (eot,) = ends(result.frames)
    assert eot.text == command


@pytest.mark.parametrize(
    ("heard", "probabilities"),
    [("M -H -M.", (0.7, 0.7, 0.7)), ("Yeah.", (0.3,)), ("It has.", (0.2, 0.3)), ("Stop.", (0.1,))],
)
async def test_hums_backchannels_and_unsure_words_that_are_not_alone_let_the_bot_go_on(
    heard: str, probabilities: tuple[float, ...]
) -> None:
    """A hum written as letters, a backchannel, two unsure words, a word below
    ``lone_word_probability``: the ducked bot goes on without a gap."""
    spans = [(1.0, 1.4)]
    words = [unsure(1.75, heard, *probabilities)]
    frames = timeline(bot_reply_frames(REPLY, start=0.1), caller_frames(6.0, spans), vad(spans), words)
    turn, stages = resume_chain(TurnOptions())
    result = await run_stages(stages, frames)  # type: ignore[arg-type]
    sink = stages[-1]
    assert isinstance(sink, PacedSink)
    assert result.interrupts == [] and ends(result.frames) == [] and gaps(sink, 0.5) == []
    assert ducked(sink)[1] == pytest.approx(1.75, abs=0.03) and turn.stats.pause_resumed == 1


def resume_chain(options: TurnOptions | None = None) -> tuple[TurnTaker, list[object]]:
    turn = taker(options)
    return turn, [turn, FakeTTS(word_seconds=0.1), PacedSink()]


@pytest.mark.parametrize("heard", [None, "yeah"])
async def test_false_interruption_resumes_with_the_unheard_rest(heard: str | None) -> None:
    spans = [(1.0, 1.6)]
    words = [] if heard is None else [final(1.9, heard)]
    frames = timeline(
        bot_reply_frames(REPLY, start=0.1), caller_frames(6.0, spans, seed=3), vad(spans), words
    )
    turn, stages = resume_chain()
    result = await run_stages(stages, frames)  # type: ignore[arg-type]
    assert [i.reason for i in result.interrupts] == ["barge-in"]
    started = [e for e in result.events if isinstance(e, BotSpeechStarted)]
    first, second = [e for e in result.events if isinstance(e, BotSpeechEnded)]
    assert first.response_id == "r1" and first.interrupted and first.heard_text
    assert second.response_id == "r1-resume" and not second.interrupted
    assert (first.heard_text + " " + second.heard_text).split() == REPLY.split()
    # no words at all: speech end + false_interruption_timeout; a backchannel: as soon as it is final
    assert started[1].pts == pytest.approx(2.6 if heard is None else 1.9, abs=0.05)
    assert ends(result.frames) == [] and turn.stats.resumed == 1


async def test_real_words_after_the_interruption_keep_the_floor() -> None:
    spans = [(1.0, 1.6)]
    frames = timeline(
        bot_reply_frames(REPLY, start=0.1),
        caller_frames(6.0, spans, seed=3),
        vad(spans),
        [final(1.9, "What about Sundays?")],
    )
    _, stages = resume_chain()
    result = await run_stages(stages, frames)  # type: ignore[arg-type]
    assert [i.reason for i in result.interrupts] == ["barge-in"]
    assert [f for f in result.frames if isinstance(f, TextToSpeak)] == []
    (eot,) = ends(result.frames)
    assert eot.text == "What about Sundays?"


def echo_of(frames: list[Frame], *, delay: float, gain: float, played_from: float) -> np.ndarray:
    """What the caller's line carries back: the played bot audio, later and quieter."""
    bot = np.concatenate([f.floats() for f in frames if isinstance(f, BotAudioFrame) and f.pcm])
    lead = np.zeros(round((played_from + delay) * RATE), np.float32)
    return np.concatenate([lead, bot * gain])


@pytest.mark.parametrize("double_talk", [False, True])
async def test_echo_of_the_bot_does_not_interrupt_but_the_caller_does(double_talk: bool) -> None:
    reply = bot_reply_frames(REPLY, start=0.1)
    echo = echo_of(reply, delay=0.12, gain=0.3, played_from=0.12)
    if double_talk:
        speech = np.zeros_like(echo)
        a = round(1.5 * RATE)
        speech[a : a + RATE] = speechlike(1.0, seed=7)
        echo = echo + speech
    spans = [(0.3, 4.4)]  # the VAD hears the echo as speech
    frames = timeline(
        reply,
        caller_frames(7.0, audio=echo),
        vad(spans),
        [partial(1.2, "Our opening hours are"), partial(2.5, "Our opening hours are nine to five on")],
    )
    turn, stages = resume_chain()
    result = await run_stages(stages, frames)  # type: ignore[arg-type]
    if double_talk:
        (interrupt,) = result.interrupts
        assert 1.5 < interrupt.pts < 2.2
    else:
        assert result.interrupts == [] and ends(result.frames) == []
        assert turn.stats.echo_frames > 50
    playback = [e for e in result.events if isinstance(e, BotSpeechStarted | BotSpeechEnded)]
    assert isinstance(playback[0], BotSpeechStarted)


async def test_speaking_again_before_the_reply_plays_makes_it_stale() -> None:
    spans = [(0.5, 1.5), (2.5, 3.5)]
    frames = timeline(
        caller_frames(5.0, spans),
        vad(spans),
        [partial(1.4, "What time is it"), final(1.8, "What time is it?")],
        [partial(3.0, "in Tokyo I mean"), final(3.8, "In Tokyo, I mean.")],
    )
    result = await run_stages([taker()], frames)
    first, second = ends(result.frames)
    assert first.text == "What time is it" and second.text == "in Tokyo I mean"
    assert [i.reason for i in result.interrupts] == ["barge-in"]
    assert result.interrupts[0].pts == pytest.approx(3.0)


def replying_chain(turn: TurnTaker) -> tuple[PacedSink, list[object]]:
    """The turn-taker, a reply whose audio is ready 0.6 s after the turn is taken, a transport."""
    sink = PacedSink()
    return sink, [turn, FakeLLM("It is nine.", ttft=0.6), FakeTTS(latency=0.0), sink]


async def test_a_reply_ready_while_the_caller_speaks_again_waits_for_their_words() -> None:
    # the turn is taken at 1.8 s, the caller goes on at 2.0 s, the reply is ready at 2.4 s: the
    # bot does not start talking over them, and their words (2.8 s) make the reply stale
    spans = [(0.5, 1.5), (2.0, 3.5)]
    frames = timeline(
        caller_frames(5.0, spans),
        vad(spans),
        [partial(1.4, "What time is it"), final(1.8, "What time is it?")],
        [partial(2.8, "in Tokyo I mean"), final(3.8, "In Tokyo, I mean.")],
    )
    sink, chain = replying_chain(taker(TurnOptions()))
    result = await run_stages(chain, frames)  # type: ignore[arg-type]
    assert [(i.reason, i.pts) for i in result.interrupts][:1] == [("barge-in", pytest.approx(2.8))]
    assert [t for t in sink.played_at if t < 3.5] == []  # not a sample over the caller
    assert [t for t in sink.played_at if t > 3.5]  # the whole question is answered


async def test_a_reply_held_for_a_sound_without_words_plays_after_it() -> None:
    spans = [(0.5, 1.5), (2.0, 2.4)]  # a cough after the turn was taken, before the reply plays
    frames = timeline(
        caller_frames(5.0, spans),
        vad(spans),
        [partial(1.4, "What time is it"), final(1.8, "What time is it?")],
        [final(2.7, "")],
    )
    sink, chain = replying_chain(taker(TurnOptions()))
    result = await run_stages(chain, frames)  # type: ignore[arg-type]
    assert result.interrupts == []
    assert sink.played_at and sink.played_at[0] == pytest.approx(2.72, abs=0.03)  # after the final
    (ended,) = [e for e in result.events if isinstance(e, BotSpeechEnded)]
    assert ended.heard_text.strip() == "It is nine."


@pytest.mark.parametrize("speech", [True, False])
async def test_a_reply_about_to_play_waits_for_a_sound_the_vad_has_yet_to_judge(speech: bool) -> None:
    # the reply is ready at about 2.3 s; a sound began at 2.2 s, which the VAD confirms as speech
    # (or not) at 2.35 s: the bot does not start talking in between
    spans = [(0.5, 1.5), (2.2, 3.5)] if speech else [(0.5, 1.5)]
    onset = SpeechOnset(pts=2.2, confirm_by=2.35)
    frames = timeline(
        caller_frames(5.0, spans),
        vad(spans[:1]),
        [late(2.2 + 0.03, onset)],  # after the window that heard it
        [late(2.37, SpeechStarted(pts=2.0)), late(3.7, SpeechStopped(pts=3.5))] if speech else [],
        [partial(1.4, "What time is it"), final(1.8, "What time is it?")],
        [partial(2.8, "in Tokyo I mean"), final(3.8, "In Tokyo, I mean.")] if speech else [],
    )
    sink, chain = replying_chain(taker(TurnOptions()))
    result = await run_stages(chain, frames)  # type: ignore[arg-type]
    if speech:
        assert [i.reason for i in result.interrupts][:1] == ["barge-in"]
        assert [t for t in sink.played_at if t < 3.5] == []
    else:  # a click: the reply plays once the VAD had time to confirm it and did not
        assert result.interrupts == []
        assert sink.played_at[0] == pytest.approx(2.35 + 0.1 + 0.02, abs=0.03)


async def test_a_reply_that_starts_while_the_caller_speaks_again_is_paused_and_interrupted() -> None:
    # the VAD reports the caller's new speech (2.0) only after the turn was taken: the reply starts
    # over the caller, who must not have to out-talk it
    spans = [(0.5, 1.5), (2.0, 3.5)]
    frames = timeline(
        caller_frames(5.0, spans),
        vad(spans),
        [partial(1.4, "Eight of spades"), final(1.8, "Eight of spades.")],
        [partial(2.8, "four of clubs")],
    )
    turn = taker(TurnOptions())
    result = await run_stages([turn], frames, actions=bot_speaks(at=2.3))
    assert ends(result.frames)[0].text.startswith("Eight of spades")
    assert turn.stats.paused == 1  # at the first caller frame after the reply started
    assert [i.reason for i in result.interrupts] == ["barge-in"]
    assert result.interrupts[0].pts == pytest.approx(2.8)


async def test_our_backchannel_yields_to_the_caller() -> None:
    def backchannel_plays(ctx: SessionContext) -> None:
        ctx.broadcast(BotSpeechStarted(pts=1.0, response_id="backchannel-0"))

    spans = [(1.1, 2.0)]
    frames = timeline(caller_frames(3.0, spans), vad(spans))
    result = await run_stages([taker()], frames, actions={1.0: backchannel_plays})
    assert [(i.reason, i.pts) for i in result.interrupts] == [("backchannel-yield", pytest.approx(1.1))]
