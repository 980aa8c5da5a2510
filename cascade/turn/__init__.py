"""Turn-taking: semantic end-of-turn detection, barge-in, backchannels, preemptive replies."""

from cascade.turn.options import (
    BackchannelOptions,
    EchoOptions,
    EndpointingOptions,
    InterruptionOptions,
    PreemptiveOptions,
    TurnOptions,
)
from cascade.turn.playback import BotPlaybackMonitor, PlaybackLog
from cascade.turn.smart_turn import SmartTurnDetector, SmartTurnOptions
from cascade.turn.taker import TurnTaker
from cascade.turn.text_turn import TextTurnDetector, TextTurnOptions

__all__ = [
    "BackchannelOptions",
    "BotPlaybackMonitor",
    "EchoOptions",
    "EndpointingOptions",
    "InterruptionOptions",
    "PlaybackLog",
    "PreemptiveOptions",
    "SmartTurnDetector",
    "SmartTurnOptions",
    "TextTurnDetector",
    "TextTurnOptions",
    "TurnOptions",
    "TurnTaker",
]
