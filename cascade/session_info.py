"""Who a session is with: its id, the transport that carries it, the caller, and call actions.

Each transport describes its sessions (:meth:`~cascade.transport.Transport.session_info`); the
pipeline puts that description on the :class:`~cascade.session.SessionContext` (``ctx.info``) where
tools (through :class:`~cascade.llm.run_context.RunContext`) and agent hooks read it.

>>> info = SessionInfo(session_id="a1b2", transport="sip", caller="0142", call_id="x@gw")
>>> info.caller, info.can_hang_up
('0142', False)
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Protocol


class CallActions(Protocol):
    """What the agent may do to a call (a phone call's :class:`~cascade.transports.sip.control.
    CallControl` does both). Each returns a sentence for the LLM saying what happened."""

    async def hang_up(self, reason: str = ...) -> str:
        """End the call once the bot has finished speaking."""
        ...

    async def transfer(self, destination: str) -> str:
        """Hand the caller over to ``destination`` (a configured target's name)."""
        ...


def new_session_id() -> str:
    """A fresh random session id (12 URL-safe characters)."""
    return secrets.token_urlsafe(9)


@dataclass(frozen=True)
class SessionInfo:
    """What is known about one session's other end (``None`` where the transport cannot tell)."""

    session_id: str = field(default_factory=new_session_id)
    """Unique per session: the SIP Call-ID on the phone, the WebRTC session id, a random id else."""
    transport: str = "local"
    """The transport's kind: ``"sip"``, ``"webrtc"``, ``"file"``, or ``"local"`` (tests, no
    transport)."""
    caller: str | None = None
    """The caller's id: on the phone the user part of the SIP From URI (usually their number)."""
    remote: str | None = None
    """The address the session's media or signalling came from (the SIP peer, a gateway or proxy)."""
    call_id: str | None = None
    """The SIP Call-ID of a phone call."""
    controls: CallActions | None = field(default=None, repr=False, compare=False)
    """Hang-up and transfer for this call; ``None`` where the transport offers neither."""

    @property
    def can_hang_up(self) -> bool:
        """Whether the agent can end this call (and transfer it, where targets are configured)."""
        return self.controls is not None
