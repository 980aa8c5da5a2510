"""Process logging for the command line: readable lines, or one JSON object per line.

>>> import io, json, logging
>>> out = io.StringIO()
>>> handler = configure_logging("WARNING", json=True, stream=out)
>>> logging.getLogger("cascade.demo").warning("caller %s hung up", "alice")
>>> record = json.loads(out.getvalue())
>>> record["level"], record["logger"], record["message"]
('WARNING', 'cascade.demo', 'caller alice hung up')
>>> logging.getLogger().removeHandler(handler)
"""

from __future__ import annotations

import datetime
import json as _json
import logging
import sys
from typing import Any, TextIO

PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
"""The readable line format."""
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
"""Attributes every log record has; any other one came from ``extra=`` and goes into the JSON."""


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object: ``time`` (UTC, ISO 8601), ``level``, ``logger``,
    ``message``, ``exception`` (the traceback, when there is one), ``stack`` (with
    ``stack_info``) and the fields given with ``extra=``."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        moment = datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC)
        entry: dict[str, Any] = {
            "time": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value
        return _json.dumps(entry, default=str, ensure_ascii=False)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record comes (a live progress display on the
    terminal replaces it for a while, and keeps these lines above itself)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        """(The stream is always the current ``sys.stderr``.)"""


_ours: logging.Handler | None = None


def configure_logging(
    level: int | str = logging.INFO, *, json: bool = False, stream: TextIO | None = None
) -> logging.Handler:
    """Send the process's log records to stderr (or ``stream``) at ``level`` and above, as
    readable lines or, with ``json``, as one JSON object per line (:class:`JsonFormatter`).

    Calling it again replaces the handler it added before; other handlers are left alone. Returns
    the handler (remove it from the root logger to undo).
    """
    global _ours
    root = logging.getLogger()
    if _ours is not None:
        root.removeHandler(_ours)
    handler: logging.Handler = _StderrHandler() if stream is None else logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if json else logging.Formatter(PLAIN_FORMAT))
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    _ours = handler
    return handler
