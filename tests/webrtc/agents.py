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
