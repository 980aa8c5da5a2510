"""The apps' own tables of the config file: ``[phone]`` (the SIP bridge) and ``[demo]`` (WebRTC).

Both live in :class:`~cascade.agent.config.AgentConfig`, so one file, one set of ``CASCADE_*``
variables and the same flags configure every app::

    [phone]
    transfer = { sales = "sip:sales@pbx.example.com" }
    health_port = 8081              # /healthz (ready?) and /livez over HTTP
    [phone.sip]
    host = "0.0.0.0"
    advertise = "203.0.113.7"
    allow_from = ["198.51.100.0/24"]

    [demo]
    host = "0.0.0.0"
    port = 8080
    max_sessions = 8
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from cascade.transports.sip.options import SipOptions


class PhoneSettings(BaseModel):
    """``cascade phone``: the SIP user agent, who may be transferred where, and health checks."""

    model_config = ConfigDict(extra="forbid")

    sip: SipOptions = Field(default_factory=SipOptions)
    factory: str | None = None
    """A pipeline factory or agent, ``module:name`` or ``file.py:name``, instead of the configured
    agent (``None``): called with each call's :class:`~cascade.transports.sip.bridge.CallInfo`."""
    transfer: dict[str, str] = Field(default_factory=dict)
    """Destinations the agent may transfer a caller to: name → SIP URI."""
    hangup_grace: float = Field(default=2.0, ge=0)
    """After the caller hangs up, seconds the pipeline may take to end."""
    health_port: int | None = Field(default=None, ge=0, lt=65536)
    """Serve ``/healthz`` (503 until the models are ready) and ``/livez`` over HTTP on this port of
    ``sip.host``; ``None``: SIP OPTIONS alone tells readiness (503 while preparing)."""


class DemoSettings(BaseModel):
    """``cascade demo``: the WebRTC demo page and its offer endpoint."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, lt=65536)
    agent: str | None = None
    """An agent (with ``pipeline()``) or a pipeline factory, ``module:name``, instead of the
    configured agent (``None``)."""
    app_dir: Path = Path(".")
    """Folder added to the import path for ``agent``."""
    token: SecretStr | None = None
    """The offer endpoint's bearer token (``None``: a random one, printed once)."""
    allow_unauthenticated: bool = False
    """Accept offers without a token (``--no-token``; local use only)."""
    max_sessions: int = Field(default=4, ge=1)
    page: Path | None = None
    """Folder with the page (``index.html``); ``None``: the page shipped with cascade."""
    cors_origins: list[str] = Field(default_factory=list)
