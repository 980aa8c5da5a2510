"""The SIP user agent server: receives calls, runs transactions, keeps dialogs.

* Server transactions: responses to non-INVITE requests are cached so retransmissions get the
  same answer; INVITE final responses are retransmitted over UDP (T1 doubling, capped at T2) until
  the ACK arrives.
* Admission: calls are accepted from ``allow_from`` networks, or after digest authentication
  (``auth_users``); otherwise 403. Beyond ``max_calls`` the answer is 486 (or 503).
* Malformed messages get ``400 Bad Request`` with a ``Warning`` header naming the problem when a
  reply can be addressed, and are dropped otherwise. Nothing a peer sends stops the agent.

For each answered call the application's ``on_call(call)`` coroutine runs, owned by the agent's
task group; when it returns the call is hung up (if still up) and its media socket closed.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio.abc import TaskGroup

from cascade.transports.sip.address import NameAddr, SipUri, Via, new_branch, new_tag
from cascade.transports.sip.auth import DigestVerifier, authorization_header
from cascade.transports.sip.call import SipCall
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
from cascade.transports.sip.sdp import SdpError

log = logging.getLogger("cascade.sip")

CallHandler = Callable[[SipCall], Awaitable[None]]
T2 = 4.0
CACHE_SECONDS = 32.0


class SipTimeout(TimeoutError):
    """A request got no final response."""


@dataclass
class _InviteTx:
    request: SipRequest
    peer: Peer
    last: bytes = b""
    final: bool = False
    acked: anyio.Event = field(default_factory=anyio.Event)
    call: SipCall | None = None
    created: float = field(default_factory=time.monotonic)


@dataclass
class _ClientTx:
    done: anyio.Event = field(default_factory=anyio.Event)
    response: SipResponse | None = None


class SipUserAgent:
    """Listens for calls and hands each answered one to ``on_call``. Run it with :meth:`run`."""

    ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, NOTIFY, REFER"
    USER_AGENT = "cascade-sip/0.1"

    def __init__(self, options: SipOptions, on_call: CallHandler) -> None:
        self.options = options
        self.on_call = on_call
        self.network = SipNetwork(options.host, options.port, options.transports, self._on_datagram)
        self.port = options.port
        self.verifier = DigestVerifier(options.realm, options.auth_users) if options.auth_users else None
        self._networks = [ipaddress.ip_network(n, strict=False) for n in options.allow_from]
        self.calls: dict[tuple[str, str], SipCall] = {}
        """Active dialogs by (Call-ID, our tag)."""
        self._invites: dict[str, _InviteTx] = {}
        self._cache: dict[tuple[str, str], tuple[bytes, Peer, float]] = {}
        self._client: dict[str, _ClientTx] = {}
        self._tg: TaskGroup | None = None
        self.ready = anyio.Event()
        self.registered = anyio.Event()
        self.stats = {"calls": 0, "rejected": 0, "bad_requests": 0, "dropped": 0}

    @property
    def active_calls(self) -> int:
        """Calls ringing or up."""
        return len(self.calls)

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
            self.port = await outer.start(network)
            try:
                async with anyio.create_task_group() as tg:
                    self._tg = tg
                    tg.start_soon(self._housekeeping)
                    if self.options.registration is not None:
                        tg.start_soon(self._register_loop)
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
                await self._send(request.to_bytes(), peer)

    def _spawn(self, fn: Callable[..., Coroutine[Any, Any, object]], *args: object) -> None:
        if self._tg is None:
            raise RuntimeError("the SIP user agent is not running")
        self._tg.start_soon(fn, *args)

    async def _housekeeping(self) -> None:
        while True:
            await anyio.sleep(5.0)
            now = time.monotonic()
            self._cache = {k: v for k, v in self._cache.items() if v[2] > now}
            self._invites = {
                k: tx
                for k, tx in self._invites.items()
                if not (tx.final and (tx.acked.is_set() or now - tx.created > CACHE_SECONDS))
            }

    def contact(self, transport: str = "udp") -> str:
        """Our Contact header value."""
        uri = SipUri(self.options.contact_host, self.options.user, self.port)
        if transport == "tcp":
            uri.params["transport"] = "tcp"
        return f"<{uri}>"

    # --- sending -------------------------------------------------------------------------------

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
        response.add("Server", self.USER_AGENT)
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
        await self._send(data, peer)
        return response

    async def respond_options(self, request: SipRequest, peer: Peer) -> None:
        """Answer OPTIONS with what we support."""
        await self.respond(
            request,
            peer,
            200,
            "OK",
            headers=[("Allow", self.ALLOW), ("Accept", "application/sdp, application/dtmf-relay")],
        )

    async def _send(self, data: bytes, peer: Peer) -> None:
        try:
            await self.network.send(data, peer)
        except OSError as exc:
            log.warning("cannot send to %s: %s", peer, exc)

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

    # --- receiving -----------------------------------------------------------------------------

    async def _on_datagram(self, data: bytes, peer: Peer) -> None:
        try:
            message = parse_message(data)
        except SipParseError as exc:
            await self._reject_unparsable(data, peer, exc)
            return
        if isinstance(message, SipResponse):
            self._on_response(message)
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
            self.stats["dropped"] += 1
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
            self.stats["dropped"] += 1

    async def _bad_request(self, request: SipRequest, peer: Peer, problem: str) -> None:
        self.stats["bad_requests"] += 1
        log.info("400 to %s %s: %s", peer, request.method, problem)
        if request.method == "ACK" or not all(
            request.get(h) for h in ("Via", "From", "To", "Call-ID", "CSeq")
        ):
            self.stats["dropped"] += 1
            return
        try:
            response = self.make_response(request, 400, "Bad Request", warning=problem, peer=peer)
        except SipParseError:  # not even the Via can be used to address a reply
            self.stats["dropped"] += 1
            return
        await self._send(response.to_bytes(), peer)

    def _on_response(self, response: SipResponse) -> None:
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

    def _find_call(self, request: SipRequest) -> SipCall | None:
        to_tag = NameAddr.parse(request.require("To")).tag
        return self.calls.get((request.call_id, to_tag))

    async def _on_request(self, request: SipRequest, peer: Peer) -> None:
        method = request.method
        branch = Via.parse(request.require("Via")).branch
        if method == "ACK":
            await self._on_ack(request, branch)
            return
        if method == "INVITE":
            tx = self._invites.get(branch)
            if tx is not None:
                if tx.last:
                    await self._send(tx.last, peer)  # a retransmitted INVITE
                return
        elif (cached := self._cache.get((branch, method))) is not None:
            await self._send(cached[0], peer)
            return
        if method == "CANCEL":
            await self._on_cancel(request, peer, branch)
            return
        to_tag = NameAddr.parse(request.require("To")).tag
        if to_tag:
            call = self._find_call(request)
            if call is None:
                if method == "OPTIONS":
                    await self.respond_options(request, peer)
                else:
                    await self.respond(request, peer, 481, "Call/Transaction Does Not Exist")
            elif method == "INVITE":
                tx = _InviteTx(request, peer, call=call)
                self._invites[branch] = tx
                await self._send_final(tx, await call.on_reinvite(request, peer))
            else:
                await call.on_request(request, peer)
            return
        if method == "INVITE":
            await self._on_invite(request, peer, branch)
        elif method == "OPTIONS":
            if self._admitted(request, peer) is not None:
                await self.respond_options(request, peer)
        elif method in ("BYE", "INFO", "NOTIFY", "REFER", "PRACK", "UPDATE"):
            await self.respond(request, peer, 481, "Call/Transaction Does Not Exist")
        elif method in ("REGISTER", "SUBSCRIBE", "PUBLISH", "MESSAGE"):
            await self.respond(request, peer, 405, "Method Not Allowed", headers=[("Allow", self.ALLOW)])
        else:
            await self.respond(request, peer, 501, "Not Implemented", headers=[("Allow", self.ALLOW)])

    def _admitted(self, request: SipRequest, peer: Peer) -> str | None:
        """'' for an allowed address, the user for valid credentials, ``None`` when refused."""
        try:
            address = ipaddress.ip_address(peer.host)
        except ValueError:
            address = None
        if address is not None and any(address in net for net in self._networks):
            return ""
        if self.verifier is not None:
            user = self.verifier.verify(request.get("Authorization"), request.method)
            if user is not None:
                return user
        return None

    async def _on_invite(self, request: SipRequest, peer: Peer, branch: str) -> None:
        tx = _InviteTx(request, peer)
        self._invites[branch] = tx
        user = self._admitted(request, peer)
        if user is None:
            self.stats["rejected"] += 1
            if self.verifier is not None:
                challenge = [("WWW-Authenticate", self.verifier.challenge())]
                await self._final(tx, 401, "Unauthorized", headers=challenge, to_tag=new_tag())
            else:
                log.warning("refused INVITE from %s: not in allow_from and no auth configured", peer)
                await self._final(tx, 403, "Forbidden", to_tag=new_tag())
            return
        if self.active_calls >= self.options.max_calls:
            self.stats["rejected"] += 1
            reason = "Busy Here" if self.options.busy_status == 486 else "Service Unavailable"
            await self._final(
                tx, self.options.busy_status, reason, to_tag=new_tag(), headers=[("Retry-After", "5")]
            )
            return
        try:
            sock = await open_rtp_socket(self.options.host, self.options.rtp_ports)
        except OSError as exc:
            log.error("cannot open an RTP socket: %s", exc)
            await self._final(tx, 503, "Service Unavailable", to_tag=new_tag(), warning=str(exc))
            return
        media = RtpSession(sock, jitter_target=self.options.jitter_target, jitter_max=self.options.jitter_max)
        call = SipCall(self, request, peer, media, new_tag())
        call.user = user
        if request.body:
            if request.content_type not in ("application/sdp", ""):
                await media.aclose()
                await self._final(
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
                await self._final(tx, exc.status, reason, to_tag=call.local_tag, warning=str(exc))
                return
        tx.call = call
        self.calls[(call.call_id, call.local_tag)] = call
        self.stats["calls"] += 1
        await self._provisional(tx, 100, "Trying")
        self._spawn(self._run_call, call, tx)

    async def _run_call(self, call: SipCall, tx: _InviteTx) -> None:
        try:
            if self.options.ring_seconds > 0:
                await self._provisional(tx, 180, "Ringing", to_tag=call.local_tag)
                with anyio.move_on_after(self.options.ring_seconds):
                    await call.cancelled.wait()
            if call.cancelled.is_set() or call.ended.is_set():
                return
            ok = self.make_response(
                tx.request,
                200,
                "OK",
                to_tag=call.local_tag,
                contact=True,
                body=call.answer_sdp(),
                content_type="application/sdp",
                peer=tx.peer,
                headers=[("Allow", self.ALLOW)],
            )
            call.answered.set()
            await self._send_final(tx, ok)
            await self.on_call(call)
        except Exception:
            log.exception("%s failed", call)
        finally:
            with anyio.CancelScope(shield=True):
                await call.hang_up("call handler ended")
                self.calls.pop((call.call_id, call.local_tag), None)
                await call.media.aclose()

    async def _provisional(self, tx: _InviteTx, status: int, reason: str, **kwargs: object) -> None:
        response = self.make_response(tx.request, status, reason, peer=tx.peer, **kwargs)  # type: ignore[arg-type]
        tx.last = response.to_bytes()
        await self._send(tx.last, tx.peer)

    async def _final(self, tx: _InviteTx, status: int, reason: str, **kwargs: object) -> None:
        response = self.make_response(tx.request, status, reason, peer=tx.peer, **kwargs)  # type: ignore[arg-type]
        await self._send_final(tx, response)

    async def _send_final(self, tx: _InviteTx, response: SipResponse) -> None:
        """Send a final INVITE response; over UDP repeat it until the ACK comes."""
        tx.last, tx.final = response.to_bytes(), True
        await self._send(tx.last, tx.peer)
        if tx.peer.transport == "udp":
            self._spawn(self._retransmit, tx, response.status)
        elif response.status < 300 and tx.call is not None:
            self._spawn(self._await_ack, tx)

    async def _retransmit(self, tx: _InviteTx, status: int) -> None:
        interval = self.options.t1
        with anyio.move_on_after(64 * self.options.t1):
            while not tx.acked.is_set():
                with anyio.move_on_after(interval):
                    await tx.acked.wait()
                if tx.acked.is_set() or (tx.call is not None and tx.call.ended.is_set()):
                    return
                await self._send(tx.last, tx.peer)
                interval = min(interval * 2, T2)
        if not tx.acked.is_set() and status < 300 and tx.call is not None:
            await tx.call.hang_up("no ACK for our 200 OK")

    async def _await_ack(self, tx: _InviteTx) -> None:
        with anyio.move_on_after(64 * self.options.t1):
            await tx.acked.wait()
        if not tx.acked.is_set() and tx.call is not None:
            await tx.call.hang_up("no ACK for our 200 OK")

    async def _on_ack(self, request: SipRequest, branch: str) -> None:
        # the ACK of a 2xx is its own transaction (new branch): match by Call-ID and CSeq number
        tx = self._invites.get(branch)
        if tx is None:
            number = request.cseq[0]
            tx = next(
                (
                    t
                    for t in self._invites.values()
                    if t.request.call_id == request.call_id and t.request.cseq[0] == number
                ),
                None,
            )
        if tx is None:
            return
        call = tx.call
        if call is not None and call.late_offer and request.body and not tx.acked.is_set():
            call.late_offer = False
            try:
                call.accept_offer(request.body)
            except SdpError as exc:
                log.warning("%s: unusable SDP answer in ACK (%s); hanging up", call, exc)
                self._spawn(call.hang_up, "unusable SDP answer")
        tx.acked.set()

    async def _on_cancel(self, request: SipRequest, peer: Peer, branch: str) -> None:
        tx = self._invites.get(branch)
        if tx is None:  # peers that do not reuse the INVITE's branch (RFC 2543 style)
            number = request.cseq[0]
            tx = next(
                (
                    t
                    for t in self._invites.values()
                    if t.request.call_id == request.call_id and t.request.cseq[0] == number
                ),
                None,
            )
        if tx is None:
            await self.respond(request, peer, 481, "Call/Transaction Does Not Exist")
            return
        await self.respond(request, peer, 200, "OK")
        if tx.final or tx.call is None:
            return
        tx.call.cancelled.set()
        tx.call.finish("caller cancelled before answer")
        await self._final(tx, 487, "Request Terminated", to_tag=tx.call.local_tag)

    # --- registration --------------------------------------------------------------------------

    async def _register_loop(self) -> None:
        """Keep our contact registered; retry with back-off on failure."""
        reg = self.options.registration
        assert reg is not None
        registrar = SipUri.parse(reg.registrar)
        domain = reg.domain or registrar.host
        aor = f"sip:{reg.user}@{domain}"
        call_id, tag, cseq = new_tag() + new_tag(), new_tag(), 0
        peer = Peer(registrar.transport, registrar.host, registrar.port or 5060)
        backoff = 5.0
        try:
            while True:
                expires = 0
                authorization: tuple[str, str] | None = None
                for _ in range(2):
                    cseq += 1
                    request = SipRequest(
                        method="REGISTER", uri=str(SipUri(registrar.host, port=registrar.port))
                    )
                    via = Via(
                        peer.transport.upper(),
                        self.options.contact_host,
                        self.port,
                        {"branch": new_branch(), "rport": ""},
                    )
                    request.add("Via", str(via))
                    request.add("Max-Forwards", "70")
                    request.add("From", f"<{aor}>;tag={tag}")
                    request.add("To", f"<{aor}>")
                    request.add("Call-ID", call_id)
                    request.add("CSeq", f"{cseq} REGISTER")
                    request.add("Contact", self.contact(peer.transport))
                    request.add("Expires", str(reg.expires))
                    request.add("User-Agent", self.USER_AGENT)
                    if authorization:
                        request.add(*authorization)
                    try:
                        response = await self.send_request(request, peer)
                    except (SipTimeout, OSError) as exc:
                        log.warning("REGISTER to %s failed: %s", reg.registrar, exc)
                        break
                    if response.status in (401, 407) and authorization is None and reg.password:
                        header = "WWW-Authenticate" if response.status == 401 else "Proxy-Authenticate"
                        name = "Authorization" if response.status == 401 else "Proxy-Authorization"
                        authorization = (
                            name,
                            authorization_header(
                                response.get(header) or "Digest",
                                method="REGISTER",
                                uri=request.uri,
                                username=reg.auth_user or reg.user,
                                password=reg.password,
                            ),
                        )
                        continue
                    if 200 <= response.status < 300:
                        expires = _granted_expires(response, reg.expires)
                        log.info("registered %s at %s for %ds", aor, reg.registrar, expires)
                        self.registered.set()
                    else:
                        log.warning(
                            "REGISTER to %s refused: %d %s", reg.registrar, response.status, response.reason
                        )
                    break
                if expires:
                    backoff = 5.0
                    await anyio.sleep(max(10.0, expires * 0.8))
                else:
                    await anyio.sleep(backoff)
                    backoff = min(backoff * 2, 300.0)
        finally:
            self.registered = anyio.Event()


def _granted_expires(response: SipResponse, requested: int) -> int:
    for contact in response.get_all("Contact"):
        value = NameAddr.parse(contact).params.get("expires", "")
        if value.isdigit():
            return int(value)
    header = response.get("Expires") or ""
    return int(header) if header.isdigit() else requested
