"""Test kit: run a stage or a chain on a list of frames in virtual time, and scripted fakes.

>>> result = await run_stages([MyStage()], [FinalTranscript(pts=0.5, text="hi")])
>>> assert [f.kind for f in result.frames] == ["FinalTranscript", "EndOfStream"]

Fakes for framework tests live in :mod:`cascade.testing.fakes` and nowhere else.
"""

from cascade.testing.runner import (
    LeakedTasksError,
    ListSource,
    RunResult,
    assert_no_leaked_tasks,
    autojump,
    run_stages,
)

__all__ = [
    "LeakedTasksError",
    "ListSource",
    "RunResult",
    "assert_no_leaked_tasks",
    "autojump",
    "run_stages",
]
