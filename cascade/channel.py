"""The bounded queue between two stages: one receiver, any number of senders (:meth:`FrameSend.clone`).

It behaves like anyio's memory object streams (the same errors: ``ClosedResourceError`` on a
closed end, ``BrokenResourceError`` when sending to a closed receiver, ``EndOfStream`` once every
sender closed and the buffer is empty) but is built for the frame hot path: a frame that fits in
the buffer is queued without a scheduler round trip, and a waiting receiver is woken through one
future. anyio's streams yield to the event loop on every send and receive and wake through an
``Event``; a hop between two stages cost about five times more with them
(``benchmarks/overhead.py``).

A sender blocks while the buffer is full (back-pressure); a cancelled sender or receiver loses no
frame (frames only ever wait in the buffer, never in a future).
"""

from __future__ import annotations

import asyncio
from collections import deque
from types import TracebackType
from typing import Self

import anyio

from cascade.frames import Frame


class _State:
    __slots__ = ("buffer", "capacity", "getter", "putters", "receiver_open", "senders")

    def __init__(self, capacity: float) -> None:
        self.buffer: deque[Frame] = deque()
        self.capacity = capacity
        self.getter: asyncio.Future[None] | None = None
        self.putters: deque[asyncio.Future[None]] | None = None
        """Senders waiting for room (made when the first one waits: most channels never fill)."""
        self.senders = 0
        self.receiver_open = True

    def wake_getter(self) -> None:
        getter, self.getter = self.getter, None
        if getter is not None and not getter.done():
            getter.set_result(None)

    def wake_putter(self) -> None:
        while self.putters:
            putter = self.putters.popleft()
            if not putter.done():
                putter.set_result(None)
                return


def create_channel(capacity: float) -> tuple[FrameSend, FrameReceive]:
    """A channel holding up to ``capacity`` frames (at least one; ``math.inf``: unbounded) and its
    two ends."""
    state = _State(max(1, capacity))
    return FrameSend(state), FrameReceive(state)


class _End:
    """What both ends share: the channel, whether this end is closed, ``with end:`` closing it."""

    __slots__ = ("_closed", "_state")

    def __init__(self, state: _State) -> None:
        self._state = state
        self._closed = False

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class FrameSend(_End):
    """The sending end. Close it (or use ``with``) when done; the receiver ends after the last one."""

    __slots__ = ()

    def __init__(self, state: _State) -> None:
        super().__init__(state)
        state.senders += 1

    async def send(self, frame: Frame) -> None:
        """Queue ``frame``, waiting while the buffer is full."""
        state = self._state
        while True:
            if self._closed:
                raise anyio.ClosedResourceError
            if not state.receiver_open:
                raise anyio.BrokenResourceError
            if len(state.buffer) < state.capacity:
                state.buffer.append(frame)
                if state.getter is not None:
                    state.wake_getter()
                return
            putter = asyncio.get_running_loop().create_future()
            if state.putters is None:
                state.putters = deque()
            state.putters.append(putter)
            try:
                await putter
            except BaseException:
                if putter.done() and not putter.cancelled():
                    state.wake_putter()  # woken for room, but leaving: pass the turn on
                raise

    def send_nowait(self, frame: Frame) -> None:
        """Queue ``frame`` or raise ``anyio.WouldBlock`` if the buffer is full."""
        if self._closed:
            raise anyio.ClosedResourceError
        state = self._state
        if not state.receiver_open:
            raise anyio.BrokenResourceError
        if len(state.buffer) >= state.capacity:
            raise anyio.WouldBlock
        state.buffer.append(frame)
        state.wake_getter()

    def clone(self) -> FrameSend:
        """Another sending end of the same channel (the receiver ends once all are closed)."""
        if self._closed:
            raise anyio.ClosedResourceError
        return FrameSend(self._state)

    def close(self) -> None:
        """Close this end (idempotent)."""
        if not self._closed:
            self._closed = True
            state = self._state
            state.senders -= 1
            if state.senders == 0:
                state.wake_getter()


class FrameReceive(_End):
    """The receiving end; ``async for frame in receive`` reads until every sender closed."""

    __slots__ = ()

    async def receive(self) -> Frame:
        """The next frame, waiting for one; ``anyio.EndOfStream`` once all senders closed."""
        state = self._state
        while True:
            if self._closed:
                raise anyio.ClosedResourceError
            if state.buffer:
                frame = state.buffer.popleft()
                if state.putters:
                    state.wake_putter()
                return frame
            if state.senders == 0:
                raise anyio.EndOfStream
            getter = asyncio.get_running_loop().create_future()
            state.getter = getter
            try:
                await getter
            finally:
                if state.getter is getter:
                    state.getter = None

    def receive_nowait(self) -> Frame:
        """The next frame if one is queued, else ``anyio.WouldBlock`` (``EndOfStream`` at the end)."""
        if self._closed:
            raise anyio.ClosedResourceError
        state = self._state
        if state.buffer:
            frame = state.buffer.popleft()
            state.wake_putter()
            return frame
        if state.senders == 0:
            raise anyio.EndOfStream
        raise anyio.WouldBlock

    def close(self) -> None:
        """Stop receiving: queued frames are dropped and senders get ``BrokenResourceError``."""
        if not self._closed:
            self._closed = True
            state = self._state
            state.receiver_open = False
            state.buffer.clear()
            while state.putters:
                state.wake_putter()

    def __aiter__(self) -> FrameReceive:
        return self

    async def __anext__(self) -> Frame:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None
