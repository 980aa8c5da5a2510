"""The ``cascade`` command line, and its error boundary.

Every app reads the same configuration (``--config FILE`` or ``CASCADE_CONFIG``, ``CASCADE_*``
variables, flags; ``cascade config show``). An error the user can fix -- a config value, a missing
file, unreadable audio, a taken port, a model that cannot be prepared -- prints one line
(``cascade: error: ...``) and exits 2, before any model loads where it can be checked;
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import logging
import sys
import traceback
from typing import Annotated

import typer

import cascade
from cascade.agent.talk import talk
from cascade.apps.config_cli import config_app
from cascade.apps.demo import demo
from cascade.apps.phone import phone
from cascade.errors import describe_error
from cascade.llm.cli import app as llm_app
from cascade.logs import configure_logging
from cascade.prepare import prepare_all
from cascade.tts.cli import app as tts_app

app = typer.Typer(
    help="cascade: real-time voice agents.", no_args_is_help=True, pretty_exceptions_enable=False
)
app.command("talk")(talk)
app.command("phone")(phone)
app.command("demo")(demo)
app.add_typer(config_app, name="config")
app.add_typer(tts_app, name="tts")
app.add_typer(llm_app, name="llm")

EXIT_USER_ERROR = 2
"""Exit status for an error the user can fix (as for a wrong flag)."""
_debug = False


@app.callback()
def main_options(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
    log_json: Annotated[
        bool, typer.Option("--log-json", envvar="CASCADE_LOG_JSON", help="Logs as one JSON object per line.")
    ] = False,
) -> None:
    """Set up logging for every subcommand."""
    global _debug
    _debug = debug
    configure_logging(logging.DEBUG if verbose else logging.INFO, json=log_json)


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


def main(argv: list[str] | None = None) -> None:
    """Run the command line; errors the user can fix are one line on stderr and exit status 2."""
    try:
        app(args=argv, prog_name="cascade")
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # the boundary: a bug still gets a pointer to its traceback
        if _debug:
            traceback.print_exception(exc)
        message = describe_error(exc)
        if message is not None:
            for line in message.splitlines():
                print(f"cascade: error: {line}", file=sys.stderr)
            sys.exit(EXIT_USER_ERROR)
        if not _debug:
            print(
                f"cascade: internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)",
                file=sys.stderr,
            )
        sys.exit(1)


if __name__ == "__main__":
    main()
