"""End of turn in virtual time: fast when complete, patient when not, bounded, preemptive replies."""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest

from cascade.clock import RealClock
from cascade.frames import (
    BotSpeechEnded,
    BotSpeechStarted,
    EndOfTurn,
    FinalTranscript,
    Frame,
    SessionPlaysAudio,
    SpeechPaused,
    SpeechResumed,
    TextToSpeak,
    Word,
)
from cascade.session import SessionContext
from cascade.stage import Stage
from cascade.testing import run_stages
from cascade.testing.fakes import FakeLLM, FakeTTS
from cascade.testing.sinks import PacedSink
from cascade.turn import TurnOptions, TurnTaker
from cascade.turn.options import BackchannelOptions, EndpointingOptions, PreemptiveOptions
from tests.turn.helpers import caller_frames, final, late, partial, plays_audio, timeline, vad

pytestmark = pytest.mark.anyio


def scripted(*probabilities: float) -> object:
    """An end-of-turn model answering the given probabilities in order (then the last one)."""
    values: Iterator[float] = iter(probabilities)
    last = [probabilities[-1]]

    def model(audio: np.ndarray) -> float:
        assert audio.dtype == np.float32 and len(audio) > 0
        last[0] = next(values, last[0])
        return last[0]

    return model


def taker(*probabilities: float, options: TurnOptions | None = None) -> TurnTaker:
    return TurnTaker(options, model=scripted(*probabilities), text_model=None, offload=False)  # type: ignore[arg-type]


def turns(result_frames: list[Frame]) -> list[EndOfTurn]:
    return [f for f in result_frames if isinstance(f, EndOfTurn)]


async def test_complete_turn_ends_fast_with_preemptive_reply_kept() -> None:
    frames = timeline(
        caller_frames(3.0, [(0.5, 1.5)]),
        vad([(0.5, 1.5)]),
        [
            partial(1.0, "I would like"),
            partial(1.6, "I would like a pizza"),
            final(1.9, "I would like a pizza."),
        ],
    )
    result = await run_stages([taker(0.93)], frames)
    (eot,) = turns(result.frames)
    assert eot.preemptive and eot.text == "I would like a pizza"
    assert eot.pts == pytest.approx(1.7, abs=0.03)  # at the VAD's stop (min delay already passed)
    assert result.interrupts == []
    (turn,) = result.timelines
    assert turn.user_speech_end == pytest.approx(1.5)
    assert turn.end_of_turn == pytest.approx(1.7, abs=0.03)


async def test_a_likely_final_pause_starts_the_reply_before_the_vad_confirms_the_stop() -> None:
    """The VAD announces the pause at 0.1 s of quiet; the recognizer's text that follows it is
    answered at once, and the stop confirmed later keeps that reply."""
    frames = timeline(
        caller_frames(3.0, [(0.5, 1.5)]),
        vad([(0.5, 1.5)]),
        [
            late(1.6, SpeechPaused(pts=1.5)),
            partial(1.65, "I would like a pizza"),
            final(1.72, "I would like a pizza."),
        ],
    )
    result = await run_stages([taker(0.93)], frames)
    (eot,) = turns(result.frames)
    assert eot.preemptive and eot.text == "I would like a pizza"
    assert eot.pts == pytest.approx(1.65, abs=0.01)  # not at the stop (1.7)
    assert result.interrupts == []
    (turn,) = result.timelines
    assert turn.end_of_turn == pytest.approx(1.7, abs=0.03) and turn.preemptive_wasted == 0


