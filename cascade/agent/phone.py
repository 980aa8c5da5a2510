"""The default agent on the phone: keypad input and call-control tools for ``cascade phone``.

``cascade phone`` calls :func:`phone_pipeline` once per answered call. The agent (models loaded
once per process) is configured from the environment / ``CASCADE_CONFIG`` like ``cascade talk``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from cascade.agent.agent import VoiceAgent
from cascade.agent.config import AgentConfig
from cascade.frames import DTMFFrame, EndOfTurn, Frame
from cascade.llm.tools import Tool
from cascade.pipeline import Pipeline
from cascade.stage import Stage

if TYPE_CHECKING:
    from cascade.transports.sip.bridge import CallInfo
    from cascade.transports.sip.tools import CallControl


class KeypadInput(Stage):
    """Turns DTMF key presses into a caller turn ("The caller pressed 1 2 on the keypad.").

    Digits are collected until ``#`` or ``timeout`` seconds without a new key.
    """

    inputs = (DTMFFrame,)
    outputs = (EndOfTurn,)

    def __init__(self, timeout: float = 1.5) -> None:
        super().__init__(name="KeypadInput")
        self.timeout = timeout
        self.digits: list[str] = []
        self.last_key = 0.0

    async def start(self) -> None:
        """Start the inter-digit timer."""
        self.spawn(self._timer, service=True)

    async def process(self, frame: Frame) -> None:
        """Collect a digit (forwarded too, for transcripts and other stages)."""
        assert isinstance(frame, DTMFFrame)
        await self.emit(frame)
        if frame.digit == "#":
            await self._flush()
        else:
            self.digits.append(frame.digit)
            self.last_key = self.clock.now()

    async def _timer(self) -> None:
        while True:
            await self.clock.sleep(0.1)
            if self.digits and self.clock.now() - self.last_key >= self.timeout:
                await self._flush()

    async def _flush(self) -> None:
        if not self.digits:
            return
        keys, self.digits = " ".join(self.digits), []
        now = self.clock.now()
        self.ctx.metrics.mark("end_of_turn", now)
        text = f"(The caller pressed {keys} on the keypad.)"
        await self.emit(EndOfTurn(pts=now, generation=self.generation, text=text, reason="dtmf"))


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
