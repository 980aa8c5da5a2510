"""``cascade demo``: the WebRTC demo page and its offer endpoint, served by the configured agent.

The port opens at once: ``/healthz`` says 503 and offers get 503 while the agent prepares (models,
LLM server); the page's address is printed when it is ready.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cascade.agent.config import AgentConfig
from cascade.agent.config_sources import ConfigError
from cascade.apps.loading import is_agent, load_agent
from cascade.observability import install_observability

if TYPE_CHECKING:
    from cascade.transports.webrtc_signaling import PipelineFactory, Startup, WebRTCServer

log = logging.getLogger("cascade.demo")

PAGE_DIR = Path(__file__).resolve().parents[1] / "transports" / "webrtc_page"
"""The demo page (index.html, demo.js, demo.css), package data in ``cascade/transports/webrtc_page``."""


def resolve_agent(spec: str, app_dir: Path = Path(".")) -> tuple[PipelineFactory, Startup | None]:
    """``(pipeline_factory, startup)`` for ``demo.agent``.

    ``spec`` names an agent -- a class (instantiated with no arguments) or object with a
    ``pipeline()`` method returning a fresh Pipeline per call and optionally an async ``prepare()``
    run once at startup, like :class:`cascade.agent.VoiceAgent` -- or a plain callable returning a
    fresh Pipeline per call.
    """
    return _factory_and_startup(load_agent(spec, setting="demo.agent", app_dir=app_dir))


def _factory_and_startup(agent: Any) -> tuple[PipelineFactory, Startup | None]:
    if is_agent(agent):
        return agent.pipeline, getattr(agent, "prepare", None)
    return agent, None


def build_server(config: AgentConfig) -> tuple[WebRTCServer, str | None]:
    """The demo's server for ``config`` (checked, nothing loaded yet) and its offer token."""
    from cascade.agent.agent import VoiceAgent
    from cascade.transports.webrtc_signaling import WebRTCOptions, WebRTCServer

    demo = config.demo
    if demo.agent is None:
        factory, startup = _factory_and_startup(VoiceAgent(config))
    else:
        factory, startup = resolve_agent(demo.agent, demo.app_dir)
    token = None
    if not demo.allow_unauthenticated:
        token = demo.token.get_secret_value() if demo.token else secrets.token_urlsafe(12)
    options = WebRTCOptions(
        token=token,
        allow_unauthenticated=demo.allow_unauthenticated,
        max_sessions=demo.max_sessions,
        sample_rate=config.sample_rate,
        cors_origins=tuple(demo.cors_origins),
    )
    page = demo.page or PAGE_DIR
    if not (page / "index.html").is_file():
        raise ConfigError(f"demo.page = {str(page)!r} has no index.html")
    return WebRTCServer(factory, options, page_dir=page, on_startup=startup), token


async def serve_demo(
    server: WebRTCServer,
    host: str,
    port: int,
    token: str | None,
    on_ready: Callable[[], object] = lambda: None,
) -> None:
    """Serve until SIGINT/SIGTERM (``on_ready`` once prepared); raise what preparing raised."""
    import anyio

    from cascade.apps.serving import bind_socket, cancel_on_signals, serve_asgi

    sock = bind_socket(host, port)
    async with anyio.create_task_group() as tg:
        tg.start_soon(cancel_on_signals, tg.cancel_scope)
        await tg.start(serve_asgi, server.app, sock)
        typer.echo(
            f"cascade demo: preparing the agent (http://{host}:{port}/healthz says when ready)", err=True
        )
        await server.readiness.wait()
        if server.readiness.error is not None:
            raise server.readiness.error
        on_ready()
        query = f"?token={token}" if token else ""
        typer.echo(f"cascade demo: open http://{host}:{port}/{query}", err=True)


def demo(
    config: Annotated[
        Path | None, typer.Option(envvar="CASCADE_CONFIG", help="Config file (TOML/JSON): [demo], [llm]...")
    ] = None,
    host: Annotated[str | None, typer.Option(help="Address to serve the page on [127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port [8080].")] = None,
    agent: Annotated[
        str | None, typer.Option(help="'module:name' of an agent (with pipeline()) or a Pipeline factory.")
    ] = None,
    token: Annotated[
        str | None, typer.Option(help="Offer token (default: CASCADE_DEMO__TOKEN or a random one).")
    ] = None,
    no_token: Annotated[
        bool | None, typer.Option("--no-token", help="Accept offers without a token (local use).")
    ] = None,
    max_sessions: Annotated[int | None, typer.Option(help="Concurrent calls; more get HTTP 503 [4].")] = None,
    page: Annotated[Path | None, typer.Option(help="Folder with the demo page (index.html).")] = None,
    app_dir: Annotated[Path | None, typer.Option(help="Folder added to the import path for --agent.")] = None,
    cors_origin: Annotated[
        list[str] | None, typer.Option(help="Origin allowed to call the API cross-site (repeatable).")
    ] = None,
    metrics_port: Annotated[int | None, typer.Option(help="Serve Prometheus /metrics on this port.")] = None,
) -> None:
    """Serve the WebRTC demo: open the printed address in Chromium or Firefox and talk."""
    import anyio

    overrides = {
        "demo.host": host,
        "demo.port": port,
        "demo.agent": agent,
        "demo.token": token,
        "demo.allow_unauthenticated": no_token,
        "demo.max_sessions": max_sessions,
        "demo.page": page,
        "demo.app_dir": app_dir,
        "demo.cors_origins": cors_origin,
        "metrics.port": metrics_port,
    }
    settings = AgentConfig.load(config, **overrides)
    server, offer_token = build_server(settings)
    demo = settings.demo
    with install_observability(settings.metrics, app="demo") as observability:
        anyio.run(serve_demo, server, demo.host, demo.port, offer_token, observability.set_ready)
