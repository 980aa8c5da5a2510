"""INVITE server transactions (RFC 3261 §17.2.1): ringing, the final answer, and its ACK.

A final response is repeated over UDP (T1 doubling, capped at T2) until the ACK arrives; a 2xx
that is never acknowledged hangs up the dialog it set up. ACK and CANCEL are matched to their
INVITE by branch, or by Call-ID and CSeq number (the ACK of a 2xx is a transaction of its own, and
RFC 2543 peers do not reuse the INVITE's branch for CANCEL).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

import anyio

from cascade.transports.sip.message import SipRequest, SipResponse
from cascade.transports.sip.network import Peer
from cascade.transports.sip.transaction import CACHE_SECONDS, T2, SipTransactions


class Dialog(Protocol):
    """What an INVITE transaction needs of the dialog (call) it set up."""

    ended: anyio.Event

    async def hang_up(self, reason: str) -> None:
        """End the dialog (a BYE when it was answered)."""


D = TypeVar("D", bound=Dialog)


@dataclass(eq=False)
class InviteTransaction(Generic[D]):
    """One INVITE we answer: the last response sent (for retransmissions) and whether it was ACKed."""

    request: SipRequest
    peer: Peer
    dialog: D | None = None
    last: bytes = b""
    final: bool = False
    acked: anyio.Event = field(default_factory=anyio.Event)
    created: float = field(default_factory=time.monotonic)


class InviteServer(Generic[D]):
    """The INVITE server transactions of one user agent.

    ``spawn(fn, *args)`` runs a retransmission task in the user agent's task group.
    """

    def __init__(self, transactions: SipTransactions, spawn: Callable[..., None]) -> None:
        self.transactions = transactions
        self._spawn = spawn
        self._invites: dict[str, InviteTransaction[D]] = {}

    def begin(
        self, request: SipRequest, peer: Peer, branch: str, dialog: D | None = None
    ) -> InviteTransaction[D]:
        """Start the transaction of a new INVITE (or re-INVITE of ``dialog``)."""
        tx = InviteTransaction(request, peer, dialog)
        self._invites[branch] = tx
        return tx

    async def resend_last(self, branch: str, peer: Peer) -> bool:
        """A retransmitted INVITE gets our last response again; False when the INVITE is new."""
        tx = self._invites.get(branch)
        if tx is None:
            return False
        if tx.last:
            await self.transactions.send(tx.last, peer)
        return True

    def match(self, request: SipRequest, branch: str) -> InviteTransaction[D] | None:
        """The INVITE transaction an ACK or CANCEL belongs to."""
        tx = self._invites.get(branch)
        if tx is not None:
            return tx
        number = request.cseq[0]
        return next(
            (
                t
                for t in self._invites.values()
                if t.request.call_id == request.call_id and t.request.cseq[0] == number
            ),
            None,
        )

    def prune(self, now: float) -> None:
        """Forget finished transactions (ACKed, or past the retransmission window)."""
        self._invites = {
            k: tx
            for k, tx in self._invites.items()
            if not (tx.final and (tx.acked.is_set() or now - tx.created > CACHE_SECONDS))
        }

    async def provisional(self, tx: InviteTransaction[D], status: int, reason: str, **kwargs: object) -> None:
        """Send a 1xx (repeated when the INVITE is retransmitted)."""
        response = self.transactions.make_response(tx.request, status, reason, peer=tx.peer, **kwargs)  # type: ignore[arg-type]
        tx.last = response.to_bytes()
        await self.transactions.send(tx.last, tx.peer)

    async def final(self, tx: InviteTransaction[D], status: int, reason: str, **kwargs: object) -> None:
        """Build and send a final response (see :meth:`send_final`)."""
        response = self.transactions.make_response(tx.request, status, reason, peer=tx.peer, **kwargs)  # type: ignore[arg-type]
        await self.send_final(tx, response)

    async def send_final(self, tx: InviteTransaction[D], response: SipResponse) -> None:
        """Send a final INVITE response; over UDP repeat it until the ACK comes."""
        tx.last, tx.final = response.to_bytes(), True
        await self.transactions.send(tx.last, tx.peer)
        if tx.peer.transport == "udp":
            self._spawn(self._retransmit, tx, response.status)
        elif response.status < 300 and tx.dialog is not None:
            self._spawn(self._await_ack, tx)

    async def _retransmit(self, tx: InviteTransaction[D], status: int) -> None:
        options = self.transactions.options
        interval = options.t1
        with anyio.move_on_after(64 * options.t1):
            while not tx.acked.is_set():
                with anyio.move_on_after(interval):
                    await tx.acked.wait()
                if tx.acked.is_set() or (tx.dialog is not None and tx.dialog.ended.is_set()):
                    return
                await self.transactions.send(tx.last, tx.peer)
                interval = min(interval * 2, T2)
        if not tx.acked.is_set() and status < 300 and tx.dialog is not None:
            await tx.dialog.hang_up("no ACK for our 200 OK")

    async def _await_ack(self, tx: InviteTransaction[D]) -> None:
        with anyio.move_on_after(64 * self.transactions.options.t1):
            await tx.acked.wait()
        if not tx.acked.is_set() and tx.dialog is not None:
            await tx.dialog.hang_up("no ACK for our 200 OK")
