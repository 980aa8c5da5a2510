"""Progress of long first-run steps: a live line on a terminal, plain log lines elsewhere."""

from __future__ import annotations

import logging
import sys
import threading

import pytest

from cascade import progress as progress_module
from cascade.progress import progress


def test_progress_is_plain_log_lines_when_stderr_is_not_a_terminal(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not sys.stderr.isatty()
    with caplog.at_level(logging.INFO, "cascade.progress"):
        with progress("installing vLLM", total=3, unit="steps") as step:
            step.update("installing vLLM: pip install")
            step.advance()
        with pytest.raises(OSError, match="disk full"), progress("converting the model"):
            raise OSError("disk full")
    lines = [record.getMessage() for record in caplog.records]
    assert lines[0] == "installing vLLM ..."
    assert lines[1].startswith("installing vLLM: done in ") and lines[1].endswith("s")
    assert lines[2] == "converting the model ..."
    assert lines[3].startswith("converting the model: failed after ")
    assert len(lines) == 4
    assert capsys.readouterr().err == ""  # no live display, no escape codes


def test_live_steps_share_one_display_across_threads_and_nesting(caplog: pytest.LogCaptureFixture) -> None:
    done = threading.Event()

    def other_step() -> None:
        with progress("downloading part 2", total=2e6, unit="bytes", live=True) as step:
            step.advance(1e6)
            done.wait(5)

    with caplog.at_level(logging.INFO, "cascade.progress"):
        with progress("preparing", live=True) as outer:
            assert outer.live
            display = progress_module._display
            worker = threading.Thread(target=other_step)
            worker.start()
            with progress("assembling", total=10, unit="bytes", live=True) as inner:
                inner.advance(5)
                assert progress_module._display is display
            done.set()
            worker.join()
        assert progress_module._display is None
    lines = sorted(record.getMessage().split(":")[0] for record in caplog.records)
    assert lines == ["assembling", "downloading part 2", "preparing"]  # one line each, at the end
