"""What the application may do to a call: hang up, transfer to a human.

:class:`CallControl` offers both as plain async methods that first let the bot finish speaking and
return a result text for the LLM. The LLM tools wrapping them are defined once, in
:func:`cascade.agent.phone.call_control_tools`, so this transport stays free of the LLM package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cascade.transports.sip.call import CallError, SipCall

if TYPE_CHECKING:
    from cascade.transports.sip.transport import SipTransport


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
