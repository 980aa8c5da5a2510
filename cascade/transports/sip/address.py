"""SIP URIs, name-addresses (From/To/Contact/Route) and Via headers."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

from cascade.transports.sip.message import SipParseError


def parse_params(text: str) -> dict[str, str]:
    """``;a=1;lr`` → ``{"a": "1", "lr": ""}`` (names lower-cased)."""
    params: dict[str, str] = {}
    for item in text.split(";"):
        item = item.strip()
        if item:
            name, _, value = item.partition("=")
            params[name.strip().lower()] = value.strip().strip('"')
    return params


def format_params(params: dict[str, str]) -> str:
    """Inverse of :func:`parse_params`."""
    return "".join(f";{k}={v}" if v else f";{k}" for k, v in params.items())


@dataclass
class SipUri:
    """``sip:user@host:port;params`` (``sips`` and ``tel`` are rejected: not supported)."""

    host: str
    user: str = ""
    port: int | None = None
    params: dict[str, str] = field(default_factory=dict)
    scheme: str = "sip"

    @classmethod
    def parse(cls, text: str) -> SipUri:
        """Parse a SIP URI; headers (``?...``) are dropped."""
        text = text.strip()
        scheme, colon, rest = text.partition(":")
        if not colon or scheme.lower() not in ("sip", "sips"):
            raise SipParseError(f"not a SIP URI: {text[:80]!r}")
        rest = rest.split("?", 1)[0]
        hostport, _, param_text = rest.partition(";")
        user = ""
        if "@" in hostport:
            user, _, hostport = hostport.rpartition("@")
        match = re.match(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$", hostport)
        if not match:
            raise SipParseError(f"bad host in SIP URI {text[:80]!r}")
        port = int(match.group(2)) if match.group(2) else None
        if port is not None and not 0 < port < 65536:
            raise SipParseError(f"bad port in SIP URI {text[:80]!r}")
        return cls(match.group(1).strip("[]"), user, port, parse_params(param_text), scheme.lower())

    @property
    def transport(self) -> str:
        """``udp`` or ``tcp`` (from the ``transport`` parameter; UDP by default)."""
        return self.params.get("transport", "udp").lower()

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"{self.scheme}:{user}{host}{port}{format_params(self.params)}"


@dataclass
class NameAddr:
    """``"Display" <sip:uri>;tag=x`` as found in From, To, Contact, Route and Refer-To."""

    uri: str
    display: str = ""
    params: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> NameAddr:
        """Parse a name-addr or a bare addr-spec."""
        text = text.strip()
        if "<" in text:
            before, _, rest = text.partition("<")
            uri, closing, after = rest.partition(">")
            if not closing:
                raise SipParseError(f"unclosed '<' in {text[:80]!r}")
            return cls(uri.strip(), before.strip().strip('"'), parse_params(after))
        uri, _, param_text = text.partition(";")
        if not uri:
            raise SipParseError("empty address")
        return cls(uri.strip(), "", parse_params(param_text))

    @property
    def tag(self) -> str:
        """The ``tag`` parameter ('' when absent)."""
        return self.params.get("tag", "")

    def __str__(self) -> str:
        display = f'"{self.display}" ' if self.display else ""
        return f"{display}<{self.uri}>{format_params(self.params)}"


@dataclass
class Via:
    """One Via entry: ``SIP/2.0/UDP host:port;branch=...``."""

    transport: str
    host: str
    port: int | None
    params: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Via:
        """Parse a single Via value."""
        match = re.match(r"^SIP\s*/\s*2\.0\s*/\s*([A-Za-z]+)\s+([^;\s]+)\s*(.*)$", text.strip())
        if not match:
            raise SipParseError(f"bad Via header {text[:80]!r}")
        hostport = match.group(2)
        host, port = hostport, None
        if hostport.startswith("["):
            host, _, tail = hostport[1:].partition("]")
            port_text = tail.lstrip(":")
        elif hostport.count(":") == 1:
            host, _, port_text = hostport.partition(":")
        else:
            port_text = ""
        if port_text:
            if not port_text.isdigit():
                raise SipParseError(f"bad port in Via header {text[:80]!r}")
            port = int(port_text)
        return cls(match.group(1).upper(), host, port, parse_params(match.group(3)))

    @property
    def branch(self) -> str:
        """The transaction branch id."""
        return self.params.get("branch", "")

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port else ""
        return f"SIP/2.0/{self.transport} {host}{port}{format_params(self.params)}"


def new_branch() -> str:
    """A fresh RFC 3261 transaction branch id."""
    return "z9hG4bK" + secrets.token_hex(8)


def new_tag() -> str:
    """A fresh dialog tag."""
    return secrets.token_hex(6)
