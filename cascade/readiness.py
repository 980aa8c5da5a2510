"""Whether an app may take calls yet: preparing → ready, or failed.

An app opens its ports at once (so health checks get an answer) but takes calls only when its
models and LLM server are ready; until then SIP answers 503 and ``/healthz`` says 503:

>>> import anyio
>>> readiness = Readiness()
>>> readiness.probe()
(503, {'status': 'preparing'})
>>> async def load_models() -> None:
...     await anyio.sleep(0)
>>> anyio.run(readiness.prepare, load_models)
>>> readiness.probe()
(200, {'status': 'ready'})
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import anyio

from cascade.errors import describe_error
from cascade.session import report_error

log = logging.getLogger("cascade.readiness")

State = Literal["preparing", "ready", "failed"]


class Readiness:
    """The preparation state of one app (models, LLM server), shared by its endpoints."""

    def __init__(self, state: State = "preparing") -> None:
        self.state: State = state
        self.error: BaseException | None = None
        """Why preparation failed (``state == "failed"``)."""
        self._ended: anyio.Event | None = None  # made in the event loop, on first use

    @property
    def ready(self) -> bool:
        """Calls may be taken."""
        return self.state == "ready"

    async def prepare(self, startup: Callable[[], Awaitable[Any]] | None) -> None:
        """Await ``startup`` (once) and become ready; if it raises, become failed and re-raise."""
        try:
            if startup is not None:
                await startup()
        except Exception as exc:
            self.state, self.error = "failed", exc
            report_error("prepare", exc)
            raise
        else:
            self.state = "ready"
        finally:
            self._ended_event().set()

    async def wait(self) -> None:
        """Return once preparation has ended (ready or failed)."""
        if self.state == "preparing":
            await self._ended_event().wait()

    def _ended_event(self) -> anyio.Event:
        if self._ended is None:
            self._ended = anyio.Event()
        return self._ended

    @property
    def reason(self) -> str:
        """One line saying why calls are refused (empty when ready)."""
        if self.state == "preparing":
            return "the agent is still preparing its models; try again shortly"
        if self.state == "failed":
            assert self.error is not None
            detail = describe_error(self.error) or f"{type(self.error).__name__}: {self.error}"
            return f"the agent failed to prepare: {detail}"
        return ""

    def probe(self) -> tuple[int, dict[str, str]]:
        """``(HTTP status, body)`` for a readiness endpoint: 200 when ready, else 503."""
        if self.state == "ready":
            return 200, {"status": "ready"}
        if self.state == "failed":
            return 503, {"status": "failed", "error": self.reason}
        return 503, {"status": "preparing"}
