"""Progress of first-run steps that take seconds to minutes (installs, downloads, conversions,
waiting for a server to come up).

On a terminal (stderr is a TTY) a step is a live line on stderr -- spinner, description, bar when
the amount is known, elapsed time -- that disappears when the step ends, leaving one log line.
Elsewhere (CI, a log file, JSON logs) a step is two plain log lines, when it starts and when it
ends, so logs stay clean:

>>> import logging, sys
>>> steps = logging.getLogger("example.steps")
>>> steps.setLevel(logging.INFO)
>>> steps.addHandler(logging.StreamHandler(sys.stdout))
>>> with progress("converting the model", logger=steps, live=False) as step:
...     step.advance()
converting the model ...
converting the model: done in 0.0s

Steps may nest or run in several threads at once; they share one live display.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from rich.progress import Progress, Task, TaskID

log = logging.getLogger("cascade.progress")

Unit = Literal["bytes", "steps"]


class Step:
    """One step in progress: tell it how far it got (a no-op on the plain log)."""

    def __init__(self, display: Progress | None, task: TaskID | None) -> None:
        self._display = display
        self._task = task

    @property
    def live(self) -> bool:
        """Whether the step is shown live (worth updating its description often)."""
        return self._display is not None

    def advance(self, amount: float = 1) -> None:
        """``amount`` more of the total was done."""
        if self._display is not None and self._task is not None:
            self._display.advance(self._task, amount)

    def update(self, description: str | None = None, *, total: float | None = None) -> None:
        """Show another description (what the step does now), or set the total once known."""
        if self._display is not None and self._task is not None:
            fields: dict[str, Any] = {}
            if description is not None:
                fields["description"] = description
            if total is not None:
                fields["total"] = total
            self._display.update(self._task, **fields)


_lock = threading.Lock()
_display: Progress | None = None
_users = 0


def _amount_column() -> Any:
    from rich.progress import ProgressColumn
    from rich.text import Text

    class AmountColumn(ProgressColumn):
        """``12/80 MB`` or ``2/3``, when the step's total is known."""

        def render(self, task: Task) -> Text:
            unit = task.fields.get("unit")
            if task.total is None or unit is None:
                return Text("")
            if unit == "bytes":
                return Text(f"{task.completed / 1e6:.0f}/{task.total / 1e6:.0f} MB")
            return Text(f"{task.completed:.0f}/{task.total:.0f}")

    return AmountColumn()


def _open_display() -> Progress:
    global _display, _users
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with _lock:
        if _display is None:
            _display = Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                BarColumn(),
                _amount_column(),
                TimeElapsedColumn(),
                console=Console(stderr=True),  # stdout may carry a command's output (JSON)
                transient=True,
            )
            _display.start()
        _users += 1
        return _display


def _close_display(task: TaskID) -> None:
    global _display, _users
    with _lock:
        if _display is None:
            return
        _display.remove_task(task)
        _users -= 1
        if _users == 0:
            _display.stop()
            _display = None


@contextmanager
def progress(
    description: str,
    *,
    total: float | None = None,
    unit: Unit | None = None,
    logger: logging.Logger | None = None,
    live: bool | None = None,
) -> Iterator[Step]:
    """Show ``description`` while the ``with`` block runs, and log how long it took.

    ``total``: the amount to do, in ``unit`` (``"bytes"`` or ``"steps"``), when it is known (a bar
    fills as :meth:`Step.advance` reports it); without it the line only shows the time. ``logger``:
    where the plain lines go (default ``cascade.progress``). ``live``: force the live display on
    or off (default: on when stderr is a terminal).
    """
    logger = logger or log
    if live is None:
        live = sys.stderr.isatty()
    started = time.monotonic()
    display: Progress | None = None
    task: TaskID | None = None
    if live:
        display = _open_display()
        task = display.add_task(description, total=total, unit=unit)
    else:
        logger.info("%s ...", description)
    ok = False
    try:
        yield Step(display, task)
        ok = True
    finally:
        if task is not None:
            _close_display(task)  # before the log line: the live lines are erased when it stops
        outcome = "done in" if ok else "failed after"
        logger.info("%s: %s %.1fs", description, outcome, time.monotonic() - started)