async def test_a_reply_prepared_in_a_pause_is_discarded_when_the_caller_goes_on() -> None:
    frames = timeline(
        caller_frames(5.0, [(0.5, 1.5), (1.62, 2.5)]),
        [late(0.5, vad([(0.5, 2.5)])[0][1]), late(2.7, vad([(0.5, 2.5)])[1][1])],
        [
            late(1.6, SpeechPaused(pts=1.5)),
            partial(1.61, "I need a taxi"),
            late(1.62, SpeechResumed(pts=1.62)),
        ],
        [partial(2.3, "I need a taxi to the airport"), final(2.75, "I need a taxi to the airport.")],
    )
    result = await run_stages([taker(0.9)], frames)
    first, second = turns(result.frames)
    assert first.preemptive and first.text == "I need a taxi" and first.pts == pytest.approx(1.61, abs=0.01)
    assert second.text.startswith("I need a taxi to the airport") and second.pts > 2.5
    assert [i.reason for i in result.interrupts] == ["preemptive-discarded:caller-continued"]
    assert sum(t.preemptive_wasted for t in result.timelines) == 1


async def test_a_reply_prepared_in_a_pause_stands_when_the_speech_goes_on_without_new_words() -> None:
    """A breath or a drawn-out last word resumes the speech; the same text keeps the reply."""
    frames = timeline(
        caller_frames(3.0, [(0.5, 1.5)]),
        vad([(0.5, 1.62)]),
        [
            late(1.57, SpeechPaused(pts=1.5)),
            partial(1.6, "I would like a pizza"),
            late(1.62, SpeechResumed(pts=1.62)),
            late(1.7, SpeechPaused(pts=1.62)),
            final(1.84, "I would like a pizza."),
        ],
    )
    result = await run_stages([taker(0.93)], frames)
    (eot,) = turns(result.frames)
    assert eot.preemptive and eot.pts == pytest.approx(1.6, abs=0.01)
    assert result.interrupts == [] and result.timelines[0].preemptive_wasted == 0


async def test_no_reply_is_prepared_in_a_pause_that_sounds_unfinished() -> None:
    frames = timeline(
        caller_frames(3.0, [(0.5, 1.5)]),
        vad([(0.5, 1.5)]),
        [late(1.6, SpeechPaused(pts=1.5)), partial(1.65, "I would like a"), final(1.72, "I would like a")],
    )
    result = await run_stages([taker(0.2)], frames)
    assert all(not t.preemptive or t.pts >= 1.7 for t in turns(result.frames))


async def test_without_preemption_waits_for_the_final_transcript() -> None:
    options = TurnOptions(preemptive=PreemptiveOptions(enabled=False))
    frames = timeline(
        caller_frames(3.0, [(0.5, 1.5)]),
        vad([(0.5, 1.5)]),
        [partial(1.6, "I would like a pizza"), final(1.9, "I would like a pizza.")],
    )
    result = await run_stages([taker(0.93, options=options)], frames)
    (eot,) = turns(result.frames)
    assert not eot.preemptive and eot.text == "I would like a pizza."
    assert eot.pts == pytest.approx(1.9, abs=0.03)
    assert result.timelines[0].end_of_turn == pytest.approx(1.9, abs=0.03)  # when the EndOfTurn left


async def test_trailing_conjunction_holds_the_turn_through_a_pause() -> None:
    frames = timeline(
        caller_frames(7.0, [(0.5, 1.5), (2.8, 3.6)]),
        vad([(0.5, 1.5), (2.8, 3.6)]),
        [partial(1.4, "I want to go to the store and"), final(1.8, "I want to go to the store and")],
        [partial(3.3, "buy milk"), final(3.9, "buy milk.")],
    )
    result = await run_stages([taker(0.3, 0.95)], frames)
    (eot,) = turns(result.frames)
    assert eot.pts > 3.6
    assert eot.text.startswith("I want to go to the store and buy milk")
    assert result.interrupts == []


async def test_silence_alone_would_have_cut_in_but_low_probability_waits() -> None:
    frames = timeline(
        caller_frames(6.0, [(0.5, 1.5), (2.4, 3.2)]),
        vad([(0.5, 1.5), (2.4, 3.2)]),
        [final(1.8, "So what I was thinking"), final(3.5, "is a trip to Rome.")],
    )
    result = await run_stages([taker(0.05, 0.9)], frames)
    # in doubt, a reply is prepared in the pause; the caller goes on before it may play
    prepared, eot = turns(result.frames)
    assert prepared.preemptive and prepared.text == "So what I was thinking"
    assert result.interrupts[0].reason == "preemptive-discarded:caller-continued"
    assert eot.text == "So what I was thinking is a trip to Rome."
    assert eot.pts > 3.2


