"""What the LLM may do to the call: hang up, transfer to a human.

:class:`CallControl` exposes both as plain async methods and as OpenAI-style tool definitions with
one dispatcher (:meth:`CallControl.call_tool`), so an LLM stage can offer them without knowing SIP.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from cascade.transports.sip.call import CallError, SipCall

if TYPE_CHECKING:
    from cascade.transports.sip.transport import SipTransport

log = logging.getLogger("cascade.sip.tools")

HANG_UP = "hang_up"
TRANSFER = "transfer_call"


class CallControl:
    """Call actions for one call.

    Args:
        call: the call.
        transport: its transport, to let the bot finish speaking before hanging up or transferring.
        transfer_targets: allowed transfer destinations, name → SIP URI (e.g. ``{"sales":
            "sip:sales@pbx"}``). The LLM can only pick among these; empty means transfers are off.
        max_wait: longest wait (seconds) for queued bot speech to play before acting.
        settle: the bot must have been silent this long (seconds) before acting, so a goodbye
            still being synthesized is not cut off.
    """

    def __init__(
        self,
        call: SipCall,
        transport: SipTransport | None = None,
        *,
        transfer_targets: dict[str, str] | None = None,
        max_wait: float = 15.0,
        settle: float = 0.6,
    ) -> None:
        self.call = call
        self.transport = transport
        self.transfer_targets = dict(transfer_targets or {})
        self.max_wait = max_wait
        self.settle = settle

    async def _let_bot_finish(self) -> None:
        """Wait until the bot has been silent for ``settle`` seconds (its reply may still be synthesizing)."""
        t = self.transport
        sink = t.sink_stage if t is not None else None
        if t is None or sink is None or sink._runtime is None:
            return
        clock = sink.clock
        deadline = clock.now() + self.max_wait
        quiet_since = clock.now()
        while not self.call.ended.is_set() and clock.now() < deadline:
            if t.playing_seconds > 0:
                quiet_since = clock.now()
            elif clock.now() - quiet_since >= self.settle:
                return
            await clock.sleep(0.02)

    async def hang_up(self, reason: str = "the agent ended the call") -> str:
        """Finish the bot's current sentence, then send BYE. Returns a result text for the LLM."""
        await self._let_bot_finish()
        await self.call.hang_up(reason)
        return "The call has ended."

    async def transfer(self, destination: str) -> str:
        """Transfer the caller (REFER) to a configured destination. Returns a result text for the LLM."""
        if destination not in self.transfer_targets:
            known = ", ".join(sorted(self.transfer_targets)) or "none configured"
            return f"Cannot transfer to {destination!r}: unknown destination (available: {known})."
        await self._let_bot_finish()
        try:
            status = await self.call.transfer(self.transfer_targets[destination])
        except CallError as exc:
            return f"The transfer failed: {exc}."
        if 200 <= status < 300:
            return f"The caller was transferred to {destination}."
        return (
            f"The transfer to {destination} did not complete (status {status or 'none'}); "
            "the caller is still here."
        )

    def tool_definitions(self) -> list[dict[str, Any]]:
        """OpenAI chat-completions ``tools`` entries for the actions available on this call."""
        tools: list[dict[str, Any]] = [
            {
                "type": "function",
                "function": {
                    "name": HANG_UP,
                    "description": "End the phone call after saying goodbye.",
                    "parameters": {"type": "object", "properties": {}, "additionalProperties": False},
                },
            }
        ]
        if self.transfer_targets:
            tools.append(
                {
                    "type": "function",
                    "function": {
                        "name": TRANSFER,
                        "description": "Transfer the caller to a human colleague.",
                        "parameters": {
                            "type": "object",
                            "properties": {
                                "destination": {"type": "string", "enum": sorted(self.transfer_targets)}
                            },
                            "required": ["destination"],
                            "additionalProperties": False,
                        },
                    },
                }
            )
        return tools

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> str:
        """Run a tool by name (as the LLM asked); unknown names and bad arguments give an error text."""
        if name == HANG_UP:
            return await self.hang_up()
        if name == TRANSFER and self.transfer_targets:
            destination = arguments.get("destination")
            if not isinstance(destination, str):
                return "transfer_call needs a 'destination' string."
            return await self.transfer(destination)
        names = ", ".join(t["function"]["name"] for t in self.tool_definitions())
        return f"Unknown tool {name!r}; available: {names}."
