"""The shared TTS stage in virtual time: streaming, spans, cancellation, errors."""

from __future__ import annotations

import re

import numpy as np
import pytest

from cascade.frames import (
    BotAudioFrame,
    BotSpeechEnded,
    ErrorFrame,
    Frame,
    LLMResponseEnded,
    LLMTextDelta,
    TextToSpeak,
)
from cascade.stage import StageError
from cascade.testing import run_stages
from cascade.testing.sinks import PacedSink
from cascade.tts.base import TTSOptions
from cascade.tts.chunker import speakable_text
from cascade.tts.hibari import HibariOptions, HibariTTS
from tests.tts.helpers import ToneTTS

REPLY = "Sure, I can help with that. It will take about a minute. Please hold on."


def reply_frames(
    text: str,
    *,
    start: float = 0.5,
    interval: float = 0.03,
    rid: str = "r1",
    generation: int = 0,
    end: bool = True,
) -> list[Frame]:
    """The LLM's streamed reply: one delta per word, then the end of the response."""
    frames: list[Frame] = []
    t = start
    for piece in re.findall(r"\s*\S+", text):
        frames.append(LLMTextDelta(pts=t, generation=generation, response_id=rid, text=piece))
        t += interval
    if end:
        frames.append(LLMResponseEnded(pts=t, generation=generation, response_id=rid, text=text))
    return frames


def audio_of(frames: list[Frame], generation: int | None = None) -> list[BotAudioFrame]:
    out = [f for f in frames if isinstance(f, BotAudioFrame)]
    return [f for f in out if generation is None or f.generation == generation]


@pytest.mark.anyio
async def test_streams_small_frames_as_soon_as_the_first_chunk_is_ready() -> None:
    tts = ToneTTS()
    result = await run_stages([tts], reply_frames(REPLY))
    audio = audio_of(result.frames)
    # "Sure," is complete when " I" arrives at 0.53; one piece takes 0.01 s to synthesize
    assert audio[0].pts == pytest.approx(0.54)
    assert tts.started[0] == "Sure,"
    assert all(f.sample_rate == 16000 and f.channels == 1 for f in audio)
    assert all(f.num_samples == 320 for f in audio if not f.last and f.text == "")
    assert max(f.num_samples for f in audio) == 320
    assert [f.last for f in audio].count(True) == 1 and audio[-1].last and audio[-1].pcm == b""
    assert "".join(f.text for f in audio) == speakable_text(REPLY)
    assert {f.response_id for f in audio} == {"r1"}
    # the end of the response is forwarded after its audio
    kinds = result.kinds()
    assert kinds[-2:] == ["LLMResponseEnded", "EndOfStream"]
    (timeline,) = result.timelines
    assert timeline.first_tts_audio == pytest.approx(0.54)


@pytest.mark.anyio
async def test_output_rate_and_frame_size_follow_the_options() -> None:
    tts = ToneTTS(TTSOptions(sample_rate=48000, frame_ms=40, trim_silence=False))
    result = await run_stages([tts], reply_frames("Hello there. Bye now."))
    audio = audio_of(result.frames)
    assert {f.sample_rate for f in audio} == {48000}
    assert max(f.num_samples for f in audio) == 1920
    speech = sum(f.duration for f in audio)
    expected = sum(len(c) for c in ("Hello there.", "Bye now.")) * 0.05
    assert speech == pytest.approx(expected, abs=0.03)


@pytest.mark.anyio
async def test_engine_padding_is_cut_and_chunks_pause_by_their_punctuation() -> None:
    padded = ToneTTS(padding=0.3)  # like hibari: 0.3 s of silence before and after each chunk
    result = await run_stages([padded], reply_frames("Well, I think so. Yes"))
    chunks = {"Well,": 0.15, " I think so.": 0.3, " Yes": 0.0}  # clause, sentence, open
    audio = audio_of(result.frames)
    # the engine's 0.3 s of lead silence is cut: only the trimmer's margin (30 ms) precedes sound
    first_sound = np.flatnonzero(np.frombuffer(b"".join(f.pcm for f in audio), dtype="<i2"))[0]
    assert first_sound / 16000 <= 0.03 + 0.002
    total = sum(f.duration for f in audio)
    margins = 0.03 * 2 * len(chunks)  # kept before and after each sound
    expected = sum(len(c.strip()) * 0.05 + pause for c, pause in chunks.items()) + margins
    assert total == pytest.approx(expected, abs=0.03)
    assert "".join(f.text for f in audio) == "Well, I think so. Yes"
    untrimmed = ToneTTS(TTSOptions(trim_silence=False), padding=0.3)
    result = await run_stages([untrimmed], reply_frames("Well, I think so. Yes"))
    assert sum(f.duration for f in audio_of(result.frames)) == pytest.approx(
        sum(len(c.strip()) * 0.05 for c in chunks) + 0.6 * len(chunks), abs=0.03
    )


@pytest.mark.anyio
async def test_each_frame_speaks_the_words_under_it() -> None:
    tts = ToneTTS(whole=True)
    text = "Alpha beta gamma delta epsilon zeta eta theta."
    result = await run_stages([tts], [TextToSpeak(pts=0.1, text=text, response_id="say")])
    audio = audio_of(result.frames)
    carrying = [(i, f.text) for i, f in enumerate(audio) if f.text]
    assert "".join(t for _, t in carrying) == text
    # the words are spread over the audio in order, not all put on the last frame
    positions = [i for i, _ in carrying]
    assert positions == sorted(positions) and len(carrying) >= 6
    assert positions[0] < len(audio) // 4
    # a word's frame ends no earlier than the estimate says the word ends (the pause after the
    # sentence speaks no word)
    total = sum(f.duration for f in audio[: positions[-1] + 1])
    first_word_end = sum(f.duration for f in audio[: positions[0] + 1])
    assert first_word_end == pytest.approx(total * 6 / 42, abs=0.03)


