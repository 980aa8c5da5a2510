"""`cascade tts serve` as a real server on loopback, and OpenAISpeechTTS against it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import jiwer
import numpy as np
import pytest

from cascade.frames import BotAudioFrame, ErrorFrame
from cascade.tts.chunker import speakable_text
from cascade.tts.engine import TTSEngine
from cascade.tts.openai_speech import OpenAISpeechOptions, OpenAISpeechTTS
from cascade.tts.server import PCM_RATE, create_app, pcm_samples
from tests.tts.conftest import needs_piper, transcribe
from tests.tts.test_engines import CountingEngine, check_intelligible, deltas, run_real, words

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(*args: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [
        sys.executable,
        "-c",
        "from cascade.cli import app; app()",
        "tts",
        "serve",
        "--port",
        str(port),
        *args,
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"speech server exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("speech server did not start in 60 s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stderr:
        proc.stderr.close()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    proc, url = start_server("--engine", "hibari")
    yield url
    stop_server(proc)


def test_speech_round_trip_pcm(server: str, whisper: Any) -> None:
    text = "Your order number is 4, and it ships tomorrow morning."
    chunks: list[bytes] = []
    body = {"model": "tts-1", "input": text, "voice": "heart", "response_format": "pcm"}
    with httpx.stream("POST", server + "/v1/audio/speech", json=body, timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "audio/pcm"
        assert response.headers["x-sample-rate"] == str(PCM_RATE)
        chunks = list(response.iter_bytes())
    samples = pcm_samples(b"".join(chunks))
    assert samples.size / PCM_RATE > 1.5
    heard = transcribe(whisper, samples, PCM_RATE)
    assert words(heard) == words(text), heard


def test_speech_wav_is_streamed_with_a_header(server: str) -> None:
    response = httpx.post(
        server + "/v1/audio/speech", json={"input": "Hello there.", "voice": "heart"}, timeout=30
    )
    assert response.status_code == 200 and response.headers["content-type"] == "audio/wav"
    data = response.content
    assert data[:4] == b"RIFF" and data[8:16] == b"WAVEfmt " and data[36:40] == b"data"
    assert int.from_bytes(data[24:28], "little") == PCM_RATE
    assert np.abs(pcm_samples(data[44:])).max() > 1000


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"input": "Hi.", "voice": "alloy"}, 400, "unknown voice 'alloy'; available voices: heart"),
        ({"input": "   ", "voice": "heart"}, 400, "input is empty"),
        ({"input": "😀 **", "voice": "heart"}, 400, "no speakable text"),
        ({"input": "Hi.", "response_format": "mp3"}, 400, "response_format 'mp3' is not supported"),
        ({"input": "Hi.", "model": "whisper-1"}, 400, "unknown model 'whisper-1'"),
        ({"voice": "heart"}, 400, "invalid request: input"),
        ({"input": "Hi.", "speed": 10}, 400, "invalid request: speed"),
    ],
)
def test_speech_errors_are_clear(server: str, body: dict[str, Any], status: int, message: str) -> None:
    response = httpx.post(server + "/v1/audio/speech", json=body, timeout=30)
    assert response.status_code == status
    error = response.json()["error"]
    assert message in error["message"] and error["type"] == "invalid_request_error"


def test_not_json_and_discovery(server: str) -> None:
    response = httpx.post(server + "/v1/audio/speech", content=b"{oops", timeout=10)
    assert response.status_code == 400 and "not JSON" in response.json()["error"]["message"]
    models = httpx.get(server + "/v1/models", timeout=10).json()
    assert [m["id"] for m in models["data"]][:2] == ["hibari", "tts-1"]
    assert httpx.get(server + "/v1/audio/voices", timeout=10).json() == {
        "voices": ["heart"],
        "default": "heart",
    }


@pytest.mark.anyio
async def test_client_stage_streams_from_the_server(server: str, whisper: Any) -> None:
    text = "Sure, I can do that. The package arrives on Friday afternoon."
    tts = OpenAISpeechTTS(OpenAISpeechOptions(base_url=server + "/v1", voice="heart", model="hibari"))
    out, ctx = await run_real([tts], deltas(text))
    audio = [f for f in out if isinstance(f, BotAudioFrame)]
    assert not [f for f in out if isinstance(f, ErrorFrame)]
    assert all(f.sample_rate == 16000 and f.num_samples <= 320 for f in audio)
    assert "".join(f.text for f in audio) == speakable_text(text) and audio[-1].last
    assert ctx.metrics.timelines[0].first_tts_audio is not None
    check_intelligible(whisper, [f for f in audio if f.pcm], text, max_wer=0.15)


@pytest.mark.anyio
async def test_client_stage_reports_server_errors_and_goes_on(server: str) -> None:
    bad_voice = OpenAISpeechTTS(OpenAISpeechOptions(base_url=server + "/v1", voice="nobody"))
    out, _ = await run_real([bad_voice], deltas("Hello there. Bye."))
    errors = [f.message for f in out if isinstance(f, ErrorFrame)]
    assert len(errors) == 2 and "answered 400: hibari: unknown voice 'nobody'" in errors[0]
    assert [f for f in out if isinstance(f, BotAudioFrame)][-1].last

    down = OpenAISpeechTTS(OpenAISpeechOptions(base_url=f"http://127.0.0.1:{free_port()}/v1", timeout=2))
    out, _ = await run_real([down], deltas("Hello."))
    (error,) = [f.message for f in out if isinstance(f, ErrorFrame)]
    assert "cannot get speech from" in error and "cascade tts serve" in error


@pytest.mark.anyio
async def test_engine_crash_is_a_server_error(hibari_engine: TTSEngine) -> None:
    app = create_app(CountingEngine(hibari_engine), warm_up=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://speech") as client:
        response = await client.post(
            "/v1/audio/speech", json={"input": "Please explode now.", "voice": "heart"}
        )
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["type"] == "server_error" and "onnxruntime session died" in error["message"]


@needs_piper
def test_piper_server_round_trip(whisper: Any) -> None:
    proc, url = start_server("--engine", "piper")
    try:
        text = "The meeting starts in ten minutes."
        body = {"input": text, "voice": "joe", "response_format": "pcm"}
        response = httpx.post(url + "/v1/audio/speech", json=body, timeout=30)
        assert response.status_code == 200
        heard = transcribe(whisper, pcm_samples(response.content), PCM_RATE)
        # Piper samples its voice with noise: a word may come out unclear now and then
        assert jiwer.wer(words(text), words(heard)) <= 0.2, heard
    finally:
        stop_server(proc)
