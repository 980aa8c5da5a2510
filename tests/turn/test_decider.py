"""The turn decider as plain function calls: events in, actions out, no event loop, no clock."""

from __future__ import annotations

import numpy as np

from cascade.frames import (
    BotAudioPlayed,
    BotSpeechEnded,
    BotSpeechStarted,
    FinalTranscript,
    Interrupt,
    PartialTranscript,
    SessionPlaysAudio,
    SpeechStarted,
    SpeechStopped,
    UserAudioFrame,
)
from cascade.turn import actions as act
from cascade.turn.decider import PAUSE_HOLD, SPECULATIVE_HOLD, Tick, TurnDecider
from cascade.turn.options import TurnOptions

RATE = 16000


def caller_audio(t0: float, t1: float, *, loud: bool) -> list[UserAudioFrame]:
    """20 ms frames of a steady tone (``loud``) or near silence between ``t0`` and ``t1``."""
    n = RATE // 50
    tone = (0.3 if loud else 0.0001) * np.sin(2 * np.pi * 220 * np.arange(n) / RATE)
    pcm = (tone * 32767).astype(np.int16).tobytes()
    return [UserAudioFrame(pts=t0 + i * 0.02, pcm=pcm) for i in range(round((t1 - t0) / 0.02))]


def run_until(decider: TurnDecider, until: float) -> list[act.Action]:
    """What the stage's timer would do: tick at each deadline up to ``until``."""
    out: list[act.Action] = []
    while (deadline := decider.next_deadline()) is not None and deadline <= until:
        out += decider.decide(Tick(), now=deadline)
    return out


def bot_speaking(decider: TurnDecider, response_id: str = "r1", *, text: str = "") -> None:
    decider.decide(SessionPlaysAudio(), now=0.0)
    decider.decide(BotSpeechStarted(pts=0.0, response_id=response_id), now=0.0)
    if text:
        decider.decide(BotAudioPlayed(pts=0.0, response_id=response_id, duration=0.5, text=text), now=0.5)


def test_a_likely_end_starts_the_reply_early_and_the_final_text_confirms_it() -> None:
    decider = TurnDecider(turn_model=lambda audio: 0.97)  # the voice sounds finished
    decider.decide(SpeechStarted(pts=0.2), now=0.2)
    for frame in caller_audio(0.2, 1.2, loud=True):
        decider.decide(frame, now=frame.end)
    decider.decide(PartialTranscript(pts=1.0, text="What time do you open"), now=1.0)
    assert decider.decide(SpeechStopped(pts=1.2), now=1.4) == []
    early = run_until(decider, 1.4)  # the reply starts on the partial text, its audio held
    assert early[:3] == [
        act.Mark("user_speech_end", 1.2),
        act.Hold(SPECULATIVE_HOLD),
        act.EndTurn("What time do you open", 0.97, "audio:complete", preemptive=True),
    ]
    confirmed = decider.decide(FinalTranscript(pts=1.5, text="What time do you open?"), now=1.5)
    assert act.Release(SPECULATIVE_HOLD) in confirmed and not any(
        isinstance(a, act.EndTurn) for a in confirmed
    )
    assert decider.stats.preemptive == 1 and decider.stats.preemptive_wasted == 0


def test_a_caller_who_goes_on_takes_the_early_reply_back() -> None:
    decider = TurnDecider(turn_model=lambda audio: 0.97)
    decider.decide(SpeechStarted(pts=0.2), now=0.2)
    for frame in caller_audio(0.2, 1.2, loud=True):
        decider.decide(frame, now=frame.end)
    decider.decide(PartialTranscript(pts=1.0, text="I would like a table"), now=1.0)
    decider.decide(SpeechStopped(pts=1.2), now=1.4)
    assert any(isinstance(a, act.EndTurn) and a.preemptive for a in run_until(decider, 1.4))
    went_on = decider.decide(SpeechStarted(pts=1.6), now=1.6)
    assert went_on == [act.CountWasted(), act.Interrupt("preemptive-discarded:caller-continued")]
    assert decider.holds == set()  # the interrupt dropped the speculative hold


def test_words_over_the_bot_interrupt_but_a_backchannel_only_pauses_it() -> None:
    decider = TurnDecider()
    bot_speaking(decider)
    decider.decide(SpeechStarted(pts=1.0), now=1.0)
    paused = [a for f in caller_audio(1.0, 1.2, loud=True) for a in decider.decide(f, now=f.end)]
    # the bot yields while the sound is judged: quieter first, silent if it goes on
    soft = TurnOptions().interruption
    assert paused == [act.Hold(PAUSE_HOLD, duck_db=soft.duck_db, duck_for=soft.duck_for)]
    assert decider.decide(PartialTranscript(pts=1.3, text="mm-hmm"), now=1.3) == []
    decider.decide(SpeechStopped(pts=1.3), now=1.5)
    go_on = decider.decide(FinalTranscript(pts=1.6, text="Mm-hmm."), now=1.6)
    assert go_on == [act.Release(PAUSE_HOLD)] and decider.stats.pause_resumed == 1

    decider.decide(SpeechStarted(pts=3.0), now=3.0)
    stop = decider.decide(PartialTranscript(pts=3.4, text="wait, stop"), now=3.4)
    assert stop == [act.Interrupt("barge-in")] and decider.stats.barge_in == 1


def test_the_bots_own_words_echoed_back_do_not_interrupt() -> None:
    decider = TurnDecider()
    bot_speaking(decider, text="Our opening hours are nine to five ")
    decider.decide(SpeechStarted(pts=0.6), now=0.6)  # the VAD hears the echo as speech
    assert decider.decide(PartialTranscript(pts=0.9, text="opening hours are nine"), now=0.9) == []
    assert decider.stats.barge_in == 0


def test_a_false_interruption_says_the_rest_the_caller_did_not_hear() -> None:
    decider = TurnDecider()
    bot_speaking(decider)
    decider.decide(SpeechStarted(pts=1.0), now=1.0)
    actions = [a for f in caller_audio(1.0, 2.2, loud=True) for a in decider.decide(f, now=f.end)]
    assert actions[-1] == act.Interrupt("barge-in")  # long enough to take the floor...
    decider.decide(
        BotSpeechEnded(pts=1.9, response_id="r1", heard_text="It is", interrupted=True, unheard_text="nine."),
        now=1.9,
    )
    decider.decide(SpeechStopped(pts=2.2), now=2.4)
    resumed = run_until(decider, 5.0)  # ...but no words came: a cough
    assert resumed == [act.Say("nine.", "r1-resume")]
    assert decider.stats.false_interruption == 1 and decider.stats.resumed == 1


def test_an_interrupt_from_elsewhere_drops_the_holds_taken() -> None:
    decider = TurnDecider(TurnOptions())
    bot_speaking(decider)
    decider.decide(SpeechStarted(pts=1.0), now=1.0)
    for frame in caller_audio(1.0, 1.1, loud=True):
        decider.decide(frame, now=frame.end)
    assert decider.holds == {PAUSE_HOLD}
    decider.decide(Interrupt(pts=1.2, generation=1, reason="hang-up"), now=1.2)
    assert decider.holds == set()
