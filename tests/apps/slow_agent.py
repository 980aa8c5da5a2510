"""An agent whose preparation lasts until the test says so (the file ``$CASCADE_TEST_READY`` exists,
or, when it names ``fail``, raises a preparation error)."""

from __future__ import annotations

import os
from typing import Any

import anyio

from cascade.agent.config import AgentConfig
from cascade.pipeline import Pipeline
from cascade.testing.fakes import FakeASR, FakeLLM, FakeTurnTaker
from cascade.weights import PrepareError


class SlowAgent:
    """``prepare()`` waits for ``$CASCADE_TEST_READY``; ``pipeline()`` is the fake agent."""

    config = AgentConfig()

    async def prepare(self) -> None:
        ready = anyio.Path(os.environ["CASCADE_TEST_READY"])
        while not await ready.exists():  # noqa: ASYNC110 - another process creates the file
            await anyio.sleep(0.05)
        if (await ready.read_text()).strip() == "fail":
            raise PrepareError("the model cache is unreadable: run `cascade prepare` again")

    def pipeline(self, **_: Any) -> Pipeline:
        return Pipeline([FakeASR(["hello"]), FakeTurnTaker(), FakeLLM("Hi there.")])


agent = SlowAgent()
