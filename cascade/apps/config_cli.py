"""``cascade config show``: the effective configuration and where each value came from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from cascade.agent.config import AgentConfig
from cascade.agent.config_sources import flatten, is_secret

config_app = typer.Typer(help="Inspect the configuration every app reads.", no_args_is_help=True)


def effective_settings(path: Path | None) -> list[tuple[str, Any, str]]:
    """``(dotted key, value, origin)`` for every setting; secrets masked."""
    config, origins = AgentConfig.load_with_origins(path)
    rows = []
    for key, value in flatten(config.model_dump(mode="json")).items():
        shown = "********" if is_secret(key) and value not in (None, "", {}, "EMPTY") else value
        rows.append((key, shown, origins.origin(key)))
    return rows


@config_app.command("show")
def show(
    config: Annotated[
        Path | None, typer.Option(envvar="CASCADE_CONFIG", help="Config file (TOML/JSON).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per setting.")] = False,
    changed: Annotated[bool, typer.Option(help="Only settings that are not defaults.")] = False,
) -> None:
    """Print every setting with its value and origin (flag, env CASCADE_..., file, default)."""
    for key, value, origin in effective_settings(config):
        if changed and origin == "default":
            continue
        if as_json:
            typer.echo(json.dumps({"key": key, "value": value, "origin": origin}))
        else:
            typer.echo(f"{key} = {json.dumps(value)}  # {origin}")
