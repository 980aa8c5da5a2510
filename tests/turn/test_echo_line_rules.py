"""Echo as a real phone line returns it: misrecognized, drifting in delay, played in jittered chunks.

(The line itself -- SIPp echoing the bridge's G.711 through a delaying, attenuating relay -- is
tested in ``tests/sip/test_echo_line.py``; these are the rules it showed were needed.)
"""

from __future__ import annotations

import numpy as np
import pytest

from cascade.audio import FLOOR_DB, envelope_db
from cascade.frames import BotAudioPlayed, PartialTranscript, UserAudioFrame
from cascade.turn import TurnOptions
from cascade.turn.caller import CallerAudio
from cascade.turn.echo import EchoGate, is_echo_text
from cascade.turn.heard import BotPlayback
from cascade.turn.overlap import BargeIn

GREETING = (
    "Thanks for calling the Harbour Bakery. We open at nine in the morning and close at six in "
    "the evening, Monday to Friday."
)


@pytest.mark.parametrize(
    "heard",
    [
        "Thanks for coming.",  # "calling" misheard
        "We open it.",
        "we set 6 in the evening.",  # digits for the words said
        "Thanks for calling the Harbor Bake.",  # spelled otherwise, cut short
    ],
)
def test_the_bots_words_misrecognized_on_the_line_are_still_its_echo(heard: str) -> None:
    assert is_echo_text(heard, GREETING)


@pytest.mark.parametrize(
    "heard",
    [
        "Please enter the number you wish to call.",
        "No, not at nine, at ten.",
        "Stop.",
        "Do you open on Sundays?",
    ],
)
def test_the_caller_reusing_a_few_of_the_bots_words_is_not_its_echo(heard: str) -> None:
    assert not is_echo_text(heard, GREETING)


def played_and_echo(delay_hops: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A speech-like played envelope and its echo ``delay_hops`` later, 8 dB quieter."""
    rng = np.random.default_rng(seed)
    played = envelope_db(
        (rng.standard_normal(32000) * np.repeat(rng.random(100), 320)).astype(np.float32), 16000
    )
    echo = np.concatenate([np.full(delay_hops, FLOOR_DB), played[:-delay_hops]]) - 8.0
    return played.astype(np.float32), echo.astype(np.float32)


def test_a_drifting_echo_delay_is_still_echo_and_a_stray_match_does_not_move_it() -> None:
    gate = EchoGate(correlation=0.75)
    played, echo = played_and_echo(6)
    for end in range(60, 80):  # learn the path: 6 hops, -8 dB
        assert gate.classify(echo[end - 30 : end], played[end - 55 : end]) == "echo"
    assert gate.lag == 6 and gate.loss_db is not None and abs(gate.loss_db + 8.0) < 1.0
    # the bot pauses between sentences; when it goes on, the jitter buffer has re-synced and
    # delivers the echo two hops sooner: its onset is explained, not the caller's
    played[80:90] = FLOOR_DB
    sooner = np.concatenate([np.full(4, FLOOR_DB), played[:-4]]).astype(np.float32) - 8.0
    echo = np.concatenate([echo[:84], sooner[84:]])
    for end in range(86, 100):
        assert gate.classify(echo[end - 30 : end], played[end - 55 : end]) != "caller", end
    assert gate.lag in (4, 5, 6)


def test_a_stray_match_at_another_delay_does_not_move_the_one_learned() -> None:
    gate = EchoGate(correlation=0.75)
    played, echo = played_and_echo(6)
    for end in range(60, 66):
        assert gate.classify(echo[end - 30 : end], played[end - 55 : end]) == "echo"
    _, stray = played_and_echo(1)  # speech envelopes also match at a wrong delay now and then
    assert gate.classify(stray[36:66], played[11:66]) == "echo"
    assert gate.lag == 6


def test_the_echo_path_is_not_learned_while_the_caller_talks_nor_from_a_louder_copy() -> None:
    played, echo = played_and_echo(6)
    gate = EchoGate(correlation=0.75)
    # double talk before any echo was learned: the caller, and nothing learned
    assert gate.classify(echo[10:40], played[:40], learn=False) == "caller" and gate.loss_db is None
    # the same shape 12 dB louder than what was played is no echo
    assert gate.classify(echo[10:40] + 20.0, played[:40]) == "caller" and gate.loss_db is None


def test_chunks_played_a_little_early_or_late_leave_no_hole_in_the_played_envelope() -> None:
    playback = BotPlayback()
    for i, jitter in enumerate([0.0, 0.009, -0.009, 0.011, 0.0, -0.011, 0.009, 0.0]):
        playback.played(
            BotAudioPlayed(pts=1.0 + 0.02 * i + jitter, response_id="r", duration=0.02, envelope=(-20.0,))
        )
    assert playback.envelope(1.0, 1.16).tolist() == [-20.0] * 8


def test_words_heard_while_every_frame_was_the_bots_echo_do_not_interrupt() -> None:
    """The recognizer turns the echo into words that are not quite the bot's; when the audio of
    the overlap was all echo, they are the bot's words misheard, not the caller's."""
    barge_in = BargeIn(TurnOptions())
    playback = BotPlayback()
    playback.plays_audio = True
    playback.played(BotAudioPlayed(pts=0.0, response_id="r", duration=1.0, text="Our hours "))
    barge_in.open(0.5, "r")
    text = PartialTranscript(pts=1.0, text="What about Sundays?")
    assert not barge_in.read(text, playback)
    # once a frame was the caller's own voice, the same words interrupt
    audio = CallerAudio(10.0)
    frame = UserAudioFrame(pts=1.0, pcm=(np.full(320, 8000, np.int16)).tobytes(), sample_rate=16000)
    audio.add(frame)
    assert barge_in.hear(frame, audio, playback) == "speech"
    assert barge_in.read(text, playback)
