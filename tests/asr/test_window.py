"""Short encoder windows: the window rules, and the same words as a 30 s decode on recordings."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from cascade.asr import WhisperEngine
from cascade.asr.agreement import normalize
from cascade.asr.window import (
    FULL_FRAMES,
    WindowDone,
    frames_for,
    install,
    looks_looped,
    max_tokens,
    window_frames,
)
from cascade.audio import load_audio
from tests.asr.speech import LONG, PHONE_2, SHORT, speech


def test_window_holds_the_audio_and_a_margin_but_never_less_than_the_minimum() -> None:
    assert frames_for(2.0, 10.0) == 1000
    assert frames_for(12.3, 10.0) == 1330  # 12.3 s of audio + 1 s of padding
    assert frames_for(29.5, 10.0) == FULL_FRAMES
    assert frames_for(2.0, None) == FULL_FRAMES


def test_generation_budget_grows_with_the_audio() -> None:
    assert max_tokens(1.0) < max_tokens(5.0) < max_tokens(20.0) <= 448
    assert max_tokens(3.0) > 3 * 6  # far more than anyone says in 3 s


def test_repetition_loops_are_recognized() -> None:
    assert looks_looped("seven or nine to decrease. " * 8, 3.0)
    assert looks_looped("c " * 40, 1.4)
    assert not looks_looped("Please press 1 to mute or unmute yourself.", 3.0)
    assert not looks_looped("", 1.0)


class _Encoder:
    """Records the feature shapes its ``encode`` receives."""

    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []

    def encode(self, features: Any) -> str:
        self.shapes.append(features.shape)
        return "encoded"


def test_installed_encode_cuts_features_to_the_window_inside_the_block_only() -> None:
    model = _Encoder()
    install(model)
    install(model)  # twice is harmless
    features = np.zeros((1, 80, FULL_FRAMES), np.float32)
    assert model.encode(features) == "encoded"
    with window_frames(1000):
        model.encode(features)
        model.encode(features)  # more windows are allowed without single
    with window_frames(800, single=True):
        model.encode(features)
        with pytest.raises(WindowDone):
            model.encode(features)
    model.encode(features)
    assert [s[-1] for s in model.shapes] == [3000, 1000, 1000, 800, 3000]


@pytest.mark.integration
@pytest.mark.parametrize("path", [SHORT, LONG, PHONE_2])
def test_short_window_recognizes_the_same_words(tiny_engine: WhisperEngine, path: Any) -> None:
    audio = load_audio(speech(path), 16000)
    short = tiny_engine.transcribe(audio, offset=2.0)
    full = tiny_engine.transcribe(audio, offset=2.0, full_window=True)
    assert [normalize(w) for w in short.text.split()] == [normalize(w) for w in full.text.split()]
    assert short.words and all(2.0 <= w.start <= w.end <= 2.0 + len(audio) / 16000 + 0.5 for w in short.words)
    assert 0.0 < short.confidence <= 1.0


@pytest.mark.integration
def test_trailing_silence_adds_no_words(tiny_engine: WhisperEngine) -> None:
    audio = load_audio(speech(SHORT), 16000)
    padded = np.concatenate([audio, np.zeros(16000 * 3, np.int16)])
    assert tiny_engine.transcribe(padded).text == tiny_engine.transcribe(audio).text


def _segment(text: str, start: float, end: float) -> SimpleNamespace:
    """A faster-whisper segment whose words share ``start`` .. ``end`` evenly."""
    tokens = text.split()
    step = (end - start) / len(tokens)
    words = [
        SimpleNamespace(word=" " + w, start=start + i * step, end=start + (i + 1) * step, probability=0.9)
        for i, w in enumerate(tokens)
    ]
    return SimpleNamespace(text=text, words=words, avg_logprob=-0.2, tokens=[0] * len(words))


PHRASE = "press five to change your password"


@pytest.mark.parametrize(
    ("looped", "redone"),
    [
        # the loop follows the audio's last words, squeezed at its end: dropped, nothing redone
        ([_segment(PHRASE, 0.0, 4.6), _segment(" ".join([PHRASE] * 5), 4.6, 5.0)], False),
        # the loop took the place of the audio's last 3 s: decoded again with 30 s
        ([_segment(" ".join([PHRASE] * 6), 0.0, 2.0)], True),
    ],
)
def test_a_looped_short_window_decode_is_redone_when_its_loop_hid_the_end(
    tiny_engine: WhisperEngine, monkeypatch: pytest.MonkeyPatch, looped: list[Any], redone: bool
) -> None:
    windows: list[int] = []

    def scripted_run(samples: Any, prompt: Any, frames: int, single: bool) -> tuple[list[Any], str, bool]:
        windows.append(frames)
        if frames == FULL_FRAMES:
            return [_segment(PHRASE + " press star to return", 0.0, 5.0)], "en", False
        return looped, "en", False

    monkeypatch.setattr(tiny_engine, "_run", scripted_run)
    result = tiny_engine.transcribe(np.zeros(16000 * 5, np.int16))
    assert windows == ([frames_for(5.0, 10.0), FULL_FRAMES] if redone else [frames_for(5.0, 10.0)])
    assert result.text == (PHRASE + " press star to return" if redone else PHRASE)


@pytest.mark.parametrize("cut", [True, False])
def test_a_decode_whose_text_ended_early_has_the_rest_decoded(
    tiny_engine: WhisperEngine, monkeypatch: pytest.MonkeyPatch, cut: bool
) -> None:
    calls: list[tuple[float, str | None]] = []

    def scripted_run(samples: Any, prompt: Any, frames: int, single: bool) -> tuple[list[Any], str, bool]:
        calls.append((len(samples) / 16000, prompt))
        if len(calls) == 1:  # Whisper ended its text at 2 s; faster-whisper wanted a next window
            return [_segment("press four to record", 0.0, 2.0)], "en", cut
        return [_segment("press five to change", 0.5, 2.5)], "en", False

    monkeypatch.setattr(tiny_engine, "_run", scripted_run)
    result = tiny_engine.transcribe(np.zeros(16000 * 5, np.int16), offset=10.0, prompt="press three")
    if not cut:  # the text ended where the speech did: nothing more to decode
        assert result.text == "press four to record" and len(calls) == 1
        return
    assert result.text == "press four to record press five to change"
    assert calls[1] == (pytest.approx(3.0), "press three press four to record")
    assert result.words[4].start == pytest.approx(12.5) and result.audio_end == pytest.approx(15.0)
