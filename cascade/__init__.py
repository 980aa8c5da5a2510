"""cascade: real-time voice agents as a streaming cascade of small async stages.

>>> from cascade import Pipeline
>>> pipeline = Pipeline([WhisperASR(), TurnTaker(), ChatLLM(), HibariTTS()])
>>> await pipeline.run(FileTransport("question.wav", "reply.wav"))
"""

from cascade.clock import Clock, RealClock, VirtualClock
from cascade.metrics import MetricsCollector, TurnTimeline
from cascade.pipeline import Parallel, Pipeline, PipelineTypeError
from cascade.session import SessionContext
from cascade.stage import Stage, StageError

__version__ = "0.1.0"

__all__ = [
    "Clock",
    "MetricsCollector",
    "Parallel",
    "Pipeline",
    "PipelineTypeError",
    "RealClock",
    "SessionContext",
    "Stage",
    "StageError",
    "TurnTimeline",
    "VirtualClock",
]
