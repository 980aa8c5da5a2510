"""WhisperASR on recorded speech, in real time, with the real Silero VAD and Whisper tiny.en."""

from __future__ import annotations

import itertools

import anyio
import jiwer
import numpy as np
import pytest

from cascade.asr import WhisperASR, WhisperEngine
from cascade.asr.agreement import normalize
from cascade.audio import AudioFormatError
from cascade.frames import FinalTranscript, PartialTranscript, SpeechStarted, SpeechStopped, UserAudioFrame
from cascade.pipeline import Pipeline, PipelineTypeError
from cascade.testing import assert_no_leaked_tasks
from cascade.vad import SileroVAD
from tests.asr.speech import LONG, LONG_TEXT, MARRIED, MENU, MENU_TEXT, PHONE, SHORT, speech
from tests.asr.streaming import speech_file, stream, until

pytestmark = pytest.mark.integration


def words_of(text: str) -> str:
    return " ".join(normalize(w) for w in text.replace("Mr.", "mister").split())


@pytest.mark.anyio
async def test_partials_grow_commit_and_final_has_word_timings(tiny_engine: WhisperEngine) -> None:
    audio = speech_file(speech(LONG), 16000)
    received = await stream([SileroVAD(), WhisperASR(engine=tiny_engine)], audio, 16000)

    assert len(received.of(UserAudioFrame)) == len(audio) // 320  # audio is forwarded
    partials = [p for p in received.of(PartialTranscript) if isinstance(p, PartialTranscript)]
    assert len(partials) >= 3
    for before, after in itertools.pairwise(partials):
        assert after.committed.startswith(before.committed)  # committed text never changes
    for p in partials:
        assert p.text.startswith(p.committed)
        assert [w.text for w in p.words] == p.text.split()
    assert len(partials[-1].text.split()) > len(partials[0].text.split())  # partials grow
    assert partials[-1].committed  # something was committed before the end

    (final,) = received.of(FinalTranscript)
    assert isinstance(final, FinalTranscript)
    assert final.text.startswith(partials[-1].committed)
    assert jiwer.wer(LONG_TEXT, words_of(final.text)) < 0.25
    (stop,) = received.of(SpeechStopped)
    (start,) = received.of(SpeechStarted)
    assert isinstance(stop, SpeechStopped)
    kinds = [f.kind for _, f in received.frames if not isinstance(f, UserAudioFrame)]
    assert kinds.index("FinalTranscript") > kinds.index("SpeechStopped")
    words = final.words
    assert [w.text for w in words] == final.text.split()
    assert all(w.start <= w.end for w in words)
    assert all(a.start <= b.start for a, b in itertools.pairwise(words))
    assert start.pts - 0.5 <= words[0].start < 1.5  # session seconds: speech starts at ~0.5 s
    assert 6.0 < words[-1].end <= stop.pts + 0.3
    assert all(0.0 <= w.probability <= 1.0 for w in words) and 0.0 < final.confidence <= 1.0
    (turn,) = received.timelines
    assert turn.user_speech_end == pytest.approx(stop.pts)
    assert turn.final_transcript is not None and turn.final_transcript >= final.pts - 1e-6


@pytest.mark.anyio
async def test_telephone_audio_at_8khz(tiny_engine: WhisperEngine) -> None:
    audio = speech_file(speech(PHONE), 8000)
    received = await stream([SileroVAD(), WhisperASR(engine=tiny_engine)], audio, 8000)
    (final,) = received.of(FinalTranscript)
    assert isinstance(final, FinalTranscript)
    # "Agent logged off.": tiny.en hears "Agent -Lob Daff" in this prompt even offline
    assert "agent" in words_of(final.text) and len(final.words) >= 3
    assert all(0.0 <= w.start <= w.end <= len(audio) / 8000 for w in final.words)


@pytest.mark.anyio
async def test_one_final_per_segment_in_order(tiny_engine: WhisperEngine) -> None:
    audio = np.concatenate(
        [speech_file(speech(SHORT), 16000, 0.3, 1.0), speech_file(speech(PHONE), 16000, 0, 1.0)]
    )
    received = await stream([SileroVAD(), WhisperASR(engine=tiny_engine)], audio, 16000)
    finals = [f for f in received.of(FinalTranscript) if isinstance(f, FinalTranscript)]
    assert len(received.of(SpeechStopped)) == len(finals) == 2
    assert "young man" in words_of(finals[0].text) and "agent" in words_of(finals[1].text)
    assert finals[0].words[-1].end < finals[1].words[0].start


