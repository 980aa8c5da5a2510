"""Turn-taking: semantic end-of-turn detection, barge-in, backchannels, preemptive replies."""

from cascade.turn.chat_turn import ChatTurnOptions, ChatTurnReader
from cascade.turn.decider import TurnDecider
from cascade.turn.options import (
    BackchannelOptions,
    EchoOptions,
    EndpointingOptions,
    InterruptionOptions,
    PreemptiveOptions,
    TurnOptions,
)
from cascade.turn.smart_turn import SmartTurnDetector, SmartTurnOptions
from cascade.turn.stats import TurnStats
from cascade.turn.taker import TurnTaker
from cascade.turn.text_turn import TextTurnDetector, TextTurnOptions

__all__ = [
    "BackchannelOptions",
    "ChatTurnOptions",
    "ChatTurnReader",
    "EchoOptions",
    "EndpointingOptions",
    "InterruptionOptions",
    "PreemptiveOptions",
    "SmartTurnDetector",
    "SmartTurnOptions",
    "TextTurnDetector",
    "TextTurnOptions",
    "TurnDecider",
    "TurnOptions",
    "TurnStats",
    "TurnTaker",
]
