"""Process logging: readable lines or one JSON object per line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from cascade.logs import configure_logging


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def test_json_log_lines_parse_with_exception_and_extra_fields(restore_root: None) -> None:
    out = io.StringIO()
    configure_logging("DEBUG", json=True, stream=out)
    log = logging.getLogger("cascade.test")
    log.debug("call %s from %s", "c1", "sip:alice@example.com")
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        log.exception("reply failed: «%s»", "naïve", extra={"call_id": "c1", "turn": 2})
    first, second = [json.loads(line) for line in out.getvalue().splitlines()]
    assert first["level"] == "DEBUG" and first["logger"] == "cascade.test"
    assert first["message"] == "call c1 from sip:alice@example.com"
    assert first["time"].endswith("Z") and "exception" not in first
    assert second["level"] == "ERROR" and second["message"] == "reply failed: «naïve»"
    assert second["exception"].startswith("Traceback") and "ZeroDivisionError" in second["exception"]
    assert second["call_id"] == "c1" and second["turn"] == 2


def test_configure_again_replaces_only_its_own_handler(restore_root: None) -> None:
    root = logging.getLogger()
    others = list(root.handlers)
    first = configure_logging("INFO", json=True, stream=io.StringIO())
    out = io.StringIO()
    second = configure_logging(logging.WARNING, stream=out)
    assert first not in root.handlers and second in root.handlers
    assert all(handler in root.handlers for handler in others)
    logging.getLogger("cascade.test").info("not shown")
    logging.getLogger("cascade.test").warning("shown")
    (line,) = out.getvalue().splitlines()
    assert line.endswith("WARNING cascade.test: shown")


def test_default_handler_writes_to_the_current_stderr(
    restore_root: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", json=True)
    logging.getLogger("cascade.test").info("to stderr")
    captured = capsys.readouterr()
    assert captured.out == "" and json.loads(captured.err)["message"] == "to stderr"
