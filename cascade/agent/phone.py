"""The default agent on the phone: call-control tools and the per-call pipeline for ``cascade phone``.

``cascade phone`` builds the configured agent, prepares it before it takes calls, and calls
:func:`call_pipeline` once per answered call. :func:`phone_pipeline` is the same as a plain
factory for :class:`~cascade.transports.sip.PhoneBridge` (configured from ``$CASCADE_CONFIG`` and
the environment, prepared on the first call).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from cascade.agent.agent import VoiceAgent
from cascade.agent.config import AgentConfig
from cascade.llm.tools import Tool
from cascade.pipeline import Pipeline

if TYPE_CHECKING:
    from cascade.transports.sip.bridge import CallInfo
    from cascade.transports.sip.control import CallControl


class _TransferArgs(BaseModel):
    destination: str = Field(description="Where to transfer the caller")


def call_control_tools(controls: CallControl) -> list[Tool]:
    """``hang_up`` and (when targets are configured) ``transfer_call`` as LLM tools.

    Both have side effects, so a barge-in does not cancel them.
    """

    async def hang_up() -> str:
        """End the phone call (say goodbye first)."""
        return await controls.hang_up()

    tools = [Tool(hang_up, name="hang_up", cancellable=False, timeout=30.0)]
    if controls.transfer_targets:

        async def transfer_call(args: _TransferArgs) -> str:
            return await controls.transfer(args.destination)

        targets = ", ".join(sorted(controls.transfer_targets))
        tools.append(
            Tool(
                transfer_call,
                name="transfer_call",
                description=f"Transfer the caller to a human. Destinations: {targets}.",
                cancellable=False,
                timeout=60.0,
            )
        )
    return tools


_AGENT: VoiceAgent | None = None


async def phone_agent() -> VoiceAgent:
    """The process's agent (config from ``$CASCADE_CONFIG`` and the environment), prepared once
    even when the first calls arrive together."""
    global _AGENT
    if _AGENT is None:
        _AGENT = VoiceAgent(AgentConfig.load(os.environ.get("CASCADE_CONFIG")))
    await _AGENT.prepare()
    return _AGENT


def call_pipeline(agent: VoiceAgent, info: CallInfo) -> Pipeline:
    """``agent``'s pipeline for one phone call: keypad input and (by config) call-control tools."""
    tools = call_control_tools(info.controls) if agent.config.call_control_tools else []
    return agent.pipeline(extra_tools=tools, keypad=True)


async def phone_pipeline(info: CallInfo) -> Pipeline:
    """``cascade phone``'s default factory: the process's agent, a fresh pipeline per call."""
    return call_pipeline(await phone_agent(), info)