@pytest.mark.anyio
async def test_interrupt_cancels_mid_sentence_and_keeps_what_was_heard() -> None:
    tts = ToneTTS(delay=0.05, piece=0.1)
    long = "This is a rather long sentence that keeps going for quite a while before it ends."
    later = "Okay, what else?"
    frames = [
        *reply_frames(long + " And then", end=False),
        *reply_frames(later, start=2.0, rid="r2", generation=1),
    ]
    result = await run_stages(
        [tts, PacedSink()], frames, actions={1.2: lambda ctx: ctx.interrupt("barge-in")}
    )
    # the synthesis in flight stopped at the interrupt, within one frame
    assert tts.cancelled_at == [pytest.approx(1.2)]
    ended = [e for e in result.events if isinstance(e, BotSpeechEnded)]
    first, second = ended
    assert first.interrupted and first.response_id == "r1"
    assert first.heard_text and long.startswith(first.heard_text.rstrip())
    assert len(first.heard_text) < len(long)
    # the interrupted reply's unfinished text ("And then") was forgotten
    assert second.heard_text == later and not second.interrupted
    assert tts.started == ["This is a rather long sentence", "Okay,", " what else?".strip()]


@pytest.mark.anyio
async def test_engine_crash_skips_the_chunk_and_the_session_goes_on() -> None:
    tts = ToneTTS(fail_on="crash")
    result = await run_stages([tts], reply_frames("Hello there. This will crash now. Bye."))
    (error,) = result.of(ErrorFrame)
    assert isinstance(error, ErrorFrame) and error.stage == "ToneTTS"
    assert "synthesis failed" in error.message and "crash" in error.message
    audio = audio_of(result.frames)
    assert "".join(f.text for f in audio) == "Hello there. Bye."
    assert audio[-1].last
    assert result.kinds()[-2] == "LLMResponseEnded"


@pytest.mark.anyio
async def test_text_to_speak_and_empty_text() -> None:
    tts = ToneTTS()
    frames = [TextToSpeak(pts=0.1, text="  😀 **  "), TextToSpeak(pts=0.5, text="One moment please.")]
    result = await run_stages([tts], frames)
    (error,) = result.of(ErrorFrame)
    assert isinstance(error, ErrorFrame) and "no speakable text" in error.message
    audio = audio_of(result.frames)
    assert {f.response_id for f in audio} == {"ToneTTS-say-1"}
    assert "".join(f.text for f in audio) == "One moment please." and audio[-1].last


@pytest.mark.anyio
async def test_end_without_deltas_and_unterminated_responses() -> None:
    tts = ToneTTS()
    frames: list[Frame] = [
        *reply_frames("First reply without an end", end=False),
        LLMResponseEnded(pts=2.0, response_id="r2", text="Second reply, only at the end."),
    ]
    result = await run_stages([tts], frames)
    audio = audio_of(result.frames)
    by_id: dict[str, str] = {}
    for f in audio:
        by_id[f.response_id] = by_id.get(f.response_id, "") + f.text
    assert by_id == {"r1": "First reply without an end", "r2": "Second reply, only at the end."}
    assert [f.response_id for f in audio if f.last] == ["r1", "r2"]


@pytest.mark.anyio
async def test_normalization_changes_what_is_synthesized_not_the_heard_text() -> None:
    tts = ToneTTS()
    result = await run_stages([tts], reply_frames("It costs $12.50 at 7:30 today."))
    assert tts.started == ["It costs twelve dollars and fifty cents at seven thirty today."]
    assert "".join(f.text for f in audio_of(result.frames)) == "It costs $12.50 at 7:30 today."
    raw = ToneTTS(TTSOptions(normalize=False))
    await run_stages([raw], reply_frames("It costs $12.50 today."))
    assert raw.started == ["It costs $12.50 today."]


@pytest.mark.anyio
async def test_unknown_voice_fails_at_start_with_the_voices_available() -> None:
    with pytest.raises(StageError, match=r"unknown voice 'nobody'; available voices: .*heart"):
        await run_stages([HibariTTS(HibariOptions(voice="nobody"))], reply_frames("Hi."))


def test_options_reject_bad_values() -> None:
    with pytest.raises(ValueError, match="sample_rate 12345 Hz is not supported"):
        TTSOptions(sample_rate=12345)
    with pytest.raises(ValueError, match="frame_ms"):
        TTSOptions(frame_ms=1)


@pytest.mark.anyio
async def test_a_voice_about_to_run_dry_gets_the_words_written_so_far() -> None:
    text = "Sure, the pharmacy on Main Street opens at nine and closes at six on weekdays."
    frames = reply_frames(text, interval=0.25)  # an LLM writing about as fast as the voice speaks
    eager = ToneTTS()
    await run_stages([eager], frames)
    assert eager.started[0] == "Sure,"
    middle = eager.started[1:-1]
    assert middle and all(len(c.split()) >= 3 for c in middle)  # cut before the sentence end ...
    assert " ".join(c.strip() for c in eager.started) == text  # ... and nothing lost or repeated
    # the pause falls before a connector, never after a word leading into the next
    assert all(c.split()[-1] not in {"on", "at", "and", "the"} for c in eager.started)
    patient = ToneTTS(TTSOptions(refill_ahead=0))
    await run_stages([patient], frames)
    assert patient.started == [
        "Sure,",
        "the pharmacy on Main Street opens at nine and closes at six on weekdays.",
    ]
