"""What every transport provides: a source stage (caller → pipeline) and a sink stage (bot → caller).

The contract lives in the core because the pipeline and the test kit build on it; the
implementations (files, WebRTC, SIP) live in :mod:`cascade.transports`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from cascade.channel import FrameReceive, FrameSend
from cascade.clock import Clock
from cascade.session import SessionContext
from cascade.session_info import SessionInfo
from cascade.stage import Stage, StageRuntime


class Source(Stage):
    """A stage that produces frames from the outside world instead of reading an inbox.

    Subclasses implement :meth:`produce`; returning from it ends the session gracefully (end of
    stream flows down the pipeline after everything already sent).
    """

    async def produce(self) -> None:
        """Emit frames with :meth:`emit` until the input ends."""
        raise NotImplementedError

    async def _run(self, ctx: SessionContext, inbox: FrameReceive, outbox: FrameSend) -> None:
        inbox.close()
        await _SourceRuntime(self, ctx, outbox).run(inbox)


class _SourceRuntime(StageRuntime):
    async def _pump(self, inbox: FrameReceive) -> None:
        assert isinstance(self.stage, Source)
        await self.stage.produce()


class Transport(ABC):
    """Joins a pipeline to a caller. ``Pipeline.run(transport)`` runs one session on it."""

    sample_rate: int = 16000
    """Sample rate of the audio frames exchanged with the pipeline."""

    clock: Clock | None = None
    """The session clock to use (``None``: real time)."""

    kind: str = "custom"
    """What carries the session (``SessionInfo.transport``): ``"sip"``, ``"webrtc"``, ``"file"``."""

    def session_info(self) -> SessionInfo:
        """Who the session run on this transport is with (called once as it starts). The default
        knows only the kind; transports that know the caller or can end the call say more."""
        return SessionInfo(transport=self.kind)

    @abstractmethod
    def source(self) -> Source:
        """A fresh source stage for one session."""

    @abstractmethod
    def sink(self) -> Stage:
        """A fresh sink stage for one session (plays bot audio, reports what was heard)."""
