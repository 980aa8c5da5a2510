"""The real embedded stack end to end: recorded speech in, spoken answer out (integration)."""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import pytest
import soundfile

from cascade.agent import AgentConfig, LLMSettings, VoiceAgent
from cascade.audio import write_wav
from cascade.llm.chat import ChatLLM
from cascade.metrics import TurnTimeline
from cascade.transports.file import FileTransport

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

EXAMPLES = Path(__file__).parents[2] / "examples"
RECORDED_QUESTION = Path("/usr/share/asterisk/sounds/en/telephone-number.wav")  # "telephone number"
GENERIC_PROMPT = "You are a friendly phone assistant. Answer in one short sentence."
PROMPT = "You answer phone calls for the Harbour Bakery using the FAQ. Answer in one short sentence."


def agent_for(server: Any, *, bakery: bool = True, **llm: Any) -> VoiceAgent:
    settings = LLMSettings(
        base_url=llm.pop("base_url", server.base_url),
        model=server.model_name,
        system_prompt=PROMPT if bakery else GENERIC_PROMPT,
        knowledge=[EXAMPLES / "knowledge" / "bakery.md"] if bakery else [],
        **llm,
    )
    return VoiceAgent(AgentConfig(llm=settings))


@pytest.fixture(scope="module")
def synthetic_turns(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two caller turns in a voice other than the bot's default rate (Hibari, 24 → 16 kHz)."""
    from cascade.tts.hibari import HibariEngine

    engine = HibariEngine()
    out = tmp_path_factory.mktemp("turns")
    paths = []
    for index, text in enumerate(["Hi, my name is Alice and I love lemon tart.", "What is my name?"]):
        audio = engine.synthesize(text)
        pad = np.zeros(int(0.4 * engine.sample_rate), np.float32)
        samples = (np.concatenate([pad, audio, pad]) * 32767).astype(np.int16)
        paths.append(write_wav(out / f"turn{index}.wav", samples, engine.sample_rate))
    return paths


def transcribe(path: Path) -> str:
    from cascade.asr.engine import WhisperEngine

    audio, rate = soundfile.read(str(path), dtype="int16")
    assert rate == 16000
    return WhisperEngine().transcribe(audio).text


async def test_recorded_question_gets_a_spoken_answer_from_the_knowledge(
    vllm_server: Any, tmp_path: Path
) -> None:
    assert await anyio.Path(RECORDED_QUESTION).exists(), "apt install asterisk-core-sounds-en-wav"
    agent = agent_for(vllm_server)
    reply = tmp_path / "reply.wav"
    session = await agent.run(FileTransport(RECORDED_QUESTION, reply))
    doc = json.loads(reply.with_suffix(".json").read_text())
    said = " ".join(e["text"] for e in doc["transcript"] if e["role"] == "assistant")
    assert said, doc
    heard = await anyio.to_thread.run_sync(transcribe, reply)
    assert heard.strip(), "the reply should be speech"
    normalized = heard.lower().replace("-", " ")
    assert any(key in normalized for key in ("555", "0142", "five", "one four two")), (said, heard)
    (turn, *_) = [t for t in session.metrics.timelines if t.voice_to_voice is not None]
    assert 0 < turn.voice_to_voice < 10


async def test_two_turns_carry_context(vllm_server: Any, synthetic_turns: list[Path], tmp_path: Path) -> None:
    agent = agent_for(vllm_server, bakery=False)
    await agent.prepare()
    assert gc.get_freeze_count() > 0  # the loaded models are out of the collector's full passes
    pipeline = agent.pipeline()
    reply = tmp_path / "reply.wav"
    await pipeline.run(FileTransport(synthetic_turns, reply))
    doc = json.loads(reply.with_suffix(".json").read_text())
    answers = [e["text"] for e in doc["transcript"] if e["role"] == "assistant"]
    assert len(answers) >= 2, doc["transcript"]
    # the second request carried the first exchange...
    llm = next(stage for stage in pipeline.stages if isinstance(stage, ChatLLM))
    history = [(m["role"], str(m.get("content", ""))) for m in llm.conversation.messages()]
    users = [text.lower() for role, text in history if role == "user"]
    assert len(users) >= 2 and "alice" in users[0] and "name" in users[-1], history
    # ...and the model used it
    assert "alice" in answers[-1].lower(), answers


class Proxy:
    """A TCP proxy in front of the LLM server that can be killed mid-conversation."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.scope = anyio.CancelScope()

    async def serve(self, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        with self.scope:
            listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
            self.port = listener.extra(anyio.abc.SocketAttribute.local_port)
            task_status.started()
            async with listener:
                await listener.serve(self._handle)

    async def _handle(self, client: anyio.abc.SocketStream) -> None:
        async with client, await anyio.connect_tcp("127.0.0.1", self.target_port) as upstream:

            async def pump(src: anyio.abc.SocketStream, dst: anyio.abc.SocketStream) -> None:
                try:
                    async for chunk in src:
                        await dst.send(chunk)
                except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                    pass
                finally:
                    await dst.send_eof()

            async with anyio.create_task_group() as tg:
                tg.start_soon(pump, client, upstream)
                tg.start_soon(pump, upstream, client)

    def kill(self) -> None:
        self.scope.cancel()


async def test_llm_server_dying_mid_conversation_gets_an_apology_and_loses_nothing(
    vllm_server: Any, synthetic_turns: list[Path], tmp_path: Path
) -> None:
    proxy = Proxy(vllm_server.options.port)
    reply = tmp_path / "reply.wav"
    async with anyio.create_task_group() as tg:
        await tg.start(proxy.serve)
        agent = agent_for(vllm_server, base_url=f"http://127.0.0.1:{proxy.port}/v1")

        def kill_after_first_answer(turn: TurnTimeline) -> None:
            if turn.turn == 0:
                proxy.kill()

        from cascade.metrics import MetricsCollector

        metrics = MetricsCollector()
        metrics.subscribe(kill_after_first_answer)
        transport = FileTransport(synthetic_turns, reply, reply_timeout=20.0)
        await agent.run(transport, metrics=metrics)
        tg.cancel_scope.cancel()
    doc = json.loads(reply.with_suffix(".json").read_text())
    users = [e["text"] for e in doc["transcript"] if e["role"] == "user"]
    answers = [e["text"] for e in doc["transcript"] if e["role"] == "assistant"]
    assert any("alice" in u.lower() for u in users) and any("name" in u.lower() for u in users), users
    assert len(answers) >= 2, doc["transcript"]
    assert "sorry" in answers[-1].lower(), answers
