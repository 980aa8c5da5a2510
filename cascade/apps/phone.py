"""``cascade phone``: answer SIP calls with the configured agent, one pipeline per call.

The SIP port opens first; the agent then prepares (models, LLM server) while INVITE and OPTIONS
get 503 with ``Retry-After``; from then on every call is answered by a prepared agent.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cascade.agent.config import AgentConfig
from cascade.agent.config_sources import ConfigError
from cascade.apps.loading import is_agent, load_agent
from cascade.observability import install_observability

if TYPE_CHECKING:
    from cascade.transports.sip import PhoneBridge

log = logging.getLogger("cascade.phone")


def build_bridge(config: AgentConfig) -> PhoneBridge:
    """The bridge for ``config``: its agent (or ``phone.factory``) imported and checked, not loaded."""
    from cascade.agent.agent import VoiceAgent
    from cascade.agent.phone import call_pipeline
    from cascade.transports.sip import BridgeOptions, PhoneBridge

    phone = config.phone
    if phone.factory is None:
        agent: Any = VoiceAgent(config)
    else:
        agent = load_agent(phone.factory, setting="phone.factory")
    factory, startup = agent, None  # a plain factory, called with each call's CallInfo
    if is_agent(agent):
        factory, startup = functools.partial(call_pipeline, agent), getattr(agent, "prepare", None)
    options = BridgeOptions(sip=phone.sip, sample_rate=config.sample_rate, hangup_grace=phone.hangup_grace)
    return PhoneBridge(factory, options, transfer_targets=phone.transfer, startup=startup)


async def serve_phone(
    bridge: PhoneBridge, health_port: int | None, on_ready: Callable[[], object] = lambda: None
) -> None:
    """Run the bridge (and its health endpoints) until SIGINT/SIGTERM; ``on_ready`` once prepared."""
    import anyio

    from cascade.apps.serving import bind_socket, cancel_on_signals, serve_asgi
    from cascade.transports.http_health import health_app

    async with anyio.create_task_group() as tg:
        tg.start_soon(cancel_on_signals, tg.cancel_scope)
        if health_port is not None:
            sock = bind_socket(bridge.options.sip.host, health_port)
            await tg.start(serve_asgi, health_app(bridge.readiness), sock)
        await tg.start(bridge.run)
        typer.echo(
            f"cascade phone: SIP on {bridge.options.sip.host}:{bridge.port}; preparing the agent...", err=True
        )
        await bridge.readiness.wait()
        if bridge.readiness.ready:
            on_ready()
            typer.echo("cascade phone: ready for calls", err=True)


def _pairs(items: list[str] | None, flag: str, sep: str) -> dict[str, str] | None:
    if not items:
        return None
    out: dict[str, str] = {}
    for item in items:
        key, found, value = item.partition(sep)
        if not found or not key or not value:
            raise ConfigError(f"{flag} {item!r} must look like 'name{sep}value'")
        out[key] = value
    return out


def _port_range(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    low, dash, high = text.partition("-")
    if not dash or not low.isdigit() or not high.isdigit():
        raise ConfigError(f"--rtp-ports {text!r} must look like '20000-30000'")
    return int(low), int(high)


def phone(
    config: Annotated[
        Path | None, typer.Option(envvar="CASCADE_CONFIG", help="Config file (TOML/JSON): [phone], [llm]...")
    ] = None,
    factory: Annotated[
        str | None, typer.Option(help="Agent or pipeline factory 'module:name' or 'file.py:name'.")
    ] = None,
    host: Annotated[str | None, typer.Option(help="Address to bind SIP and RTP to [127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="SIP port, UDP and TCP [5070].")] = None,
    advertise: Annotated[str | None, typer.Option(help="Address peers should use (behind NAT).")] = None,
    transport: Annotated[list[str] | None, typer.Option(help="udp and/or tcp (repeat).")] = None,
    allow_from: Annotated[
        list[str] | None, typer.Option(help="Gateway address/network allowed without auth (repeat).")
    ] = None,
    auth: Annotated[
        list[str] | None, typer.Option(help="Digest credentials 'user:password' (repeat).")
    ] = None,
    max_calls: Annotated[
        int | None, typer.Option(help="Concurrent calls; more get the busy status [10].")
    ] = None,
    busy_status: Annotated[int | None, typer.Option(help="486 or 503 [486].")] = None,
    rtp_ports: Annotated[str | None, typer.Option(help="RTP port range 'low-high' [20000-30000].")] = None,
    rtp_timeout: Annotated[
        float | None, typer.Option(help="Hang up after this long without RTP [30].")
    ] = None,
    transfer: Annotated[
        list[str] | None, typer.Option(help="Transfer destination 'name=sip:uri' (repeat).")
    ] = None,
    health_port: Annotated[
        int | None, typer.Option(help="Serve /healthz and /livez over HTTP on this port.")
    ] = None,
    metrics_port: Annotated[int | None, typer.Option(help="Serve Prometheus /metrics on this port.")] = None,
) -> None:
    """Answer SIP calls: each call runs the agent's pipeline until someone hangs up."""
    import anyio

    overrides = {
        "phone.factory": factory,
        "phone.sip.host": host,
        "phone.sip.port": port,
        "phone.sip.advertise": advertise,
        "phone.sip.transports": [t.lower() for t in transport] if transport else None,
        "phone.sip.allow_from": allow_from,
        "phone.sip.auth_users": _pairs(auth, "--auth", ":"),
        "phone.sip.max_calls": max_calls,
        "phone.sip.busy_status": busy_status,
        "phone.sip.rtp_ports": _port_range(rtp_ports),
        "phone.sip.rtp_timeout": rtp_timeout,
        "phone.transfer": _pairs(transfer, "--transfer", "="),
        "phone.health_port": health_port,
        "metrics.port": metrics_port,
    }
    settings = AgentConfig.load(config, **overrides)
    bridge = build_bridge(settings)
    with install_observability(settings.metrics, app="phone") as observability:
        anyio.run(serve_phone, bridge, settings.phone.health_port, observability.set_ready)