@pytest.mark.anyio
async def test_first_words_are_not_committed_from_too_little_audio(tiny_engine: WhisperEngine) -> None:
    # over its first 2.3 s Whisper hears "How do you marry", then "Had he married": two early
    # decodes agreeing must not commit the wrong guess (StreamingOptions.min_commit_audio)
    audio = speech_file(speech(MARRIED), 16000)
    received = await stream([SileroVAD(), WhisperASR(engine=tiny_engine)], audio, 16000)
    committed = [p.committed for p in received.of(PartialTranscript) if isinstance(p, PartialTranscript)]
    assert not any(words_of(c).startswith("how") for c in committed), committed
    (final,) = received.of(FinalTranscript)
    assert isinstance(final, FinalTranscript)
    assert words_of(final.text).startswith("had he married"), final.text


_NUMBERS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_DIGITS = dict(zip("0123456789", _NUMBERS, strict=True))


@pytest.mark.anyio
async def test_phrases_cut_at_pauses_join_without_lost_or_repeated_words(tiny_engine: WhisperEngine) -> None:
    # the VAD cuts the prompt at its pauses; each phrase is decoded after the audio of the
    # previous one's last words, whose words are dropped again ("4 or 6 | to decrease": no "6"
    # heard twice at the start of the next phrase)
    audio = speech_file(speech(MENU), 8000)
    received = await stream([SileroVAD(), WhisperASR(engine=tiny_engine)], audio, 8000)
    finals = [f for f in received.of(FinalTranscript) if isinstance(f, FinalTranscript)]
    assert len(finals) >= 3  # the VAD did cut it
    said = [_DIGITS.get(w, w) for w in words_of(" ".join(f.text for f in finals)).split()]
    assert said.count("six") == 1, said
    assert jiwer.wer(MENU_TEXT, " ".join(said)) < 0.1
    for before, after in itertools.pairwise(finals):
        assert before.words[-1].end <= after.words[0].end


@pytest.mark.anyio
async def test_cancelling_a_decode_returns_at_once(tiny_engine: WhisperEngine) -> None:
    audio = speech_file(speech(LONG), 16000)
    returned_while_running = False
    async with anyio.create_task_group() as tg:

        async def decode() -> None:
            await tiny_engine.decode(audio)

        tg.start_soon(decode)
        await until(lambda: tiny_engine.running > 0)
        tg.cancel_scope.cancel()
    returned_while_running = tiny_engine.running == 1  # the abandoned thread is still decoding
    assert returned_while_running
    await until(lambda: tiny_engine.running == 0)
    assert "dashwood" in tiny_engine.transcribe(audio).text.lower()  # the engine still works


@pytest.mark.anyio
async def test_session_cancelled_mid_decode_leaves_nothing_behind(tiny_engine: WhisperEngine) -> None:
    asr = WhisperASR(engine=tiny_engine)
    cancelled_mid_decode = False

    async def session() -> None:
        nonlocal cancelled_mid_decode
        async with anyio.create_task_group() as tg:
            tg.start_soon(stream, [SileroVAD(), asr], speech_file(speech(LONG), 16000), 16000)
            await until(lambda: tiny_engine.running > 0)  # the caller hangs up mid-decode
            tg.cancel_scope.cancel()
        cancelled_mid_decode = tiny_engine.running == 1

    await assert_no_leaked_tasks(session)
    assert cancelled_mid_decode
    await until(lambda: tiny_engine.running == 0)


def test_bad_audio_gets_clear_errors(tiny_engine: WhisperEngine, tmp_path) -> None:
    with pytest.raises(AudioFormatError, match="mono"):
        tiny_engine.transcribe(np.zeros((16000, 2), np.float32))
    with pytest.raises(AudioFormatError, match="empty"):
        tiny_engine.transcribe(np.zeros(0, np.float32))
    with pytest.raises(AudioFormatError, match="dtype int32"):
        tiny_engine.transcribe(np.zeros(1600, np.int32))
    with pytest.raises(AudioFormatError, match="divide by 32768"):
        tiny_engine.transcribe(np.full(1600, 1000.0, np.float32))
    with pytest.raises(AudioFormatError, match="NaN"):
        tiny_engine.transcribe(np.full(1600, np.nan, np.float32))
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("this is not a recording")
    with pytest.raises(AudioFormatError, match="cannot read"):
        tiny_engine.transcribe_file(not_audio)


@pytest.mark.anyio
async def test_bad_model_fails_the_session_clearly(tmp_path) -> None:
    from cascade.asr import WhisperOptions
    from cascade.stage import StageError

    asr = WhisperASR(WhisperOptions(model=str(tmp_path / "missing-model")))
    with pytest.raises(StageError, match=r"WhisperASR.*does not exist"):
        await stream([SileroVAD(), asr], np.zeros(1600, np.int16), 16000)


def test_needs_a_vad_before_it() -> None:
    with pytest.raises(PipelineTypeError, match="SpeechStarted"):
        Pipeline([WhisperASR()])
    Pipeline([SileroVAD(), WhisperASR()])
