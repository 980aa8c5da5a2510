"""File transport: any WAV in, bot track + stereo conversation + JSON transcript out."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

from cascade import Pipeline, PipelineTypeError
from cascade.audio import AudioFormatError
from cascade.clock import VirtualClock
from cascade.testing import assert_no_leaked_tasks, autojump
from cascade.testing.fakes import FakeASR, FakeLLM, FakeTTS, FakeTurnTaker
from cascade.transports.file import FileTransport


def tone_wav(
    path: Path, *, rate: int = 44100, channels: int = 2, speech: tuple[float, float] = (0.3, 1.3)
) -> Path:
    total = speech[1] + 0.2
    t = np.arange(int(total * rate)) / rate
    signal = np.where((t >= speech[0]) & (t < speech[1]), 0.4 * np.sin(2 * np.pi * 250 * t), 0.0)
    data = np.stack([signal] * channels, axis=1).astype(np.float32)
    soundfile.write(str(path), data, rate, subtype="FLOAT")
    return path


def agent() -> Pipeline:
    return Pipeline(
        [FakeASR(["what time is it", "thanks"]), FakeTurnTaker(), FakeLLM("It is noon."), FakeTTS()]
    )


@pytest.mark.anyio
async def test_two_turn_conversation_writes_reply_conversation_and_transcript(tmp_path: Path) -> None:
    inputs = [tone_wav(tmp_path / "q1.wav"), tone_wav(tmp_path / "q2.wav", rate=8000, channels=1)]
    clock = VirtualClock()
    transport = FileTransport(inputs, tmp_path / "out" / "reply.wav", clock=clock)

    async def session() -> None:
        async with autojump(clock):
            await agent().run(transport)

    await assert_no_leaked_tasks(session)
    reply, rate = soundfile.read(str(tmp_path / "out" / "reply.wav"), dtype="int16")
    conversation, _ = soundfile.read(str(tmp_path / "out" / "reply.conversation.wav"), dtype="int16")
    assert rate == 16000 and conversation.shape[1] == 2 and len(conversation) == len(reply)
    caller_loud = np.flatnonzero(np.abs(conversation[:, 0]) > 1000) / rate
    bot_loud = np.flatnonzero(np.abs(reply) > 1000) / rate
    assert bot_loud.size > 0
    # the bot answers after the caller's first question, never on top of it
    assert bot_loud[0] > 1.3
    first_gap = caller_loud[caller_loud > bot_loud[0]]
    assert first_gap.size and first_gap[0] > bot_loud[0]
    doc = json.loads((tmp_path / "out" / "reply.json").read_text())
    roles = [(e["role"], e["text"]) for e in doc["transcript"]]
    assert ("user", "what time is it") in roles and ("user", "thanks") in roles
    assert roles.count(("assistant", "It is noon.")) == 2
    assert len(doc["turns"]) == 2
    assert all(0 < t["voice_to_voice"] < 1.5 for t in doc["turns"])


@pytest.mark.anyio
async def test_as_fast_as_possible_mode(tmp_path: Path) -> None:
    transport = FileTransport(tone_wav(tmp_path / "q.wav"), tmp_path / "r.wav", realtime=False, gap=0.1)
    await agent().run(transport)
    doc = json.loads((tmp_path / "r.json").read_text())
    assert [e["text"] for e in doc["transcript"] if e["role"] == "assistant"] == ["It is noon."]


def test_unreadable_and_missing_files_get_clear_errors(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.wav"
    bogus.write_text("this is not audio")
    with pytest.raises(AudioFormatError, match=r"notes\.wav.*WAV"):
        FileTransport(bogus)
    with pytest.raises(AudioFormatError, match="not found"):
        FileTransport(tmp_path / "missing.wav")
    empty = tmp_path / "empty.wav"
    soundfile.write(str(empty), np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioFormatError, match="no audio"):
        FileTransport(empty)


@pytest.mark.anyio
async def test_pipeline_without_speech_output_is_refused_at_run(tmp_path: Path) -> None:
    transport = FileTransport(tone_wav(tmp_path / "q.wav"))
    with pytest.raises(PipelineTypeError, match=r"FileSink.*BotAudioFrame"):
        await Pipeline([FakeASR(["x"]), FakeTurnTaker(), FakeLLM()]).run(transport)


def test_a_file_session_says_what_it_is(tmp_path: Path) -> None:
    transport = FileTransport(tone_wav(tmp_path / "q.wav"))
    first, second = transport.session_info(), transport.session_info()
    assert first.transport == "file" and first.caller is None and first.controls is None
    assert first.session_id != second.session_id  # each session run on it is a new one
