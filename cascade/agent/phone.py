"""The default agent on the phone: call-control tools and the per-call pipeline for ``cascade phone``.

``cascade phone`` calls :func:`phone_pipeline` once per answered call. The agent (models loaded
once per process) is configured from the environment / ``CASCADE_CONFIG`` like ``cascade talk``.
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
    """The process's agent (config from ``$CASCADE_CONFIG`` and the environment), prepared once."""
    global _AGENT
    if _AGENT is None:
        agent = VoiceAgent(AgentConfig.load(os.environ.get("CASCADE_CONFIG")))
        await agent.prepare()
        _AGENT = agent
    return _AGENT


def call_pipeline(agent: VoiceAgent, info: CallInfo) -> Pipeline:
    """``agent``'s pipeline for one phone call: keypad input and (by config) call-control tools."""
    tools = call_control_tools(info.controls) if agent.config.call_control_tools else []
    return agent.pipeline(extra_tools=tools, keypad=True)


async def phone_pipeline(info: CallInfo) -> Pipeline:
    """``cascade phone``'s default factory: the process's agent, a fresh pipeline per call."""
    return call_pipeline(await phone_agent(), info)