async def test_dictated_phone_number_waits_the_maximum_then_ends() -> None:
    options = TurnOptions(endpointing=EndpointingOptions(max_delay=2.0))
    frames = timeline(
        caller_frames(5.0, [(0.5, 1.5)]),
        vad([(0.5, 1.5)]),
        [final(1.8, "My number is 555 123.")],
    )
    result = await run_stages([taker(0.97, options=options)], frames)
    (eot,) = turns(result.frames)
    assert eot.pts == pytest.approx(3.5, abs=0.03)  # speech end + max_delay, despite p=0.97
    assert eot.reason == "cue:phone_number" and not eot.preemptive


async def test_preemptive_reply_is_discarded_when_the_caller_goes_on() -> None:
    frames = timeline(
        caller_frames(5.0, [(0.5, 1.5), (2.0, 3.0)]),
        vad([(0.5, 1.5), (2.0, 3.0)]),
        [partial(1.4, "I need a taxi"), partial(2.8, "I need a taxi to the airport")],
        [final(3.4, "I need a taxi to the airport.")],
    )
    result = await run_stages([taker(0.9)], frames)
    first, second = turns(result.frames)
    assert first.preemptive and first.text == "I need a taxi"
    assert second.preemptive and second.text == "I need a taxi to the airport"
    assert [i.reason for i in result.interrupts] == ["preemptive-discarded:caller-continued"]
    assert first.generation == 0 and second.generation == 1
    assert sum(t.preemptive_wasted for t in result.timelines) == 1


async def test_preemptive_reply_is_replaced_when_the_final_text_differs() -> None:
    frames = timeline(
        caller_frames(3.0, [(0.5, 1.5)]),
        vad([(0.5, 1.5)]),
        [partial(1.4, "I want the red one"), final(1.9, "I want the bread one.")],
    )
    result = await run_stages([taker(0.9)], frames)
    first, second = turns(result.frames)
    assert first.preemptive and not second.preemptive
    assert second.text == "I want the bread one." and second.generation == 1
    assert [i.reason for i in result.interrupts] == ["preemptive-discarded:text-changed"]


async def test_noise_without_words_is_not_a_turn() -> None:
    frames = timeline(caller_frames(3.0, [(1.0, 1.3)]), vad([(1.0, 1.3)]))
    result = await run_stages([taker(0.9)], frames)
    assert turns(result.frames) == [] and result.interrupts == []


async def test_end_of_stream_ends_a_pending_turn() -> None:
    frames = timeline(caller_frames(2.0, [(0.5, 1.5)]), vad([(0.5, 1.5)]), [final(1.8, "and then the")])
    result = await run_stages([taker(0.1)], frames, tail=0.3)
    (eot,) = turns(result.frames)
    assert eot.text == "and then the" and eot.reason == "end_of_stream"


async def test_everything_is_forwarded() -> None:
    frames = timeline(caller_frames(2.5, [(0.5, 1.5)]), vad([(0.5, 1.5)]), [final(1.8, "Hello.")])
    result = await run_stages([taker(0.9)], frames)
    forwarded = [f for f in result.frames if not isinstance(f, EndOfTurn | TextToSpeak)][:-1]
    assert [f.kind for f in forwarded] == [f.kind for f in frames]


