"""Typed settings of the SIP user agent and the phone bridge (all defaults documented)."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class RegisterOptions(BaseModel):
    """Register this bridge's contact with a registrar (a PBX or trunk), refreshing it."""

    model_config = ConfigDict(extra="forbid")

    registrar: str = Field(description="Registrar URI, e.g. 'sip:pbx.example.com:5060'.")
    user: str = Field(description="Address-of-record user part (and default auth user name).")
    password: str = ""
    auth_user: str | None = Field(default=None, description="Digest user name when it differs from `user`.")
    domain: str | None = Field(default=None, description="AOR domain; default: the registrar's host.")
    expires: int = Field(default=300, ge=30, description="Requested registration lifetime in seconds.")


class SipOptions(BaseModel):
    """Where and how the SIP user agent listens, whom it accepts and how calls behave.

    Defaults are safe: loopback only, calls accepted only from loopback addresses.
    """

    model_config = ConfigDict(extra="forbid")

    host: str = Field(default="127.0.0.1", description="Address to bind SIP and RTP sockets to.")
    port: int = Field(default=5070, ge=0, lt=65536, description="SIP port (UDP and TCP); 0 picks one.")
    transports: tuple[Literal["udp", "tcp"], ...] = Field(default=("udp", "tcp"), min_length=1)
    advertise: str | None = Field(
        default=None, description="Address put in Contact/Via/SDP (default: `host`; set it behind NAT)."
    )
    user: str = Field(default="bot", description="User part of our Contact URI.")
    rtp_ports: tuple[int, int] = Field(
        default=(20000, 30000), description="Inclusive range of even RTP ports to allocate from."
    )
    allow_from: list[str] = Field(
        default_factory=lambda: ["127.0.0.0/8", "::1/128"],
        description="Networks (gateways, proxies) whose calls are accepted without authentication.",
    )
    auth_users: dict[str, str] = Field(
        default_factory=dict, description="user → password; callers outside `allow_from` must authenticate."
    )
    realm: str = Field(default="cascade", description="Digest realm for `auth_users`.")
    max_calls: int = Field(default=10, ge=0, description="Concurrent calls; more are refused.")
    busy_status: Literal[486, 503] = Field(default=486, description="Reply when `max_calls` is reached.")
    codecs: tuple[Literal["PCMU", "PCMA"], ...] = Field(default=("PCMU", "PCMA"), min_length=1)
    ring_seconds: float = Field(
        default=0.0, ge=0, description="Send 180 Ringing and wait this long before answering."
    )
    rtp_timeout: float = Field(
        default=30.0, gt=0, description="Hang up when no RTP arrived for this long (not while on hold)."
    )
    jitter_target: float = Field(default=0.06, ge=0, description="Jitter buffer playout delay in seconds.")
    jitter_max: float = Field(
        default=0.3, gt=0, description="Buffered seconds beyond which the buffer skips ahead."
    )
    transaction_timeout: float = Field(
        default=32.0, gt=0, description="Give up on an unanswered request (s)."
    )
    t1: float = Field(default=0.5, gt=0, description="RFC 3261 T1: first UDP retransmission interval (s).")
    registration: RegisterOptions | None = None

    @field_validator("allow_from")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(
                    f"allow_from entry {item!r} is not an IP address or network ({exc})"
                ) from exc
        return value

    @model_validator(mode="after")
    def _ports(self) -> SipOptions:
        low, high = self.rtp_ports
        if not 1024 <= low < high < 65536:
            raise ValueError(f"rtp_ports {self.rtp_ports} must be an increasing range within 1024-65535")
        return self

    @property
    def contact_host(self) -> str:
        """The address peers should use to reach us."""
        if self.advertise:
            return self.advertise
        if self.host in ("0.0.0.0", "::"):
            raise ValueError("bound to a wildcard address: set `advertise` to the address peers should use")
        return self.host


class BridgeOptions(BaseModel):
    """The phone bridge: the SIP user agent plus how each call's pipeline runs."""

    model_config = ConfigDict(extra="forbid")

    sip: SipOptions = Field(default_factory=SipOptions)
    sample_rate: int = Field(default=16000, description="The pipeline's audio rate.")
    hangup_grace: float = Field(
        default=2.0, ge=0, description="After the caller hangs up, seconds the pipeline may take to end."
    )
