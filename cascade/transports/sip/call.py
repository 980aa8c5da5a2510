"""One call: the dialog (RFC 3261 §12), its media, and what can be done with it (BYE, REFER).

The user agent creates a :class:`SipCall` for every accepted INVITE and routes the dialog's
requests to it; the call answers them and sends its own through the user agent's
:class:`~cascade.transports.sip.transaction.SipTransactions`. The application (the phone bridge)
reads :attr:`SipCall.media` and calls :meth:`SipCall.hang_up` / :meth:`SipCall.transfer`.
"""

from __future__ import annotations

import logging
import re

import anyio

from cascade.transports.sip.address import NameAddr, SipUri
from cascade.transports.sip.dtmf import parse_info_dtmf
from cascade.transports.sip.media import RtpSession
from cascade.transports.sip.message import SipParseError, SipRequest, SipResponse
from cascade.transports.sip.network import Peer
from cascade.transports.sip.sdp import LocalMedia, SdpError, negotiate, parse_sdp
from cascade.transports.sip.transaction import ALLOW, USER_AGENT, SipTransactions

log = logging.getLogger("cascade.sip.call")


class CallError(RuntimeError):
    """A call operation failed (the text says what the peer answered)."""


class SipCall:
    """An answered (or ringing) call from ``invite``."""

    def __init__(
        self, transactions: SipTransactions, invite: SipRequest, peer: Peer, media: RtpSession, local_tag: str
    ) -> None:
        self.transactions = transactions
        self.options = transactions.options
        self.invite = invite
        self.peer = peer
        self.media = media
        self.call_id = invite.call_id
        self.local_tag = local_tag
        remote = NameAddr.parse(invite.require("From"))
        local = NameAddr.parse(invite.require("To"))
        local.params["tag"] = local_tag
        self.remote_tag = remote.tag
        self.remote_party = remote
        self.local_party = local
        contact = invite.get("Contact")
        target = NameAddr.parse(contact).uri if contact else remote.uri
        self.remote_target = SipUri.parse(target)
        self.route_set = [NameAddr.parse(r) for r in invite.get_all("Record-Route")]
        self.local_cseq = 1
        self.remote_cseq = invite.cseq[0]
        self.local_media = LocalMedia(self.options.contact_host, media.local_port)
        self.ended = anyio.Event()
        self.end_reason = ""
        self.cancelled = anyio.Event()
        self.answered = anyio.Event()
        self.late_offer = not invite.body
        self._transfer_result: anyio.Event | None = None
        self._transfer_status = 0
        self.user = ""
        """Authenticated digest user name ('' when admitted by address)."""

    @property
    def caller(self) -> str:
        """The caller's URI (From)."""
        return self.remote_party.uri

    @property
    def callee(self) -> str:
        """The called URI (To)."""
        return self.local_party.uri

    def __repr__(self) -> str:
        return f"<SipCall {self.call_id} from {self.caller} via {self.peer}>"

    # --- requests from the peer ----------------------------------------------------------------

    def accept_offer(self, body: bytes) -> None:
        """Negotiate an SDP offer (INVITE, re-INVITE) or answer (ACK after a late offer)."""
        negotiated = negotiate(parse_sdp(body), self.options.codecs)
        was_hold = self.media.on_hold
        self.media.configure(negotiated)
        if self.media.on_hold != was_hold:
            log.info("%s %s", self, "put on hold" if self.media.on_hold else "taken off hold")

    def answer_sdp(self) -> bytes:
        """Our SDP for the 200 OK: the answer, or an offer when the INVITE had none."""
        if self.media.negotiated is None:
            return self.local_media.offer(self.options.codecs)
        return self.local_media.answer(self.media.negotiated)

    async def on_request(self, request: SipRequest, peer: Peer) -> None:
        """A request inside this dialog (not INVITE/ACK/CANCEL, which the user agent handles)."""
        number = request.cseq[0]
        if number < self.remote_cseq and request.method != "ACK":
            await self.transactions.respond(
                request, peer, 500, "Server Internal Error", headers=[("Retry-After", "1")]
            )
            return
        self.remote_cseq = max(self.remote_cseq, number)
        method = request.method
        if method == "BYE":
            await self.transactions.respond(request, peer, 200, "OK")
            self.finish("caller hung up")
        elif method == "INFO":
            await self._on_info(request, peer)
        elif method == "NOTIFY":
            await self.transactions.respond(request, peer, 200, "OK")
            self._on_notify(request)
        elif method == "OPTIONS":
            await self.transactions.respond_options(request, peer)
        else:
            await self.transactions.respond(
                request, peer, 405, "Method Not Allowed", headers=[("Allow", ALLOW)]
            )

    async def on_reinvite(self, request: SipRequest, peer: Peer) -> SipResponse:
        """A re-INVITE (hold, resume, new address): the response to send (with retransmission)."""
        self.remote_cseq = max(self.remote_cseq, request.cseq[0])
        if request.body:
            try:
                self.accept_offer(request.body)
            except SdpError as exc:
                return self.transactions.make_response(request, 488, "Not Acceptable Here", warning=str(exc))
        self.local_media.version += 1
        return self.transactions.make_response(
            request,
            200,
            "OK",
            to_tag=self.local_tag,
            contact=True,
            body=self.answer_sdp(),
            content_type="application/sdp",
        )

    async def _on_info(self, request: SipRequest, peer: Peer) -> None:
        if not request.body:
            await self.transactions.respond(request, peer, 200, "OK")  # an INFO keep-alive
            return
        digit = parse_info_dtmf(request.content_type, request.body.decode("utf-8", "replace"))
        if digit is None:
            await self.transactions.respond(
                request, peer, 415, "Unsupported Media Type", headers=[("Accept", "application/dtmf-relay")]
            )
            return
        await self.transactions.respond(request, peer, 200, "OK")
        log.info("%s DTMF %s (SIP INFO)", self, digit)
        self.media.digits.append(digit)

    def _on_notify(self, request: SipRequest) -> None:
        if self._transfer_result is None or not (request.get("Event") or "").lower().startswith("refer"):
            return
        match = re.match(r"SIP/2\.0 (\d{3})", request.body.decode("utf-8", "replace").strip())
        if match:
            self._transfer_status = int(match.group(1))
            if self._transfer_status >= 200:
                self._transfer_result.set()

    # --- what the application does -------------------------------------------------------------

    def finish(self, reason: str) -> None:
        """Mark the call over (no signalling)."""
        if not self.ended.is_set():
            self.end_reason = reason
            log.info("%s ended: %s", self, reason)
            self.ended.set()

    def new_request(self, method: str) -> tuple[SipRequest, Peer]:
        """A request inside this dialog and where to send it (route set, then remote target)."""
        self.local_cseq += 1
        request = SipRequest(method=method, uri=str(self.remote_target))
        first_hop = SipUri.parse(self.route_set[0].uri) if self.route_set else self.remote_target
        transport = self.peer.transport if "transport" not in first_hop.params else first_hop.transport
        peer = Peer(transport, first_hop.host, first_hop.port or 5060)
        if (
            transport == "tcp"
            and self.peer.transport == "tcp"
            and self.transactions.network.has_connection(self.peer)
        ):
            peer = self.peer  # reuse the connection the call came in on
        request.add("Via", str(self.transactions.via(transport)))
        request.add("Max-Forwards", "70")
        request.add("From", str(self.local_party))
        request.add("To", str(self.remote_party))
        request.add("Call-ID", self.call_id)
        request.add("CSeq", f"{self.local_cseq} {method}")
        for route in self.route_set:
            request.add("Route", str(route))
        request.add("Contact", self.transactions.contact(transport))
        request.add("User-Agent", USER_AGENT)
        return request, peer

    async def hang_up(self, reason: str = "bot hung up") -> None:
        """Send BYE (if the call is still up) and end the call. Never raises."""
        if self.ended.is_set():
            return
        self.finish(reason)
        if not self.answered.is_set():
            return
        request, peer = self.new_request("BYE")
        try:
            with anyio.fail_after(min(8.0, self.options.transaction_timeout)):
                await self.transactions.send_request(request, peer)
        except (TimeoutError, OSError, SipParseError) as exc:
            log.warning("%s: BYE got no answer (%s)", self, exc)

    async def transfer(self, target: str, *, wait: float = 30.0) -> int:
        """Blind transfer (REFER) to ``target`` (a SIP URI or a user/number in the caller's domain).

        Returns the final status the transferee reported (200 when the new call connected), and hangs
        up after a successful transfer. Raises :class:`CallError` when the peer refused the REFER.
        """
        if self.ended.is_set():
            raise CallError("the call has already ended")
        refer_to = target if target.startswith(("sip:", "sips:", "tel:")) else self._uri_for(target)
        request, peer = self.new_request("REFER")
        request.add("Refer-To", f"<{refer_to}>")
        request.add("Referred-By", f"<{self.local_party.uri}>")
        self._transfer_result, self._transfer_status = anyio.Event(), 0
        try:
            response = await self.transactions.send_request(request, peer)
            if response.status >= 300:
                raise CallError(f"transfer to {refer_to} refused: {response.status} {response.reason}")
            with anyio.move_on_after(wait):
                await self._transfer_result.wait()
        finally:
            self._transfer_result = None
        status = self._transfer_status
        if 200 <= status < 300:
            await self.hang_up(f"transferred to {refer_to}")
        return status

    def _uri_for(self, user: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9.+_*#-]+", user):
            raise CallError(f"transfer target {user!r} is neither a SIP URI nor a plain number or user name")
        domain = SipUri.parse(self.remote_party.uri).host
        return f"sip:{user}@{domain}"
