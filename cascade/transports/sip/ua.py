"""The SIP user agent server: receives calls, routes requests to their dialogs, admits callers.

* Transactions (:mod:`~cascade.transports.sip.transaction`, :mod:`~cascade.transports.sip.invite`):
  responses to non-INVITE requests are cached so retransmissions get the same answer; INVITE
  final responses are retransmitted over UDP until the ACK arrives.
* Admission (:mod:`~cascade.transports.sip.admission`): calls are accepted from ``allow_from``
  networks, or after digest authentication (``auth_users``); otherwise 403. Beyond ``max_calls``
  the answer is 486 (or 503).
* Registration (:mod:`~cascade.transports.sip.registration`) when ``options.registration`` is set.
* Malformed messages get ``400 Bad Request`` with a ``Warning`` header naming the problem when a
  reply can be addressed, and are dropped otherwise. Nothing a peer sends stops the agent.

For each answered call the application's ``on_call(call)`` coroutine runs, owned by the agent's
task group; when it returns the call is hung up (if still up) and its media socket closed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import anyio
from anyio.abc import TaskGroup

from cascade.readiness import Readiness
from cascade.transports.sip.address import NameAddr, Via, new_tag
from cascade.transports.sip.admission import Admission
from cascade.transports.sip.call import SipCall
from cascade.transports.sip.invite import InviteServer, InviteTransaction
from cascade.transports.sip.media import RtpSession, open_rtp_socket
from cascade.transports.sip.message import (
    SipParseError,
    SipRequest,
    SipResponse,
    check_request,
    parse_message,
)
from cascade.transports.sip.network import Peer, SipNetwork
from cascade.transports.sip.options import SipOptions
from cascade.transports.sip.registration import Registration
from cascade.transports.sip.sdp import SdpError
from cascade.transports.sip.transaction import ALLOW, SipTransactions

log = logging.getLogger("cascade.sip")

CallHandler = Callable[[SipCall], Awaitable[None]]


@dataclass
class UserAgentStats:
    """What the user agent counted since it started."""

    calls: int = 0
    """Calls answered."""
    rejected: int = 0
    """INVITEs refused (not allowed, or over ``max_calls``)."""
    bad_requests: int = 0
    """Malformed messages (each answered with 400 where it can be addressed)."""
    dropped: int = 0
    """Malformed messages that could not be answered (a response, an ACK, no usable headers)."""


class SipUserAgent:
    """Listens for calls and hands each answered one to ``on_call``. Run it with :meth:`run`."""

    def __init__(self, options: SipOptions, on_call: CallHandler, readiness: Readiness | None = None) -> None:
        self.options = options
        self.on_call = on_call
        self.readiness = readiness or Readiness("ready")
        """Until it is ready, INVITE and OPTIONS get 503 (the app is preparing its models)."""
        self.network = SipNetwork(options.host, options.port, options.transports, self._on_datagram)
        self.transactions = SipTransactions(options, self.network)
        self.invites: InviteServer[SipCall] = InviteServer(self.transactions, self._spawn)
        self.admission = Admission(options)
        self.registration = (
            Registration(self.transactions, options.registration) if options.registration else None
        )
        self.calls: dict[tuple[str, str], SipCall] = {}
        """Active dialogs by (Call-ID, our tag)."""
        self._tg: TaskGroup | None = None
        self._unregistered = anyio.Event()
        self.ready = anyio.Event()
        self.stats = UserAgentStats()

    @property
    def port(self) -> int:
        """Our SIP port (the bound one once running)."""
        return self.network.port

    @property
    def active_calls(self) -> int:
        """Calls ringing or up."""
        return len(self.calls)

    @property
    def registered(self) -> anyio.Event:
        """Set while the registrar has our contact (never set without ``options.registration``)."""
        return self.registration.registered if self.registration is not None else self._unregistered

    # --- lifecycle -----------------------------------------------------------------------------

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[SipUserAgent] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Serve until cancelled; active calls get a BYE on the way out."""
        network_scope = anyio.CancelScope(shield=True)  # outlives the calls, to say goodbye

        async def network(*, task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED) -> None:
            with network_scope:
                await self.network.run(task_status=task_status)

        async with anyio.create_task_group() as outer:
            await outer.start(network)
            try:
                async with anyio.create_task_group() as tg:
                    self._tg = tg
                    tg.start_soon(self._housekeeping)
                    if self.registration is not None:
                        tg.start_soon(self.registration.run)
                    log.info(
                        "SIP user agent on %s port %d (%s)",
                        self.options.host,
                        self.port,
                        "/".join(self.options.transports),
                    )
                    self.ready.set()
                    task_status.started(self)
                    await anyio.sleep_forever()
            finally:
                self._tg = None
                self.ready = anyio.Event()
                with anyio.CancelScope(shield=True), anyio.move_on_after(1.0):
                    await self._goodbye()
                network_scope.cancel()

    async def _goodbye(self) -> None:
        """Shutting down: one BYE to every call that is still up (no waiting for answers)."""
        for call in list(self.calls.values()):
            if call.answered.is_set() and not call.ended.is_set():
                request, peer = call.new_request("BYE")
                call.finish("bridge shutting down")
                await self.transactions.send(request.to_bytes(), peer)

    def _spawn(self, fn: Callable[..., Coroutine[Any, Any, object]], *args: object) -> None:
        if self._tg is None:
            raise RuntimeError("the SIP user agent is not running")
        self._tg.start_soon(fn, *args)

    async def _housekeeping(self) -> None:
        while True:
            await anyio.sleep(5.0)
            now = time.monotonic()
            self.transactions.prune(now)
            self.invites.prune(now)

    # --- receiving -----------------------------------------------------------------------------

    async def _on_datagram(self, data: bytes, peer: Peer) -> None:
        try:
            message = parse_message(data)
        except SipParseError as exc:
            await self._reject_unparsable(data, peer, exc)
            return
        if isinstance(message, SipResponse):
            self.transactions.on_response(message)
            return
        try:
            check_request(message)
            Via.parse(message.require("Via"))
            NameAddr.parse(message.require("From"))
            NameAddr.parse(message.require("To"))
        except SipParseError as exc:
            await self._bad_request(message, peer, str(exc))
            return
        try:
            await self._on_request(message, peer)
        except SipParseError as exc:
            await self._bad_request(message, peer, str(exc))

    async def _reject_unparsable(self, data: bytes, peer: Peer, exc: SipParseError) -> None:
        """Answer 400 if the broken message still names enough to address a reply, else drop it."""
        log.info("malformed SIP from %s: %s", peer, exc)
        head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
        lines = head.replace("\r\n", "\n").split("\n")
        if not lines or lines[0].startswith("SIP/2.0") or lines[0].split(" ")[0] == "ACK":
            self.stats.dropped += 1
            return
        salvage = SipRequest(method=lines[0].split(" ")[0][:32])
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if colon and name.strip():
                try:
                    salvage.add(name.strip(), value.strip())
                except Exception:  # a header name we cannot even canonicalize
                    continue
        if all(salvage.get(h) for h in ("Via", "From", "To", "Call-ID", "CSeq")):
            await self._bad_request(salvage, peer, str(exc))
        else:
            self.stats.dropped += 1

    async def _bad_request(self, request: SipRequest, peer: Peer, problem: str) -> None:
        self.stats.bad_requests += 1
        log.info("400 to %s %s: %s", peer, request.method, problem)
        if request.method == "ACK" or not all(
            request.get(h) for h in ("Via", "From", "To", "Call-ID", "CSeq")
        ):
            self.stats.dropped += 1
            return
        try:
            response = self.transactions.make_response(
                request, 400, "Bad Request", warning=problem, peer=peer
            )
        except SipParseError:  # not even the Via can be used to address a reply
            self.stats.dropped += 1
            return
        await self.transactions.send(response.to_bytes(), peer)

    def _find_call(self, request: SipRequest) -> SipCall | None:
        to_tag = NameAddr.parse(request.require("To")).tag
        return self.calls.get((request.call_id, to_tag))

    async def _on_request(self, request: SipRequest, peer: Peer) -> None:
        method = request.method
        branch = Via.parse(request.require("Via")).branch
        respond = self.transactions.respond
        if method == "ACK":
            await self._on_ack(request, branch)
            return
        if method == "INVITE":
            if await self.invites.resend_last(branch, peer):
                return
        elif await self.transactions.resend_cached(request, branch, peer):
            return
        if method == "CANCEL":
            await self._on_cancel(request, peer, branch)
            return
        to_tag = NameAddr.parse(request.require("To")).tag
        if to_tag:
            call = self._find_call(request)
            if call is None:
                if method == "OPTIONS":
                    await self.transactions.respond_options(request, peer)
                else:
                    await respond(request, peer, 481, "Call/Transaction Does Not Exist")
            elif method == "INVITE":
                tx = self.invites.begin(request, peer, branch, call)
                await self.invites.send_final(tx, await call.on_reinvite(request, peer))
            else:
                await call.on_request(request, peer)
            return
        if method == "INVITE":
            await self._on_invite(request, peer, branch)
        elif method == "OPTIONS":
            if self.admission.admit(request, peer) is None:
                return
            if self.readiness.ready:
                await self.transactions.respond_options(request, peer)
            else:
                await respond(request, peer, 503, "Service Unavailable", **self._not_ready())
        elif method in ("BYE", "INFO", "NOTIFY", "REFER", "PRACK", "UPDATE"):
            await respond(request, peer, 481, "Call/Transaction Does Not Exist")
        elif method in ("REGISTER", "SUBSCRIBE", "PUBLISH", "MESSAGE"):
            await respond(request, peer, 405, "Method Not Allowed", headers=[("Allow", ALLOW)])
        else:
            await respond(request, peer, 501, "Not Implemented", headers=[("Allow", ALLOW)])

    # --- a new call ----------------------------------------------------------------------------

    async def _on_invite(self, request: SipRequest, peer: Peer, branch: str) -> None:
        tx = self.invites.begin(request, peer, branch)
        final = self.invites.final
        user = self.admission.admit(request, peer)
        if user is None:
            self.stats.rejected += 1
            challenge = self.admission.challenge()
            if challenge is not None:
                await final(tx, 401, "Unauthorized", headers=challenge, to_tag=new_tag())
            else:
                log.warning("refused INVITE from %s: not in allow_from and no auth configured", peer)
                await final(tx, 403, "Forbidden", to_tag=new_tag())
            return
        if not self.readiness.ready:
            self.stats.rejected += 1
            await final(tx, 503, "Service Unavailable", to_tag=new_tag(), **self._not_ready())
            return
        if self.active_calls >= self.options.max_calls:
            self.stats.rejected += 1
            reason = "Busy Here" if self.options.busy_status == 486 else "Service Unavailable"
            await final(
                tx, self.options.busy_status, reason, to_tag=new_tag(), headers=[("Retry-After", "5")]
            )
            return
        try:
            sock = await open_rtp_socket(self.options.host, self.options.rtp_ports)
        except OSError as exc:
            log.error("cannot open an RTP socket: %s", exc)
            await final(tx, 503, "Service Unavailable", to_tag=new_tag(), warning=str(exc))
            return
        media = RtpSession(sock, jitter_target=self.options.jitter_target, jitter_max=self.options.jitter_max)
        call = SipCall(self.transactions, request, peer, media, new_tag())
        call.user = user
        if request.body:
            if request.content_type not in ("application/sdp", ""):
                await media.aclose()
                await final(
                    tx,
                    415,
                    "Unsupported Media Type",
                    to_tag=call.local_tag,
                    headers=[("Accept", "application/sdp")],
                )
                return
            try:
                call.accept_offer(request.body)
            except SdpError as exc:
                await media.aclose()
                reason = "Bad Request" if exc.status == 400 else "Not Acceptable Here"
                await final(tx, exc.status, reason, to_tag=call.local_tag, warning=str(exc))
                return
        tx.dialog = call
        self.calls[(call.call_id, call.local_tag)] = call
        self.stats.calls += 1
        await self.invites.provisional(tx, 100, "Trying")
        self._spawn(self._run_call, call, tx)

    def _not_ready(self) -> dict[str, object]:
        return {"headers": [("Retry-After", "10")], "warning": self.readiness.reason}

    async def _run_call(self, call: SipCall, tx: InviteTransaction[SipCall]) -> None:
        try:
            if self.options.ring_seconds > 0:
                await self.invites.provisional(tx, 180, "Ringing", to_tag=call.local_tag)
                with anyio.move_on_after(self.options.ring_seconds):
                    await call.cancelled.wait()
            if call.cancelled.is_set() or call.ended.is_set():
                return
            ok = self.transactions.make_response(
                tx.request,
                200,
                "OK",
                to_tag=call.local_tag,
                contact=True,
                body=call.answer_sdp(),
                content_type="application/sdp",
                peer=tx.peer,
                headers=[("Allow", ALLOW)],
            )
            call.answered.set()
            await self.invites.send_final(tx, ok)
            await self.on_call(call)
        except Exception:
            log.exception("%s failed", call)
        finally:
            with anyio.CancelScope(shield=True):
                await call.hang_up("call handler ended")
                self.calls.pop((call.call_id, call.local_tag), None)
                await call.media.aclose()

    async def _on_ack(self, request: SipRequest, branch: str) -> None:
        tx = self.invites.match(request, branch)
        if tx is None:
            return
        call = tx.dialog
        if call is not None and call.late_offer and request.body and not tx.acked.is_set():
            call.late_offer = False
            try:
                call.accept_offer(request.body)
            except SdpError as exc:
                log.warning("%s: unusable SDP answer in ACK (%s); hanging up", call, exc)
                self._spawn(call.hang_up, "unusable SDP answer")
        tx.acked.set()

    async def _on_cancel(self, request: SipRequest, peer: Peer, branch: str) -> None:
        tx = self.invites.match(request, branch)
        if tx is None:
            await self.transactions.respond(request, peer, 481, "Call/Transaction Does Not Exist")
            return
        await self.transactions.respond(request, peer, 200, "OK")
        if tx.final or tx.dialog is None:
            return
        tx.dialog.cancelled.set()
        tx.dialog.finish("caller cancelled before answer")
        await self.invites.final(tx, 487, "Request Terminated", to_tag=tx.dialog.local_tag)