async def test_backchannel_at_a_long_pause_never_over_the_caller() -> None:
    options = TurnOptions(
        backchannel=BackchannelOptions(enabled=True, min_turn_duration=3.0, min_interval=8.0)
    )
    spans = [(0.5, 4.0), (5.2, 7.0), (7.3, 8.0)]
    frames = timeline(
        caller_frames(12.0, spans),
        vad(spans),
        [final(4.3, "and then we went to the"), final(7.2, "old harbour where")],
        [final(8.3, "we met Anna.")],
    )
    result = await run_stages([taker(0.2, 0.2, 0.95, options=options)], frames)
    said = [f for f in result.frames if isinstance(f, TextToSpeak)]
    assert [s.text for s in said] == ["Mm-hmm."]  # the 0.3 s pause is too short, the rate limits
    assert said[0].pts == pytest.approx(4.5, abs=0.03)
    assert said[0].response_id.startswith("backchannel-")
    (eot,) = [t for t in turns(result.frames) if not t.preemptive]
    assert eot.text == "and then we went to the old harbour where we met Anna."


async def test_preemptive_reply_is_discarded_when_the_final_text_is_unfinished() -> None:
    spans = [(0.5, 1.5), (2.6, 3.4)]
    frames = timeline(
        caller_frames(6.0, spans),
        vad(spans),
        [partial(1.3, "I'd like to book a table"), final(2.0, "I'd like to book a table...")],
        [partial(3.2, "for four people"), final(3.9, "for four people.")],
    )
    result = await run_stages([taker(0.95)], frames)
    ends = turns(result.frames)
    assert ends[0].preemptive and ends[0].text == "I'd like to book a table"
    assert result.interrupts[0].reason == "preemptive-discarded:text-incomplete"
    assert ends[-1].text == "I'd like to book a table... for four people"
    assert ends[-1].pts > 3.4


def speaking_chain(turn: TurnTaker) -> tuple[PacedSink, list[Stage]]:
    sink = PacedSink()
    return sink, [turn, FakeLLM("Sure, one pizza.", ttft=0.05), FakeTTS(latency=0.01), sink]


async def test_a_kept_preemptive_reply_is_heard_only_once_the_turn_is_confirmed() -> None:
    frames = timeline(
        caller_frames(4.0, [(0.5, 1.5)]),
        vad([(0.5, 1.5)]),
        [partial(1.6, "I would like a pizza"), final(1.9, "I would like a pizza.")],
    )
    sink, chain = speaking_chain(taker(0.93))
    result = await run_stages(chain, frames)
    assert result.interrupts == []
    (turn,) = result.timelines
    assert turn.end_of_turn is not None and turn.end_of_turn < 1.8  # decided (speculatively) early
    # the reply was ready before 1.9 s but held until the final transcript confirmed the text
    assert sink.played_at and min(sink.played_at) >= 1.9
    assert turn.first_audio_out is not None and turn.first_audio_out >= 1.9


async def test_a_discarded_preemptive_reply_is_never_heard() -> None:
    frames = timeline(
        caller_frames(5.0, [(0.5, 1.5)]),
        vad([(0.5, 1.5)]),
        [partial(1.4, "I want the red one"), final(2.4, "I want the bread one.")],
    )
    sink, chain = speaking_chain(taker(0.9))
    result = await run_stages(chain, frames)
    assert [i.reason for i in result.interrupts] == ["preemptive-discarded:text-changed"]
    assert sink.played_at and min(sink.played_at) >= 2.4
    heard = [e for e in result.events if isinstance(e, BotSpeechEnded)]
    assert len(heard) == 1 and not heard[0].interrupted  # only the corrected reply played


async def test_a_likely_end_after_a_longer_silence_has_its_reply_prepared_at_once() -> None:
    frames = timeline(
        caller_frames(4.0, [(0.5, 1.5)]),
        vad([(0.5, 1.5)]),
        [partial(1.6, "I'd like a table for"), final(1.9, "I'd like a table for.")],
    )
    sink, chain = speaking_chain(taker(0.95))  # sure, but "for" often goes on
    result = await run_stages(chain, frames)
    assert result.interrupts == []  # the final text confirmed the prepared reply
    (turn,) = result.timelines
    wait = EndpointingOptions().uncertain_delay
    assert turn.end_of_turn == pytest.approx(1.5 + wait, abs=0.03)  # the turn taken after the wait
    # ... but the reply was started at the VAD's stop (1.7 s, FakeLLM's first token 50 ms on)
    assert turn.llm_first_token == pytest.approx(1.75, abs=0.03)
    assert sink.played_at and min(sink.played_at) >= 1.5 + wait


