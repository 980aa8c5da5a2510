"""``cascade phone``: run the phone bridge (one agent session per call)."""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
from pathlib import Path
from typing import Annotated, Any

import typer

phone_app = typer.Typer(help="Answer phone calls (SIP/RTP) with a voice agent.", invoke_without_command=True)

DEFAULT_FACTORY = "cascade.agent:phone_pipeline"
log = logging.getLogger("cascade.sip.cli")


def load_factory(spec: str) -> Any:
    """Import ``module:function`` or ``path/to/file.py:function``."""
    target, colon, name = spec.rpartition(":")
    if not colon or not target or not name:
        raise typer.BadParameter(f"{spec!r} is not 'module:function' or 'file.py:function'")
    try:
        if target.endswith(".py"):
            path = Path(target)
            loader_spec = importlib.util.spec_from_file_location(path.stem, path)
            if loader_spec is None or loader_spec.loader is None or not path.is_file():
                raise typer.BadParameter(f"cannot load {path}: no such Python file")
            module = importlib.util.module_from_spec(loader_spec)
            loader_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(target)
    except ImportError as exc:
        hint = " (the embedded agent is not installed; pass --factory)" if spec == DEFAULT_FACTORY else ""
        raise typer.BadParameter(f"cannot import {target}: {exc}{hint}") from exc
    factory = getattr(module, name, None)
    if not callable(factory):
        raise typer.BadParameter(f"{target} has no callable {name!r}")
    return factory


def _pairs(items: list[str], what: str, sep: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, found, value = item.partition(sep)
        if not found or not key or not value:
            raise typer.BadParameter(f"{what} {item!r} must look like 'name{sep}value'")
        out[key] = value
    return out


@phone_app.callback()
def phone(
    factory: Annotated[
        str, typer.Option(help="Pipeline factory 'module:function' or 'file.py:function', called per call.")
    ] = DEFAULT_FACTORY,
    host: Annotated[str, typer.Option(help="Address to bind SIP and RTP to.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="SIP port (UDP and TCP).")] = 5070,
    advertise: Annotated[str | None, typer.Option(help="Address peers should use (behind NAT).")] = None,
    transport: Annotated[list[str] | None, typer.Option(help="udp and/or tcp (repeat).")] = None,
    allow_from: Annotated[
        list[str] | None, typer.Option(help="Gateway address/network allowed without auth (repeat).")
    ] = None,
    auth: Annotated[
        list[str] | None, typer.Option(help="Digest credentials 'user:password' (repeat).")
    ] = None,
    max_calls: Annotated[int, typer.Option(help="Concurrent calls; more get --busy-status.")] = 10,
    busy_status: Annotated[int, typer.Option(help="486 or 503.")] = 486,
    rtp_ports: Annotated[str, typer.Option(help="RTP port range 'low-high'.")] = "20000-30000",
    rtp_timeout: Annotated[float, typer.Option(help="Hang up after this many seconds without RTP.")] = 30.0,
    sample_rate: Annotated[int, typer.Option(help="The pipeline's audio rate.")] = 16000,
    transfer: Annotated[
        list[str] | None, typer.Option(help="Transfer destination 'name=sip:uri' the agent may use (repeat).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="BridgeOptions as JSON (overrides the flags above).", exists=True)
    ] = None,
) -> None:
    """Answer SIP calls; each call runs the pipeline built by --factory until someone hangs up."""
    import anyio

    from cascade.transports.sip import BridgeOptions, PhoneBridge, SipOptions

    if config is not None:
        options = BridgeOptions.model_validate(json.loads(config.read_text()))
    else:
        low, dash, high = rtp_ports.partition("-")
        if not dash or not low.isdigit() or not high.isdigit():
            raise typer.BadParameter(f"--rtp-ports {rtp_ports!r} must look like '20000-30000'")
        if busy_status not in (486, 503):
            raise typer.BadParameter("--busy-status must be 486 or 503")
        sip: dict[str, Any] = {
            "host": host,
            "port": port,
            "advertise": advertise,
            "max_calls": max_calls,
            "busy_status": busy_status,
            "rtp_ports": (int(low), int(high)),
            "rtp_timeout": rtp_timeout,
            "auth_users": _pairs(auth or [], "--auth", ":"),
        }
        if transport:
            sip["transports"] = tuple(t.lower() for t in transport)
        if allow_from is not None:
            sip["allow_from"] = allow_from
        try:
            options = BridgeOptions(sip=SipOptions(**sip), sample_rate=sample_rate)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from exc
    bridge = PhoneBridge(
        load_factory(factory), options, transfer_targets=_pairs(transfer or [], "--transfer", "=")
    )
    try:
        anyio.run(bridge.run)
    except KeyboardInterrupt:
        log.info("stopped")
