"""A real softphone (baresip) calls the bridge with a recorded question and records the answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cascade.audio import load_audio, write_wav
from cascade.testing.sip_peers.baresip import baresip_command, baresip_config
from cascade.testing.sip_peers.ports import free_port
from tests.sip.conftest import need, rms, running_bridge, transcribe, wait_until
from tests.sip.helpers import question_audio

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


async def test_baresip_call_records_a_spoken_answer(tmp_path: Path, whisper: Any) -> None:
    """baresip dials, speaks the question from a WAV, and the answer it records is the bot's speech."""
    import anyio

    need("baresip", "baresip")
    question = question_audio()
    caller = np.concatenate([question, np.zeros(8000 * 6, np.int16)])  # stay on the line for the answer
    wav = write_wav(tmp_path / "caller.wav", caller, 8000)
    config = baresip_config(tmp_path / "baresip", wav, free_port())
    async with running_bridge() as bridge:
        command = baresip_command(config, f"sip:bot@127.0.0.1:{bridge.port}", len(caller) // 8000 + 4)
        result = await anyio.run_process(command, check=False, cwd=tmp_path)
        log = result.stdout.decode(errors="replace")
        try:  # (an unanswered BYE would end the call by the RTP timeout, 5 s)
            await wait_until(lambda: bool(bridge.finished), 10)
        except AssertionError:
            pytest.fail(f"the bridge has not finished the call; baresip said:\n{log[-2000:]}")
    assert "Call established" in log, log[-2000:]
    record = bridge.finished[0]
    assert record.end_reason == "caller hung up" and not record.error, (record, log[-2000:])
    assert record.packets_in >= len(caller) / 160 * 0.9
    recordings = sorted(config.glob("dump-*-dec.wav"))
    assert recordings, f"baresip recorded nothing:\n{log[-2000:]}"
    answer = load_audio(recordings[-1], 8000)
    heard_after_question = answer[len(question) :]
    assert rms(heard_after_question) > 0.01, "baresip heard only silence after the question"
    text = transcribe(whisper, heard_after_question).lower()
    assert "number" in text or "dial" in text, f"baresip heard {text!r}"