async def test_a_reply_prepared_in_a_pause_is_discarded_unheard_when_the_caller_goes_on() -> None:
    frames = timeline(
        caller_frames(5.0, [(0.5, 1.5), (2.1, 3.0)]),
        vad([(0.5, 1.5), (2.1, 3.0)]),
        [final(1.75, "Please enter your password at")],
        [partial(2.9, "the pound key"), final(3.4, "the pound key.")],
    )
    sink, chain = speaking_chain(taker(0.95))
    result = await run_stages(chain, frames)
    # a reply was prepared during the pause, and discarded when the caller went on ...
    assert [i.reason for i in result.interrupts] == ["preemptive-discarded:caller-continued"]
    assert result.interrupts[0].pts < 2.2
    assert sink.played_at and min(sink.played_at) >= 3.0  # ... never heard
    decided = [t.end_of_turn for t in result.timelines if t.end_of_turn is not None]
    assert decided and min(decided) > 3.0  # the only turn taken is the whole one


class ScriptedReader:
    """A text end-of-turn model with fixed readings (``default`` for any other text); it records
    what it was asked: ``(text, the bot's last words)``."""

    def __init__(self, readings: dict[str, float], default: float = 0.3) -> None:
        self.readings, self.default = readings, default
        self.asked: list[tuple[str, str]] = []

    def __call__(self, text: str, said: str) -> float:
        self.asked.append((text, said))
        return self.readings.get(text, self.default)


def reading_taker(reader: ScriptedReader, probability: float = 0.95) -> TurnTaker:
    return TurnTaker(model=lambda audio: probability, text_model=reader, offload=False)


async def test_words_the_text_model_reads_as_unfinished_hold_the_turn_through_a_pause() -> None:
    spans = [(0.5, 1.5), (3.2, 3.8)]  # a 1.7 s pause the audio model hears as an end
    frames = timeline(
        caller_frames(7.0, spans),
        vad(spans),
        [partial(1.2, "Your message has"), final(1.8, "Your message has been successfully")],
        [partial(3.7, "forwarded"), final(4.1, "forwarded.")],
    )
    reader = ScriptedReader({"Your message has been successfully": 1e-4})
    result = await run_stages([reading_taker(reader)], frames)
    # the reply prepared on the partial at the stop is dropped unheard once the final text is read
    assert [i.reason for i in result.interrupts] == ["preemptive-discarded:text-incomplete"]
    assert [i.pts for i in result.interrupts] == [pytest.approx(1.8)]
    eot = turns(result.frames)[-1]
    assert eot.text == "Your message has been successfully forwarded"
    assert eot.pts == pytest.approx(4.0, abs=0.03)  # a fast end after the rest
    # only final texts are read (a partial lags the audio), each once
    assert [text for text, _ in reader.asked] == [
        "Your message has been successfully",
        "Your message has been successfully forwarded.",
    ]


async def test_without_the_text_model_the_same_pause_is_cut_into() -> None:
    spans = [(0.5, 1.5), (3.2, 3.8)]
    frames = timeline(
        caller_frames(7.0, spans),
        vad(spans),
        [final(1.8, "Your message has been successfully")],
        [final(4.1, "forwarded.")],
    )
    result = await run_stages([taker(0.95)], frames)
    assert 1.5 < turns(result.frames)[0].pts < 3.2


