"""Pipelines for the WebRTC tests, loadable by ``cascade demo --agent tests.webrtc.agents:NAME``.

``scripted`` is made of the test fakes (energy "ASR", tone "TTS"): it exercises the transport and
the page without models. When the embedded agent is available, the browser test also runs
``cascade.agent:VoiceAgent``.
"""

from __future__ import annotations

from cascade.pipeline import Pipeline
from cascade.testing.fakes import FakeASR, FakeLLM, FakeTTS, FakeTurnTaker

REPLY = (
    "Sure. The library opens at nine in the morning and closes at six in the evening. "
    "On weekends it opens an hour later, and the reading room stays open until eight. "
    "You can also return books at the drop box by the main entrance at any time of day."
)


def scripted() -> Pipeline:
    """Fake recognizer and turn-taker, a scripted LLM and a tone TTS (0.2 s per word)."""
    return Pipeline(
        [
            FakeASR(["When does the library open?", "Thanks, that is all."], threshold=0.01, silence=0.4),
            FakeTurnTaker(),
            FakeLLM(REPLY, ttft=0.15, interval=0.03),
            FakeTTS(word_seconds=0.2),
        ]
    )


class RealStack:
    """The embedded default agent (Silero VAD, Whisper, Smart Turn, TurnTaker, hibari) with a
    scripted OpenAI-compatible LLM server, so the browser test runs real turn-taking and barge-in
    inside its network namespace (which cannot reach the vLLM server on the host's loopback).
    """

    def __init__(self) -> None:
        from cascade.agent import AgentConfig, LLMSettings, VoiceAgent
        from cascade.testing.fake_openai import FakeOpenAI, Reply

        self.llm = FakeOpenAI(default=Reply(text=REPLY, chunk_delay=0.03)).__enter__()
        settings = LLMSettings(base_url=self.llm.base_url, model=self.llm.model)
        self.agent = VoiceAgent(AgentConfig(llm=settings))

    async def prepare(self) -> None:
        """Load the models once."""
        await self.agent.prepare()

    def pipeline(self) -> Pipeline:
        """A fresh pipeline for one call."""
        return self.agent.pipeline()
