"""Test kit: run a stage or a chain on a list of frames in virtual time, and scripted fakes.

>>> import anyio
>>> from cascade import Stage
>>> from cascade.frames import FinalTranscript
>>> from cascade.testing import run_stages
>>> result = anyio.run(run_stages, [Stage()], [FinalTranscript(pts=0.5, text="hi")])
>>> result.kinds()
['FinalTranscript', 'EndOfStream']

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