async def test_a_last_word_the_recognizer_is_unsure_of_waits_through_the_pause() -> None:
    spans = [(0.5, 1.5), (2.0, 3.0)]

    def heard(t: float, text: str, last: float) -> FinalTranscript:
        said = text.split()
        sure = [Word(text=w, start=0.5, end=1.5, probability=0.9) for w in said[:-1]]
        words = (*sure, Word(text=said[-1], start=1.2, end=1.5, probability=last))
        return FinalTranscript(pts=t, text=text, words=words)

    def run(last: float) -> list[Frame]:
        return timeline(
            caller_frames(6.0, spans),
            vad(spans),
            [heard(1.8, "Your message has been successful.", last)],
            [final(3.3, "forwarded.")],
        )

    def taken(frames: list[Frame]) -> list[EndOfTurn]:
        return [t for t in turns(frames) if not t.preemptive]

    cut = await run_stages([taker(0.95)], run(last=0.9))
    assert 1.5 < taken(cut.frames)[0].pts < 2.0  # a sure last word: the pause is taken as the end
    waited = await run_stages([taker(0.95)], run(last=0.3))
    (eot,) = taken(waited.frames)
    assert eot.pts > 3.0 and eot.text == "Your message has been successful. forwarded."


async def test_doubtful_words_wait_longer_and_keep_their_prepared_reply() -> None:
    frames = timeline(
        caller_frames(4.0, [(0.5, 1.5)]),
        vad([(0.5, 1.5)]),
        [final(1.8, "Please enter your conference")],
    )
    sink, chain = speaking_chain(reading_taker(ScriptedReader({"Please enter your conference": 0.005})))
    result = await run_stages(chain, frames)
    (turn,) = result.timelines
    opts = EndpointingOptions()
    assert 1.5 + opts.uncertain_delay < turn.end_of_turn < 1.5 + opts.max_delay
    assert result.interrupts == [] and sink.played_at  # the prepared reply was kept and played


async def test_the_text_model_reads_the_caller_after_the_bots_last_words() -> None:
    spans = [(0.5, 1.5), (4.5, 5.2)]
    frames = timeline(
        caller_frames(8.0, spans),
        vad(spans),
        [final(1.8, "I'd like to book a table.")],
        [final(5.5, "two people")],
    )
    reader = ScriptedReader({})
    sink, chain = speaking_chain(reading_taker(reader))
    result = await run_stages(chain, frames)
    assert len(result.timelines) == 2 and sink.played_at
    assert reader.asked == [("I'd like to book a table.", ""), ("two people", "Sure, one pizza.")]


@pytest.mark.parametrize("plays_audio", [True, False])
async def test_words_after_a_turn_whose_reply_never_played_are_read_as_its_continuation(
    plays_audio: bool,
) -> None:
    # the turn is taken at a pause inside it; the caller goes on before the reply plays
    spans = [(0.5, 1.5), (2.6, 3.6)]
    frames = timeline(
        caller_frames(7.0, spans),
        vad(spans),
        [partial(1.3, "Please enter your password"), final(1.8, "Please enter your password.")],
        [partial(3.0, "followed by the"), final(3.9, "followed by the pound key.")],
    )
    reader = ScriptedReader({"followed by the pound key.": 1e-4})

    def transport(ctx: SessionContext) -> None:
        if plays_audio:  # what a transport's playout sink says (none runs here)
            ctx.broadcast(SessionPlaysAudio())

    result = await run_stages([reading_taker(reader)], frames, actions={0.0: transport})
    stale = result.interrupts[0]
    assert stale.reason == "barge-in" and stale.pts == pytest.approx(3.0)  # the reply never played
    second = turns(result.frames)[-1]
    assert second.text == "followed by the pound key."  # the turn's own words (the LLM joins them)
    if plays_audio:
        assert [text for text, _ in reader.asked] == [
            "Please enter your password.",
            "Please enter your password. followed by the pound key.",
        ]
        assert second.pts < 4.2  # read alone, the words would have held the turn for max_delay
    else:  # a text reply was delivered when written: the new words are a turn of their own
        assert reader.asked[-1][0] == "followed by the pound key." and second.pts > 5.0


