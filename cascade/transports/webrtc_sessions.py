"""The calls a WebRTC server runs: one call's life and the registry that bounds and owns them.

A :class:`WebRTCSession` runs its pipeline until the call ends -- hang-up, ICE failure, connect
timeout, time limit or server shutdown -- and is always torn down completely: pipeline, peer
connection, its sockets and tasks. The :class:`SessionRegistry` counts the calls being accepted and
running against the session limit and owns the task group they run in. The HTTP side (offers,
tokens, routes) is :mod:`cascade.transports.webrtc_signaling`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Protocol

import anyio
from aiortc import RTCPeerConnection
from anyio.abc import TaskGroup

from cascade.pipeline import Pipeline
from cascade.transports.webrtc import WebRTCTransport

log = logging.getLogger("cascade.webrtc")


class SessionLimits(Protocol):
    """The limits and timeouts sessions follow (:class:`~cascade.transports.webrtc_signaling.
    WebRTCOptions` has them all)."""

    @property
    def max_sessions(self) -> int:
        """Concurrent calls accepted."""

    @property
    def connect_timeout(self) -> float:
        """Seconds for ICE/DTLS to connect after the answer."""

    @property
    def max_session_seconds(self) -> float:
        """Longest call, in seconds."""

    @property
    def hangup_grace(self) -> float:
        """Seconds a pipeline may take to drain after a hang-up."""


class WebRTCSession:
    """One call: its peer connection, transport and pipeline, and why it ended."""

    def __init__(
        self,
        registry: SessionRegistry,
        pc: RTCPeerConnection,
        transport: WebRTCTransport,
        pipeline: Pipeline,
    ) -> None:
        self.registry = registry
        self.id = transport.session_id
        self.pc = pc
        self.transport = transport
        self.pipeline = pipeline
        self.started = time.monotonic()
        self.end_reason = ""
        self.error: BaseException | None = None
        self.closed = anyio.Event()
        self._connected = anyio.Event()
        self._ending = anyio.Event()
        self._scope: anyio.CancelScope | None = None

    def connection_state_changed(self, state: str) -> None:
        """Follow the peer connection's state (ICE/DTLS)."""
        log.debug("session %s: connection %s", self.id, state)
        if state == "connected":
            self._connected.set()
        elif state in ("failed", "closed"):
            self.hangup(f"connection {state}")

    def hangup(self, reason: str) -> None:
        """End the call: stop the input, let the pipeline drain, then close everything."""
        if self._ending.is_set():
            return
        self.end_reason = reason
        log.info("session %s: ending (%s)", self.id, reason)
        self.transport.send_event({"type": "bye", "reason": reason})
        self.transport.end_input()
        self._ending.set()

    async def run(self) -> None:
        """Run the pipeline until the call ends; always tear everything down."""
        try:
            with anyio.CancelScope() as self._scope:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._watch)
                    await self.pipeline.run(self.transport)
                    self.hangup(self.end_reason or "pipeline ended")
                    tg.cancel_scope.cancel()
        except Exception as exc:
            self.error = exc
            log.exception("session %s failed", self.id)
        finally:
            with anyio.CancelScope(shield=True):
                await close_peer_connection(self.pc)
                self.transport.stop_tracks()
            self.registry.discard(self.id)
            self.closed.set()
            log.info("session %s: closed after %.1fs", self.id, time.monotonic() - self.started)

    async def _watch(self) -> None:
        limits = self.registry.limits
        with anyio.move_on_after(limits.connect_timeout):
            await self._connected.wait()
        if not self._connected.is_set():
            self.hangup(f"no connection within {limits.connect_timeout:g}s (ICE/DTLS)")
        left = limits.max_session_seconds - (time.monotonic() - self.started)
        with anyio.move_on_after(max(0.0, left)):
            await self._ending.wait()
        self.hangup(f"time limit of {limits.max_session_seconds:g}s")
        await anyio.sleep(limits.hangup_grace)
        if self._scope is not None:
            log.warning("session %s: pipeline did not drain in %gs; cancelling", self.id, limits.hangup_grace)
            self._scope.cancel()


class SessionRegistry:
    """The calls in progress and those being accepted, within ``limits.max_sessions``.

    Sessions run in the registry's task group while :meth:`running`; leaving it hangs every call
    up and waits (bounded) for their teardown.
    """

    def __init__(self, limits: SessionLimits) -> None:
        self.limits = limits
        self._sessions: dict[str, WebRTCSession] = {}
        self._pending = 0
        self._tg: TaskGroup | None = None

    @property
    def sessions(self) -> dict[str, WebRTCSession]:
        """Calls in progress, by id."""
        return dict(self._sessions)

    @property
    def accepting(self) -> bool:
        """Whether sessions can start (inside :meth:`running`)."""
        return self._tg is not None

    def __len__(self) -> int:
        return len(self._sessions)

    def get(self, session_id: str) -> WebRTCSession | None:
        """The call ``session_id``, if it is still in progress."""
        return self._sessions.get(session_id)

    def full(self) -> bool:
        """Every slot is taken by a running call or one being accepted."""
        return len(self._sessions) + self._pending >= self.limits.max_sessions

    @contextmanager
    def reserving(self) -> Iterator[None]:
        """Hold a slot while an offer is being answered (it counts against the limit)."""
        self._pending += 1
        try:
            yield
        finally:
            self._pending -= 1

    def start(self, session: WebRTCSession) -> None:
        """Run ``session`` in the registry's task group."""
        if self._tg is None:
            raise RuntimeError("the session registry is not running")
        self._sessions[session.id] = session
        self._tg.start_soon(session.run)

    def discard(self, session_id: str) -> None:
        """Forget a call that was torn down."""
        self._sessions.pop(session_id, None)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Own the sessions: on exit every call is hung up and torn down."""
        async with anyio.create_task_group() as tg:
            self._tg = tg
            try:
                yield
            finally:
                self._tg = None
                for session in list(self._sessions.values()):
                    session.hangup("server shutting down")
                with anyio.move_on_after(self.limits.hangup_grace + 2.0):
                    for session in list(self._sessions.values()):
                        await session.closed.wait()
                tg.cancel_scope.cancel()


async def close_peer_connection(pc: RTCPeerConnection, wait: float = 2.0) -> None:
    """Close ``pc`` and make sure none of its background tasks survive.

    aiortc runs ICE connect in an unowned task; when ``close()`` races ICE completion, aioice starts
    its consent-freshness task after the connection was closed, and it would live on for ~30 s.
    Wait for the connect task to end (bounded) and cancel such a consent task.
    """
    await pc.close()
    deadline = time.monotonic() + wait
    # aiortc gives no handle or event to wait on: poll
    while time.monotonic() < deadline and any(_runs_for(t, pc) for t in asyncio.all_tasks()):  # noqa: ASYNC110
        await anyio.sleep(0.02)
    dtls_transports = [t.receiver.transport for t in pc.getTransceivers()]
    if pc.sctp is not None:
        dtls_transports.append(pc.sctp.transport)
    for dtls in dtls_transports:
        connection = (
            getattr(getattr(dtls.transport, "iceGatherer", None), "_connection", None) if dtls else None
        )
        task = getattr(connection, "_query_consent_task", None)
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def _runs_for(task: asyncio.Task[Any], owner: object) -> bool:
    coro = task.get_coro()
    frame = getattr(coro, "cr_frame", None)
    return not task.done() and frame is not None and frame.f_locals.get("self") is owner
