"""The default voice agent: one typed config, model sharing across sessions, ``cascade talk``.

Names are imported lazily so ``cascade --help`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cascade.agent.agent import AgentError, VoiceAgent
    from cascade.agent.config import AgentConfig, LLMSettings, TTSSettings
    from cascade.agent.hooks import (
        AgentEvent,
        AgentHooks,
        BotSpoke,
        SessionEnded,
        ToolCalled,
        TranscriptLine,
        TurnEnded,
        UserSpoke,
    )
    from cascade.agent.observer import HookStage
    from cascade.agent.phone import phone_pipeline

_WHERE = {
    "AgentError": "cascade.agent.agent",
    "VoiceAgent": "cascade.agent.agent",
    "AgentConfig": "cascade.agent.config",
    "LLMSettings": "cascade.agent.config",
    "TTSSettings": "cascade.agent.config",
    "phone_pipeline": "cascade.agent.phone",
    **dict.fromkeys(
        [
            "AgentEvent",
            "AgentHooks",
            "BotSpoke",
            "SessionEnded",
            "ToolCalled",
            "TranscriptLine",
            "TurnEnded",
            "UserSpoke",
        ],
        "cascade.agent.hooks",
    ),
    "HookStage": "cascade.agent.observer",
}

__all__ = [
    "AgentConfig",
    "AgentError",
    "AgentEvent",
    "AgentHooks",
    "BotSpoke",
    "HookStage",
    "LLMSettings",
    "SessionEnded",
    "TTSSettings",
    "ToolCalled",
    "TranscriptLine",
    "TurnEnded",
    "UserSpoke",
    "VoiceAgent",
    "phone_pipeline",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'cascade.agent' has no attribute {name!r}")
