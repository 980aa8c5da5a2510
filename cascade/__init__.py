"""cascade: real-time voice agents as a streaming cascade of small async stages.

A voice agent is a :class:`Pipeline` of stages run on a transport. With the embedded default
models (``cascade prepare``; ``ChatLLM()`` starts the embedded vLLM server if none runs), it
answers a recorded question and writes its spoken reply beside a JSON transcript:

>>> import anyio
>>> from cascade import Pipeline
>>> from cascade.asr import WhisperASR
>>> from cascade.llm import ChatLLM
>>> from cascade.transports.file import FileTransport
>>> from cascade.tts import HibariTTS
>>> from cascade.turn import TurnTaker
>>> from cascade.vad import SileroVAD
>>> pipeline = Pipeline([SileroVAD(), WhisperASR(), TurnTaker(), ChatLLM(), HibariTTS()])
>>> session = anyio.run(pipeline.run, FileTransport("examples/question.wav", "out/reply.wav"))
>>> any(turn.voice_to_voice for turn in session.metrics.timelines)
True
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cascade.clock import Clock, RealClock, VirtualClock
    from cascade.metrics import MetricsCollector, TurnTimeline
    from cascade.pipeline import Parallel, Pipeline, PipelineTypeError
    from cascade.session import SessionContext
    from cascade.stage import Stage, StageError

__version__ = "0.1.0"

# The agent, the tool decorator and the tool context are named here too (from the layers above the
# core: looked up by name only, so the core imports nothing above it):
#
#     from cascade import AgentConfig, RunContext, VoiceAgent, tool

# Names are imported on first use: ``import cascade`` (a CLI start, a subprocess that needs one
# submodule) does not pay for pydantic, anyio and asyncio until a pipeline is built.
_WHERE = {
    "Clock": "cascade.clock",
    "RealClock": "cascade.clock",
    "VirtualClock": "cascade.clock",
    "AgentConfig": "cascade.agent.config",
    "VoiceAgent": "cascade.agent.agent",
    "RunContext": "cascade.llm.run_context",
    "Tool": "cascade.llm.tools",
    "tool": "cascade.llm.tools",
    "MetricsCollector": "cascade.metrics",
    "TurnTimeline": "cascade.metrics",
    "Parallel": "cascade.pipeline",
    "Pipeline": "cascade.pipeline",
    "PipelineTypeError": "cascade.pipeline",
    "SessionContext": "cascade.session",
    "Stage": "cascade.stage",
    "StageError": "cascade.stage",
}

__all__ = [
    "AgentConfig",
    "Clock",
    "MetricsCollector",
    "Parallel",
    "Pipeline",
    "PipelineTypeError",
    "RealClock",
    "RunContext",
    "SessionContext",
    "Stage",
    "StageError",
    "Tool",
    "TurnTimeline",
    "VirtualClock",
    "VoiceAgent",
    "tool",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'cascade' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
