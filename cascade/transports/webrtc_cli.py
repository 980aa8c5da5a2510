"""``cascade demo``: serve the WebRTC demo page and talk to an agent in the browser.

Heavy imports (aiortc, starlette, uvicorn, the agent) happen inside the command so that
``cascade --help`` stays fast.
"""

from __future__ import annotations

import importlib
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from cascade.transports.webrtc_signaling import PipelineFactory, Startup

DEFAULT_AGENT = "cascade.agent:VoiceAgent"
"""The embedded default agent (its ``prepare()`` loads the models, ``pipeline()`` makes a call's stages)."""

PAGE_DIR = Path(__file__).resolve().parents[2] / "examples" / "webrtc_demo" / "static"
"""The demo page in a source checkout (``examples/webrtc_demo/static``)."""


def load_agent(spec: str, app_dir: str | Path = ".") -> tuple[PipelineFactory, Startup | None]:
    """Import ``"package.module:name"`` (looked up in ``app_dir`` too, like uvicorn does).

    ``name`` is either an agent -- a class (instantiated with no arguments) or object with a
    ``pipeline()`` method returning a fresh Pipeline per call and optionally an async ``prepare()``
    run once at startup, like :class:`cascade.agent.VoiceAgent` -- or a plain callable returning a
    fresh Pipeline per call. Returns ``(pipeline_factory, startup)``.
    """
    if str(app_dir) not in sys.path:
        sys.path.insert(0, str(app_dir))
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise typer.BadParameter(f"expected 'module:callable', got {spec!r}", param_hint="--agent")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise typer.BadParameter(f"cannot import {module_name!r}: {exc}", param_hint="--agent") from exc
    target: Any = getattr(module, attr, None)
    if callable(getattr(target, "pipeline", None)):
        agent = target() if isinstance(target, type) else target
        return agent.pipeline, getattr(agent, "prepare", None)
    if not callable(target):
        raise typer.BadParameter(f"{module_name} has no callable {attr!r}", param_hint="--agent")
    return target, None


def demo(
    host: Annotated[
        str, typer.Option(help="Address to serve the page and the offer endpoint on.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8080,
    agent: Annotated[
        str, typer.Option(help="'module:name' of an agent (with pipeline()) or a Pipeline factory.")
    ] = DEFAULT_AGENT,
    token: Annotated[
        str | None,
        typer.Option(envvar="CASCADE_DEMO_TOKEN", help="Offer token (default: a random one, printed)."),
    ] = None,
    no_token: Annotated[
        bool, typer.Option("--no-token", help="Accept offers without a token (local use).")
    ] = False,
    max_sessions: Annotated[int, typer.Option(help="Concurrent calls; more get HTTP 503.")] = 4,
    sample_rate: Annotated[int, typer.Option(help="The pipeline's audio rate.")] = 16000,
    page: Annotated[Path, typer.Option(help="Folder with the demo page (index.html).")] = PAGE_DIR,
    app_dir: Annotated[Path, typer.Option(help="Folder added to the import path for --agent.")] = Path("."),
    cors_origin: Annotated[
        list[str] | None, typer.Option(help="Origin allowed to call the API cross-site (repeatable).")
    ] = None,
) -> None:
    """Serve the WebRTC demo: open the printed address in Chromium or Firefox and talk."""
    import uvicorn

    from cascade.transports.webrtc_signaling import WebRTCOptions, WebRTCServer

    if not no_token and not token:
        token = secrets.token_urlsafe(12)
    options = WebRTCOptions(
        token=None if no_token else token,
        allow_unauthenticated=no_token,
        max_sessions=max_sessions,
        sample_rate=sample_rate,
        cors_origins=tuple(cors_origin or ()),
    )
    factory, startup = load_agent(agent, app_dir)
    server = WebRTCServer(factory, options, page_dir=page, on_startup=startup)
    query = "" if no_token else f"?token={token}"
    typer.echo(f"cascade demo: open http://{host}:{port}/{query}", err=True)
    uvicorn.run(server.app, host=host, port=port, log_level="warning")