async def test_a_caller_who_went_on_after_an_early_end_gets_a_longer_wait() -> None:
    # two sentences, each with a short pause after words that sound finished ("..., | and ...")
    spans = [(0.5, 1.5), (2.1, 3.0), (6.0, 7.0), (7.4, 8.3)]
    frames = timeline(
        caller_frames(11.0, spans),
        vad(spans),
        [final(1.8, "Please enter your password.")],
        [partial(2.5, "followed by the"), final(3.3, "followed by the pound key.")],
        [final(7.3, "I'd like to change my pin.")],
        [partial(7.9, "if that is possible"), final(8.6, "if that is possible.")],
    )

    def reply(ctx: SessionContext) -> None:  # the bot answers between the two sentences
        ctx.broadcast(BotSpeechStarted(pts=4.0, response_id="r1"))
        ctx.broadcast(BotSpeechEnded(response_id="r1", heard_text="Thanks."))

    turn = reading_taker(ScriptedReader({}))
    result = await run_stages([turn], frames, actions={0.0: plays_audio, 4.0: reply})
    taken = [t.end_of_turn for t in result.timelines if t.end_of_turn is not None]
    assert 1.5 < taken[0] < 2.1  # the first pause is taken as the end ...
    assert turn.stats.early_end == 1  # ... and the caller went on
    opts = EndpointingOptions()
    assert [t for t in taken if 7.0 < t < 7.4] == []  # the same kind of pause later is waited out
    assert taken[-1] == pytest.approx(8.3 + opts.min_delay + opts.patience_step, abs=0.05)


async def test_asking_again_while_the_reply_is_slow_is_not_an_early_end() -> None:
    spans = [(0.5, 1.5), (4.0, 5.0)]  # the caller speaks again 2 s after the turn was taken
    frames = timeline(
        caller_frames(7.0, spans),
        vad(spans),
        [final(1.8, "What time do you close?")],
        [partial(4.5, "hello are you"), final(5.3, "Hello, are you there?")],
    )
    reader = ScriptedReader({})
    turn = reading_taker(reader)
    result = await run_stages([turn], frames, actions={0.0: plays_audio})
    assert [i.reason for i in result.interrupts][:1] == ["barge-in"]  # the reply that never came
    assert turn.stats.early_end == 0  # not a pause inside the turn: the quick wait stays
    assert reader.asked[-1][0] == "What time do you close? Hello, are you there?"


async def test_a_one_word_turn_is_not_given_to_the_text_model() -> None:
    frames = timeline(caller_frames(3.0, [(0.5, 1.0)]), vad([(0.5, 1.0)]), [final(1.3, "Thanks.")])
    reader = ScriptedReader({}, default=1e-5)
    result = await run_stages([reading_taker(reader)], frames)
    (eot,) = turns(result.frames)
    assert reader.asked == [] and eot.pts < 1.5


async def test_in_real_time_the_turn_waits_for_the_text_models_verdict_on_the_final_text() -> None:
    """With the models in a worker thread, the quick deadline passing while the text model reads
    the final transcript does not take the turn without its verdict (it did, by a race, before the
    decisions were serialized): the unfinished-sounding words hold the turn."""

    def slow_reader(text: str, bot_said: str) -> float:
        time.sleep(0.2)  # the deadline (0.15 s after the stop) passes meanwhile
        return 1e-4

    spans = [(0.2, 1.0)]
    frames = timeline(
        caller_frames(2.2, spans), vad(spans, delay=0.02), [final(1.1, "The meeting moved to the afternoon.")]
    )
    options = TurnOptions(endpointing=EndpointingOptions(uncertain_delay=0.6, max_delay=1.0))
    turn = TurnTaker(options, model=lambda audio: 0.95, text_model=slow_reader, offload=True)
    result = await run_stages([turn], frames, tail=0.5, clock=RealClock())
    (end,) = turns(result.frames)
    assert end.reason == "text:unfinished" and end.pts == pytest.approx(2.0, abs=0.15)
