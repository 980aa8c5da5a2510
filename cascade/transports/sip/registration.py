"""Registration (RFC 3261 §10): keep our contact registered at a registrar, with digest auth.

The binding is refreshed at 80 % of the lifetime the registrar granted; a failed or refused
REGISTER is retried with exponential back-off (5 s doubling, up to 5 minutes).
"""

from __future__ import annotations

import logging

import anyio

from cascade.transports.sip.address import NameAddr, SipUri, new_tag
from cascade.transports.sip.auth import authorization_header
from cascade.transports.sip.message import SipRequest, SipResponse
from cascade.transports.sip.network import Peer
from cascade.transports.sip.options import RegisterOptions
from cascade.transports.sip.transaction import USER_AGENT, SipTimeout, SipTransactions

log = logging.getLogger("cascade.sip")


class Registration:
    """Registers our contact as ``options.user`` at ``options.registrar``. Run it with :meth:`run`."""

    def __init__(self, transactions: SipTransactions, options: RegisterOptions) -> None:
        self.transactions = transactions
        self.options = options
        self.registered = anyio.Event()
        """Set once the registrar accepted us (a fresh, unset event after :meth:`run` ends)."""
        self._cseq = 0

    async def run(self) -> None:
        """Keep our contact registered until cancelled; retry with back-off on failure."""
        reg = self.options
        registrar = SipUri.parse(reg.registrar)
        aor = f"sip:{reg.user}@{reg.domain or registrar.host}"
        call_id, tag = new_tag() + new_tag(), new_tag()
        peer = Peer(registrar.transport, registrar.host, registrar.port or 5060)
        backoff = 5.0
        try:
            while True:
                expires = await self._register(registrar, peer, aor, call_id, tag)
                if expires:
                    backoff = 5.0
                    await anyio.sleep(max(10.0, expires * 0.8))
                else:
                    await anyio.sleep(backoff)
                    backoff = min(backoff * 2, 300.0)
        finally:
            self.registered = anyio.Event()

    async def _register(self, registrar: SipUri, peer: Peer, aor: str, call_id: str, tag: str) -> int:
        """One REGISTER (answering a digest challenge once): the granted lifetime, 0 on failure."""
        reg = self.options
        authorization: tuple[str, str] | None = None
        for _ in range(2):
            self._cseq += 1
            request = SipRequest(method="REGISTER", uri=str(SipUri(registrar.host, port=registrar.port)))
            request.add("Via", str(self.transactions.via(peer.transport)))
            request.add("Max-Forwards", "70")
            request.add("From", f"<{aor}>;tag={tag}")
            request.add("To", f"<{aor}>")
            request.add("Call-ID", call_id)
            request.add("CSeq", f"{self._cseq} REGISTER")
            request.add("Contact", self.transactions.contact(peer.transport))
            request.add("Expires", str(reg.expires))
            request.add("User-Agent", USER_AGENT)
            if authorization:
                request.add(*authorization)
            try:
                response = await self.transactions.send_request(request, peer)
            except (SipTimeout, OSError) as exc:
                log.warning("REGISTER to %s failed: %s", reg.registrar, exc)
                return 0
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
                return expires
            log.warning("REGISTER to %s refused: %d %s", reg.registrar, response.status, response.reason)
            return 0
        return 0


def _granted_expires(response: SipResponse, requested: int) -> int:
    for contact in response.get_all("Contact"):
        value = NameAddr.parse(contact).params.get("expires", "")
        if value.isdigit():
            return int(value)
    header = response.get("Expires") or ""
    return int(header) if header.isdigit() else requested
