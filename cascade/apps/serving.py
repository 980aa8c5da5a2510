"""The apps' servers: an ASGI server run inside the app's task group, a clean stop on signals."""

from __future__ import annotations

import logging
import signal
import socket
from typing import Any

import anyio
from anyio.abc import TaskStatus

log = logging.getLogger("cascade.apps")


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket; a taken port raises :class:`OSError` (EADDRINUSE) right away."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


async def serve_asgi(
    app: Any,
    sock: socket.socket,
    *,
    task_status: TaskStatus[Any] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` on ``sock`` with uvicorn until cancelled (then shut down gracefully: the
    app's lifespan ends, e.g. every WebRTC call is hung up) or until uvicorn stops on a signal."""
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=5, lifespan="auto")
    )
    finished = anyio.Event()

    async def run() -> None:
        with anyio.CancelScope(shield=True):
            try:
                await server.serve(sockets=[sock])
            finally:
                finished.set()
                sock.close()

    async with anyio.create_task_group() as tg:
        tg.start_soon(run)
        try:
            while not server.started and not finished.is_set():  # noqa: ASYNC110 - uvicorn has no event
                await anyio.sleep(0.02)
            task_status.started(server)
            await finished.wait()
        finally:
            server.should_exit = True


async def cancel_on_signals(scope: anyio.CancelScope) -> None:
    """Cancel ``scope`` on SIGINT or SIGTERM (a clean stop: calls get BYE, sessions end)."""
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for received in signals:
            log.info("%s: stopping", signal.Signals(received).name)
            scope.cancel()
            return
