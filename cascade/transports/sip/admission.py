"""Who may call: requests from the ``allow_from`` networks, or with valid digest credentials.

A request from elsewhere is challenged (401) when ``auth_users`` are configured and refused (403)
otherwise; the user agent decides which answer to send.
"""

from __future__ import annotations

import ipaddress

from cascade.transports.sip.auth import DigestVerifier
from cascade.transports.sip.message import SipRequest
from cascade.transports.sip.network import Peer
from cascade.transports.sip.options import SipOptions


class Admission:
    """Checks a request's source address and credentials against ``options``."""

    def __init__(self, options: SipOptions) -> None:
        self.verifier = DigestVerifier(options.realm, options.auth_users) if options.auth_users else None
        self._networks = [ipaddress.ip_network(n, strict=False) for n in options.allow_from]

    def admit(self, request: SipRequest, peer: Peer) -> str | None:
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

    def challenge(self) -> list[tuple[str, str]] | None:
        """The ``WWW-Authenticate`` header for a 401, or ``None`` when there is nothing to ask for."""
        if self.verifier is None:
            return None
        return [("WWW-Authenticate", self.verifier.challenge())]
