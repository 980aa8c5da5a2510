"""The ``cascade`` command line."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

import cascade
from cascade.agent.talk import talk
from cascade.llm.cli import app as llm_app
from cascade.prepare import prepare_all
from cascade.transports.sip.cli import phone_app
from cascade.transports.webrtc_cli import demo as _webrtc_demo
from cascade.tts.cli import app as tts_app

app = typer.Typer(help="cascade: real-time voice agents.", no_args_is_help=True)
app.add_typer(phone_app, name="phone")
app.command("talk")(talk)
app.add_typer(tts_app, name="tts")
app.add_typer(llm_app, name="llm")
app.command("demo")(_webrtc_demo)


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging.")) -> None:
    """Set up logging for every subcommand."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(cascade.__version__)


@app.command()
def prepare(
    only: Annotated[list[str] | None, typer.Argument(help="Components to prepare (default: all).")] = None,
) -> None:
    """Prepare the embedded default's models and engines into the cache."""
    prepare_all(only or None)
