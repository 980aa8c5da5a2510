"""Transcript cues, the endpointing rule, Whisper features and Smart Turn preparation errors."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from cascade.audio import FLOOR_DB, envelope_db
from cascade.frames import BotAudioPlayed
from cascade.turn.cues import is_backchannel, transcript_cues
from cascade.turn.echo import EchoGate, is_echo_text
from cascade.turn.endpoint import decide, unfinished_below
from cascade.turn.features import N_MELS, NUM_FRAMES, SAMPLE_RATE, log_mel, mel_filterbank
from cascade.turn.heard import BotPlayback
from cascade.turn.options import EndpointingOptions, TurnOptions
from cascade.turn.smart_turn import (
    LICENSE_MEMBER,
    WHEEL_MEMBER,
    SmartTurnDetector,
    SmartTurnError,
    SmartTurnOptions,
    extract_from_wheel,
)


@pytest.mark.parametrize(
    ("text", "state", "reason"),
    [
        ("I want to go to the", "incomplete", "trailing_word"),
        ("so I was thinking, um", "incomplete", "trailing_word"),
        ("I'd like a pizza and", "incomplete", "trailing_word"),
        ("My number is 555 123", "incomplete", "phone_number"),
        ("my phone number is five five five one two", "incomplete", "phone_number"),
        ("My number is 555 123 4567.", "complete", "dictation_complete"),
        ("you can call me at 555 1234", "unknown", ""),  # a whole local number
        ("my number is 555 123 45", "incomplete", "phone_number"),
        ("My account number is", "incomplete", "value_announced"),
        ("and the code is.", "incomplete", "value_announced"),
        ("my email is john at", "incomplete", "email"),
        ("my email is john dot miller at gmail", "incomplete", "email"),
        ("my email is john at gmail dot com", "complete", "dictation_complete"),
        ("send it to anna underscore lee at", "incomplete", "email"),
        # the address begun, its "at" not heard (or glued: "millerat"), no domain yet
        ("My email is... john .millerat", "incomplete", "email"),
        ("Send it to. Anna underscore leet", "incomplete", "email"),
        ("send it to anna_lee", "incomplete", "email"),
        ("I want to update my email address.", "unknown", ""),
        ("It is spelled K O W", "incomplete", "spelling"),
        ("that's j-o-h", "incomplete", "spelling"),
        ("It comes to two hundred and", "incomplete", "unfinished_number"),
        ("four point", "incomplete", "unfinished_number"),
        ("Can you help me?", "complete", "question"),
        ("I would like a pizza.", "unknown", ""),
        ("", "unknown", ""),
    ],
)
def test_transcript_cues(text: str, state: str, reason: str) -> None:
    cue = transcript_cues(text)
    assert (cue.state, cue.reason) == (state, reason)


@pytest.mark.parametrize("text", ["If this is correct,", "Please wait while I connect...", "It came to 200-"])
def test_cut_marks_count_on_final_text_only(text: str) -> None:
    assert transcript_cues(text, final=True).reason == "trailing_punctuation"
    assert transcript_cues(text, final=False).state == "unknown"


@pytest.mark.parametrize(
    "text", ["My phone number.", "You can call me at my cell", "my email", "My last name is spelled."]
)
def test_a_dictation_is_announced(text: str) -> None:
    assert transcript_cues(text, final=True).state == "incomplete"


@pytest.mark.parametrize(
    "text",
    ["mm-hmm", "Mm-hmm.", "yeah", "Yeah, right.", "okay I see", "uh-huh", "Got it.", "Write, write.", "Mom."],
)
def test_backchannels(text: str) -> None:
    assert is_backchannel(text)


@pytest.mark.parametrize(
    "text", ["wait, stop", "no", "yeah but what about Sunday", "", "hold on", "write it down"]
)
def test_not_backchannels(text: str) -> None:
    assert not is_backchannel(text)


def test_endpoint_rule_orders_the_waits() -> None:
    opts = EndpointingOptions(doubtful_max_delay=1.6)  # doubt bounded below the dictation wait
    unknown = transcript_cues("I would like a pizza.")
    trailing = transcript_cues("I would like a pizza and")
    phone = transcript_cues("my number is 555")
    assert decide(0.9, unknown, opts).delay == opts.min_delay
    assert decide(0.95, trailing, opts).delay == opts.min_delay  # the audio is sure; ASR lags
    assert decide(0.6, trailing, opts).delay == opts.max_delay
    assert decide(0.99, phone, opts).delay == opts.max_delay  # dictation is never overruled
    low, lower = decide(0.4, unknown, opts).delay, decide(0.05, unknown, opts).delay
    # the audio doubts the end: a bounded wait, the reply prepared meanwhile
    assert opts.uncertain_delay < low < lower <= opts.doubt_bound < opts.max_delay
    assert decide(0.05, unknown, opts).may_be_over
    assert decide(None, unknown, opts).delay == opts.uncertain_delay
    final_trailing = transcript_cues("I would like a pizza and", final=True)
    assert decide(0.95, final_trailing, opts).delay == opts.max_delay  # final text is not lagging
    final_weak = transcript_cues("more respectable than he was", final=True)
    assert final_weak.reason == "trailing_word_weak"
    # the audio is sure, but "than he was" may go on: a longer silence, still a likely end
    decision = decide(0.95, final_weak, opts)
    assert decision.delay == opts.uncertain_delay and decision.may_be_over
    # a less confident audio model: the longest wait in doubt, never the wait for dictation
    assert decide(0.6, final_weak, opts).delay == opts.doubt_bound
    no_cues = EndpointingOptions(use_transcript_cues=False)
    assert decide(0.6, trailing, no_cues).delay == no_cues.min_delay


def test_the_text_model_reading_of_the_final_text_lengthens_the_wait() -> None:
    opts = EndpointingOptions(doubtful_max_delay=1.6)
    cut = transcript_cues("Your message has been successfully", final=True)
    assert cut.state != "incomplete"  # no rule-based cue catches it
    assert decide(0.95, cut, opts).delay == opts.min_delay
    clearly = decide(0.95, cut, opts, text_probability=1e-4)
    assert clearly.delay == opts.max_delay and clearly.reason == "text:unfinished"
    assert not clearly.may_be_over
    low, high = unfinished_below(opts), opts.doubtful_text_probability
    doubtful = decide(0.95, cut, opts, text_probability=(low * high) ** 0.5)
    assert opts.uncertain_delay < doubtful.delay < opts.doubt_bound and doubtful.may_be_over
    # the less likely the text model finds an end, the longer the wait, within the doubt bound
    probabilities = (low * 1.05, (low * high) ** 0.5, high * 0.95)
    waits = [decide(0.95, cut, opts, text_probability=tp).delay for tp in probabilities]
    assert opts.doubt_bound > waits[0] > waits[1] > waits[2] > opts.uncertain_delay
    assert decide(0.95, cut, opts, text_probability=0.2).delay == opts.min_delay
    assert decide(None, cut, opts, text_probability=1e-4).delay == opts.max_delay
    # a garbled question the audio model doubts: no short wait for its question mark
    question = transcript_cues("Could you tell me whether that?", final=True)
    assert decide(0.3, question, opts).reason == "cue:question"
    assert decide(0.3, question, opts, text_probability=0.005).reason == "text:doubtful"
    # audio and text both doubt the end: the wait is the longer of the two, never shorter
    # than the doubtful text alone asks when the audio hears an end ("Press 7 to delete.")
    for p, tp in ((0.36, 0.0047), (0.1, 0.02), (0.45, 0.029)):
        both = decide(p, cut, opts, text_probability=tp)
        text_alone = decide(0.95, cut, opts, text_probability=tp).delay
        assert both.delay == max(decide(p, cut, opts).delay, text_alone)
        assert both.may_be_over  # in doubt, not clearly unfinished: its reply is prepared
    assert decide(0.1, cut, opts, text_probability=0.02).reason == "audio:incomplete"
    # a question mark on audio that clearly goes on is the recognizer's guess ("he might have been made?")
    mid_sentence = transcript_cues("he might have been made?", final=True)
    assert decide(0.09, mid_sentence, opts).reason == "audio:incomplete"
    # the recognizer unsure of the last word: a likely end after a longer silence
    unsure = decide(0.95, cut, opts, text_probability=0.2, last_word_probability=0.3)
    assert unsure.reason == "asr:unsure_last_word" and unsure.delay == opts.uncertain_delay
    assert unsure.may_be_over
    assert decide(0.95, cut, opts, text_probability=0.2, last_word_probability=0.8).delay == opts.min_delay
    no_cues = EndpointingOptions(use_transcript_cues=False)
    assert decide(0.95, cut, no_cues, last_word_probability=0.3).delay == no_cues.min_delay
    # dictation cues still come first
    phone = transcript_cues("my number is 555", final=True)
    assert decide(0.99, phone, opts, text_probability=0.5).delay == opts.max_delay


def test_options_reject_inconsistent_delays() -> None:
    with pytest.raises(ValueError, match="min_delay"):
        EndpointingOptions(min_delay=2.0, uncertain_delay=1.0)
    with pytest.raises(ValueError, match="unfinished_text_probability"):
        EndpointingOptions(unfinished_text_probability=0.1, doubtful_text_probability=0.01)
    with pytest.raises(ValueError):
        TurnOptions(buffer_seconds=2.0)


def test_features_shape_padding_and_truncation() -> None:
    rng = np.random.default_rng(0)
    speech = (rng.standard_normal(3 * SAMPLE_RATE) * 0.1).astype(np.float32)
    feats = log_mel(speech)
    assert feats.shape == (N_MELS, NUM_FRAMES) and feats.dtype == np.float32
    assert np.allclose(feats, log_mel(np.concatenate([np.zeros(SAMPLE_RATE, np.float32), speech])))
    long = (rng.standard_normal(10 * SAMPLE_RATE) * 0.1).astype(np.float32)
    assert np.array_equal(log_mel(long), log_mel(long[-8 * SAMPLE_RATE :]))
    assert feats.max() - feats.min() <= 2.0 + 1e-6  # clamped at max - 8 (in log10), scaled by 1/4


def test_features_put_a_tone_in_the_right_mel_band() -> None:
    t = np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE
    feats = log_mel((0.3 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32))
    band = int(np.argmax(feats[:, -200:-10].mean(axis=1)))
    weights = mel_filterbank()
    centre = float(np.argmax(weights[band])) * SAMPLE_RATE / 400
    assert abs(centre - 1000) < 100
    assert np.all(weights >= 0) and weights.shape == (N_MELS, 201)


def test_echo_text_and_envelopes() -> None:
    assert is_echo_text("opening hours are nine", "Our opening hours are nine to five.")
    assert not is_echo_text("what about sunday", "Our opening hours are nine to five.")
    assert not is_echo_text("anything", "")
    rng = np.random.default_rng(1)
    played = envelope_db(
        (rng.standard_normal(16000) * np.repeat(rng.random(50), 320)).astype(np.float32), 16000
    )
    gate = EchoGate(correlation=0.75)
    echo = np.concatenate([np.full(3, -80.0), played[:-3]]) - 12.0  # 60 ms later, 12 dB quieter
    assert gate.classify(echo[10:40].astype(np.float32), played[:40]) == "echo"
    assert gate.loss_db is not None and abs(gate.loss_db + 12.0) < 1.0
    talk = echo.copy()
    talk[30:40] += 20.0
    assert gate.classify(talk[10:40].astype(np.float32), played[:40]) == "caller"
    silent = np.concatenate([played[:20], np.full(20, -80.0)]).astype(np.float32)
    # nothing played lately can echo, whatever the shapes say
    assert gate.classify(echo[10:40].astype(np.float32), silent) == "caller"


def test_the_played_envelope_is_what_the_sink_reported_on_the_session_timeline() -> None:
    rate = 16000
    ramp = np.concatenate([np.full(rate // 50, 0.001 * 1.3**i, np.float32) for i in range(20)])
    full = envelope_db(ramp, rate)
    playback = BotPlayback()
    # 0.1 s played from 1.0, held for 0.2 s, then the rest from 1.3
    playback.played(
        BotAudioPlayed(pts=1.0, response_id="r", duration=0.1, text="one ", envelope=tuple(full[:5]))
    )
    playback.played(
        BotAudioPlayed(pts=1.3, response_id="r", duration=0.3, text="two", envelope=tuple(full[5:]))
    )
    env = playback.envelope(1.0, 1.6)
    np.testing.assert_allclose(env[:5], full[:5], atol=1e-3)
    assert (env[5:15] == FLOOR_DB).all()
    np.testing.assert_allclose(env[15:30], full[5:20], atol=1e-3)
    assert (playback.envelope(1.6, 2.0) == FLOOR_DB).all()
    assert playback.played_text("r") == "one two" and playback.played_text("other") == ""


def _wheel(path: Path, model: bytes | None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        if model is not None:
            zf.writestr(WHEEL_MEMBER, model)
        zf.writestr(LICENSE_MEMBER, "BSD 2-Clause License\n")
    return path


def test_extract_rejects_a_wheel_without_the_model(tmp_path: Path) -> None:
    with pytest.raises(SmartTurnError, match=r"pip download pipecat-ai==1\.14\.0"):
        extract_from_wheel(_wheel(tmp_path / "x.whl", None), tmp_path / "out")


def test_extract_rejects_a_model_with_the_wrong_hash(tmp_path: Path) -> None:
    with pytest.raises(SmartTurnError, match="sha256"):
        extract_from_wheel(_wheel(tmp_path / "x.whl", b"not the model"), tmp_path / "out")
    assert not any((tmp_path / "out").iterdir())


def test_missing_model_path_is_a_clear_error(tmp_path: Path) -> None:
    detector = SmartTurnDetector(SmartTurnOptions(model_path=tmp_path / "nope.onnx"))
    with pytest.raises(SmartTurnError, match="does not exist"):
        detector.load()
