"""SIP transactions (RFC 3261 §17) for everything but the INVITE server side, which has its own module.

* Responses carry the mandatory headers of their request (§8.2.6) and our Contact when asked.
* Server transactions: a final response to a non-INVITE request is cached, so a retransmitted
  request gets the same answer instead of running twice.
* Client transactions: a request is retransmitted over UDP (T1 doubling, capped at T2) until its
  final response arrives or ``transaction_timeout`` passes.

Nothing here knows about dialogs or calls; the user agent and the calls build on it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import anyio

from cascade.transports.sip.address import SipUri, Via, new_branch
from cascade.transports.sip.message import SipParseError, SipRequest, SipResponse
from cascade.transports.sip.network import Peer, SipNetwork
from cascade.transports.sip.options import SipOptions

log = logging.getLogger("cascade.sip")

ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, NOTIFY, REFER"
"""The methods we answer (the ``Allow`` header)."""
USER_AGENT = "cascade-sip/0.1"
"""Our ``User-Agent`` / ``Server`` header."""
T2 = 4.0
CACHE_SECONDS = 32.0


class SipTimeout(TimeoutError):
    """A request got no final response."""


@dataclass
class _ClientTx:
    done: anyio.Event = field(default_factory=anyio.Event)
    response: SipResponse | None = None


class SipTransactions:
    """Sends requests and responses for one user agent over its :class:`SipNetwork`."""

    def __init__(self, options: SipOptions, network: SipNetwork) -> None:
        self.options = options
        self.network = network
        self._cache: dict[tuple[str, str], tuple[bytes, Peer, float]] = {}
        self._client: dict[str, _ClientTx] = {}

    @property
    def port(self) -> int:
        """Our SIP port (the bound one once the network runs)."""
        return self.network.port

    def contact(self, transport: str = "udp") -> str:
        """Our Contact header value."""
        uri = SipUri(self.options.contact_host, self.options.user, self.port)
        if transport == "tcp":
            uri.params["transport"] = "tcp"
        return f"<{uri}>"

    def via(self, transport: str) -> Via:
        """A Via for a new request of ours (fresh branch, asking for ``rport``)."""
        return Via(
            transport.upper(), self.options.contact_host, self.port, {"branch": new_branch(), "rport": ""}
        )

    # --- responses -----------------------------------------------------------------------------

    def make_response(
        self,
        request: SipRequest,
        status: int,
        reason: str,
        *,
        to_tag: str | None = None,
        headers: list[tuple[str, str]] | None = None,
        body: bytes = b"",
        content_type: str = "",
        contact: bool = False,
        warning: str = "",
        peer: Peer | None = None,
    ) -> SipResponse:
        """A response to ``request`` with the mandatory headers copied (RFC 3261 §8.2.6)."""
        response = SipResponse(status=status, reason=reason)
        for index, value in enumerate(request.get_all("Via")):
            if index == 0 and peer is not None:
                via = Via.parse(value)
                via.params["received"] = peer.host
                if "rport" in via.params:
                    via.params["rport"] = str(peer.port)
                value = str(via)
            response.add("Via", value)
        for name in ("From", "Call-ID", "CSeq"):
            response.add(name, request.get(name) or "")
        to = request.get("To") or ""
        if to_tag and status > 100 and ";tag=" not in to.replace(" ", ""):
            to = f"{to};tag={to_tag}"
        response.add("To", to)
        for name in ("Record-Route",) if 100 < status < 300 else ():
            for value in request.get_all(name):
                response.add(name, value)
        if contact:
            response.add("Contact", self.contact(peer.transport if peer else "udp"))
        response.add("Server", USER_AGENT)
        if warning:
            response.add("Warning", '399 cascade "' + warning.replace('"', "'")[:200] + '"')
        for name, value in headers or []:
            response.add(name, value)
        if body:
            response.add("Content-Type", content_type)
        response.body = body
        return response

    async def respond(
        self, request: SipRequest, peer: Peer, status: int, reason: str, **kwargs: object
    ) -> SipResponse:
        """Send (and cache, for retransmissions) a response to a non-INVITE request."""
        response = self.make_response(request, status, reason, peer=peer, **kwargs)  # type: ignore[arg-type]
        data = response.to_bytes()
        if status >= 200:
            branch = Via.parse(request.require("Via")).branch
            self._cache[(branch, request.method)] = (data, peer, time.monotonic() + CACHE_SECONDS)
        await self.send(data, peer)
        return response

    async def respond_options(self, request: SipRequest, peer: Peer) -> None:
        """Answer OPTIONS with what we support."""
        await self.respond(
            request,
            peer,
            200,
            "OK",
            headers=[("Allow", ALLOW), ("Accept", "application/sdp, application/dtmf-relay")],
        )

    async def resend_cached(self, request: SipRequest, branch: str, peer: Peer) -> bool:
        """Answer a retransmitted non-INVITE request with the cached response; False if none."""
        cached = self._cache.get((branch, request.method))
        if cached is None:
            return False
        await self.send(cached[0], peer)
        return True

    async def send(self, data: bytes, peer: Peer) -> None:
        """Send a message; a peer we cannot reach is logged, not raised (it will retransmit)."""
        try:
            await self.network.send(data, peer)
        except OSError as exc:
            log.warning("cannot send to %s: %s", peer, exc)

    def prune(self, now: float) -> None:
        """Forget cached responses older than the longest retransmission window."""
        self._cache = {k: v for k, v in self._cache.items() if v[2] > now}

    # --- requests ------------------------------------------------------------------------------

    async def send_request(self, request: SipRequest, peer: Peer) -> SipResponse:
        """Send a request (retransmitted over UDP) and return its final response.

        Raises :class:`SipTimeout` after ``transaction_timeout`` and :class:`OSError` when the
        peer cannot be reached.
        """
        branch = Via.parse(request.require("Via")).branch
        tx = _ClientTx()
        self._client[branch] = tx
        data = request.to_bytes()
        try:
            with anyio.move_on_after(self.options.transaction_timeout):
                interval = self.options.t1
                while True:
                    await self.network.send(data, peer)
                    with anyio.move_on_after(
                        interval if peer.transport == "udp" else self.options.transaction_timeout
                    ):
                        await tx.done.wait()
                    if tx.response is not None:
                        return tx.response
                    interval = min(interval * 2, T2)
            raise SipTimeout(
                f"no answer to {request.method} from {peer} within {self.options.transaction_timeout}s"
            )
        finally:
            del self._client[branch]

    def on_response(self, response: SipResponse) -> None:
        """Hand a received response to the client transaction waiting for it (others are dropped)."""
        vias = response.get_all("Via")
        if not vias:
            return
        try:
            branch = Via.parse(vias[0]).branch
        except SipParseError:
            return
        tx = self._client.get(branch)
        if tx is not None and response.status >= 200 and tx.response is None:
            tx.response = response
            tx.done.set()
