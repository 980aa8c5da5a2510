"""Silero VAD: the segmenter's rules, and start/stop events on recorded speech (virtual time)."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from cascade.audio import load_audio
from cascade.frames import SpeechOnset, SpeechProbabilities, SpeechStarted, SpeechStopped, UserAudioFrame
from cascade.testing import run_stages
from cascade.vad import SileroModel, SileroVAD, SpeechSegmenter, StreamingVAD, VADModelError, VADOptions
from tests.asr.speech import LONG, PHONE, SHORT, speech


def frames(audio: np.ndarray, rate: int, ms: int = 20) -> list[UserAudioFrame]:
    """Caller frames of ``ms`` milliseconds, timed from 0."""
    n = rate * ms // 1000
    return [
        UserAudioFrame(pts=i / rate, pcm=audio[i : i + n].tobytes(), sample_rate=rate)
        for i in range(0, len(audio) - n + 1, n)
    ]


def padded(path: str, rate: int, lead: float = 0.5, tail: float = 1.0) -> np.ndarray:
    audio = load_audio(path, rate)
    return np.concatenate([np.zeros(int(lead * rate), np.int16), audio, np.zeros(int(tail * rate), np.int16)])


def events(result_frames: list) -> list:
    return [f for f in result_frames if isinstance(f, SpeechStarted | SpeechStopped)]


# --- the state machine -------------------------------------------------------------------------


def feed(
    segmenter: SpeechSegmenter,
    probs: list[float],
    window: float = 0.032,
    kinds: tuple[str, ...] = ("start", "stop"),
) -> list:
    out = []
    for i, p in enumerate(probs):
        event = segmenter.push(i * window, (i + 1) * window, p)
        if event is not None and event.what in kinds:
            out.append(event)
    return out


def test_segmenter_announces_a_pause_then_its_stop_or_the_speech_going_on() -> None:
    opts = VADOptions(min_speech=0.0, min_silence=0.2, pause_silence=0.1, speech_pad=0.0)
    every = ("start", "stop", "pause", "resume")
    # speech, 4 quiet windows (0.128 s: a pause, no stop), speech again, then 10 quiet windows
    got = feed(SpeechSegmenter(opts), [0.9] * 5 + [0.0] * 4 + [0.9] * 3 + [0.0] * 10, kinds=every)
    assert [e.what for e in got] == ["start", "pause", "resume", "pause", "stop"]
    assert got[1].time == pytest.approx(5 * 0.032)  # where the speech ended
    assert got[2].time == pytest.approx(9 * 0.032)  # where it went on
    assert got[3].time == got[4].time == pytest.approx(12 * 0.032)  # the stop the pause announced
    quiet = VADOptions(min_speech=0.0, min_silence=0.2, pause_silence=None, speech_pad=0.0)
    got = feed(SpeechSegmenter(quiet), [0.9] * 5 + [0.0] * 4 + [0.9] * 3 + [0.0] * 10, kinds=every)
    assert [e.what for e in got] == ["start", "stop"]


def test_segmenter_needs_min_speech_and_min_silence() -> None:
    opts = VADOptions(min_speech=0.1, min_silence=0.2, speech_pad=0.0)
    seg = SpeechSegmenter(opts)
    # two speech windows (64 ms) are too short to start; then 10 windows start at 0.32
    got = feed(seg, [0.0] * 5 + [0.9, 0.9] + [0.0] * 3 + [0.9] * 10 + [0.0] * 10)
    assert [e.started for e in got] == [True, False]
    start, stop = got
    assert start.time == pytest.approx(10 * 0.032)
    assert stop.time == pytest.approx(20 * 0.032)  # the end of the last speech window
    assert stop.speech_start == start.time


def test_segmenter_announces_the_onset_of_speech_it_has_yet_to_confirm() -> None:
    opts = VADOptions(min_speech=0.1, min_silence=0.2, speech_pad=0.0)
    kinds = ("onset", "start", "stop")
    # a click (two windows: an onset, nothing confirmed), then speech (an onset, then the start)
    probs = [0.0] * 5 + [0.9, 0.9] + [0.0] * 3 + [0.9] * 10 + [0.0] * 10
    got = feed(SpeechSegmenter(opts), probs, kinds=kinds)
    assert [e.what for e in got] == ["onset", "onset", "start", "stop"]
    assert got[0].time == pytest.approx(5 * 0.032) and got[1].time == pytest.approx(10 * 0.032)
    assert got[2].time == got[1].time  # the start is where the onset was (no pad here)
    immediate = VADOptions(min_speech=0.0, min_silence=0.2)
    got = feed(SpeechSegmenter(immediate), [0.9] * 3 + [0.0] * 10, kinds=kinds)
    assert [e.what for e in got] == ["start", "stop"]  # confirmed in its first window: no onset


def test_segmenter_hysteresis_keeps_speech_through_dips() -> None:
    seg = SpeechSegmenter(VADOptions(threshold=0.5, neg_threshold=0.3, min_speech=0.0, min_silence=0.1))
    got = feed(seg, [0.9] * 5 + [0.4] * 10 + [0.1] * 2 + [0.9] * 3 + [0.0] * 5)
    assert [e.started for e in got] == [True, False]  # 0.4 is above neg_threshold; 2 quiet windows < 0.1 s


def test_segmenter_pads_start_but_not_before_stream() -> None:
    seg = SpeechSegmenter(VADOptions(min_speech=0.0, speech_pad=0.5))
    (start,) = feed(seg, [0.1, 0.9])
    assert start.time == pytest.approx(0.0)


def test_stop_closes_open_segment_only() -> None:
    seg = SpeechSegmenter(VADOptions(min_speech=0.0))
    assert seg.stop() is None
    feed(seg, [0.9, 0.9])
    event = seg.stop()
    assert event is not None and not event.started and seg.stop() is None


def test_bad_options_are_rejected_clearly() -> None:
    with pytest.raises(ValidationError, match="neg_threshold"):
        VADOptions(threshold=0.4, neg_threshold=0.6)
    with pytest.raises(ValidationError):
        VADOptions(threshold=1.5)


def test_missing_model_file_says_what_to_do(tmp_path) -> None:
    with pytest.raises(VADModelError, match="not found"):
        SileroModel(tmp_path / "nope.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(VADModelError, match="cannot load"):
        SileroModel(bad)


def test_model_rejects_wrong_window() -> None:
    with pytest.raises(ValueError, match="512"):
        SileroModel()(np.zeros(100, np.float32))


# --- the stage on recorded speech ----------------------------------------------------------------


@pytest.mark.anyio
async def test_events_on_recorded_speech_and_audio_forwarded() -> None:
    audio = padded(speech(LONG), 16000)
    sent = frames(audio, 16000)
    result = await run_stages([SileroVAD()], sent, tail=0.5)
    assert result.of(UserAudioFrame) == sent  # forwarded untouched, in order
    got = events(result.frames)
    assert [type(e) for e in got] == [SpeechStarted, SpeechStopped]
    start, stop = got
    assert isinstance(stop, SpeechStopped)
    assert 0.2 <= start.pts <= 0.7  # speech begins right after the 0.5 s lead-in (minus padding)
    assert 7.0 <= stop.pts <= 7.7 and stop.speech_start == start.pts
    # events come after the audio that confirmed them
    index = result.frames.index(stop)
    assert result.frames[index - 1].pts >= stop.pts + VADOptions().min_silence - 0.05
    (turn,) = result.timelines
    assert turn.user_speech_end == pytest.approx(stop.pts)
    # the onset came first, as soon as the speech was heard, and said when it would be confirmed
    onset = next(f for f in result.frames if isinstance(f, SpeechOnset))
    assert result.frames.index(onset) < result.frames.index(start)
    assert onset.pts == pytest.approx(start.pts + VADOptions().speech_pad, abs=1e-6)
    assert onset.confirm_by == pytest.approx(onset.pts + VADOptions().min_speech)


@pytest.mark.anyio
async def test_probabilities_come_before_the_audio_they_describe() -> None:
    # exactly what a model of one's own computes over the same frames (the ASR relies on it)
    sent = frames(padded(speech(PHONE), 8000), 8000, ms=30)
    result = await run_stages([SileroVAD()], sent, tail=0.5)
    own = StreamingVAD(SileroModel())
    heard: SpeechProbabilities | None = None
    windows = 0
    for frame in result.frames:
        if isinstance(frame, SpeechProbabilities):
            assert heard is None
            heard = frame
        elif isinstance(frame, UserAudioFrame):
            expected = own.push(frame.samples(), frame.sample_rate, frame.pts)
            got = [] if heard is None else list(zip(heard.ends, heard.probabilities, strict=True))
            assert got == [(end, prob) for _, end, prob in expected]
            assert heard is None or heard.pts == expected[0][0]
            windows += len(expected)
            heard = None
    assert windows == int(len(sent) * 0.03 / 0.032)


@pytest.mark.anyio
async def test_telephone_audio_at_8khz() -> None:
    audio8 = padded(speech(PHONE), 8000)
    result8 = await run_stages([SileroVAD()], frames(audio8, 8000), tail=0.5)
    audio16 = padded(speech(PHONE), 16000)
    result16 = await run_stages([SileroVAD()], frames(audio16, 16000), tail=0.5)
    got8, got16 = events(result8.frames), events(result16.frames)
    assert [type(e) for e in got8] == [SpeechStarted, SpeechStopped]
    for a, b in zip(got8, got16, strict=True):
        assert a.pts == pytest.approx(b.pts, abs=0.07)


@pytest.mark.anyio
async def test_two_utterances_make_two_segments_and_silence_none() -> None:
    one, two = padded(speech(SHORT), 16000, 0.3, 1.0), padded(speech(PHONE), 16000, 0.3, 0.8)
    result = await run_stages([SileroVAD()], frames(np.concatenate([one, two]), 16000), tail=0.5)
    kinds = [type(e) for e in events(result.frames)]
    assert kinds == [SpeechStarted, SpeechStopped, SpeechStarted, SpeechStopped]
    quiet = await run_stages([SileroVAD()], frames(np.zeros(32000, np.int16), 16000), tail=0.5)
    assert events(quiet.frames) == []


@pytest.mark.anyio
async def test_end_of_stream_closes_the_segment() -> None:
    audio = load_audio(speech(LONG), 16000)[: 16000 * 2]  # cut mid-sentence
    result = await run_stages([SileroVAD()], frames(audio, 16000, ms=30), tail=0.1)
    got = events(result.frames)
    assert [type(e) for e in got] == [SpeechStarted, SpeechStopped]
    assert got[1].pts <= 2.0 + 1e-6
