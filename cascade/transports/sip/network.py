"""SIP over UDP and TCP: one listener per transport, connection reuse, message framing.

Every complete message is handed to ``on_message(data, peer)``; replies go back with
:meth:`SipNetwork.send` to the same :class:`Peer` (over TCP: the same connection when it is still
open, otherwise a new one).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import anyio
from anyio.abc import SocketAttribute, SocketStream, TaskGroup, UDPSocket

from cascade.transports.sip.message import MAX_MESSAGE_BYTES, SipParseError, frame_stream

log = logging.getLogger("cascade.sip.network")

MAX_TCP_CONNECTIONS = 1024


@dataclass(frozen=True)
class Peer:
    """Where a message came from or goes to."""

    transport: str
    """``udp`` or ``tcp``."""
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.transport}:{self.host}:{self.port}"


MessageHandler = Callable[[bytes, Peer], Awaitable[None]]


class SipNetwork:
    """UDP and TCP sockets of one user agent."""

    def __init__(self, host: str, port: int, transports: tuple[str, ...], on_message: MessageHandler) -> None:
        self.host = host
        self.port = port
        self.transports = transports
        self.on_message = on_message
        self._udp: UDPSocket | None = None
        self._udp_lock = anyio.Lock()
        self._tcp: dict[tuple[str, int], SocketStream] = {}
        self._locks: dict[tuple[str, int], anyio.Lock] = {}
        self._tg: TaskGroup | None = None

    async def run(self, *, task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED) -> None:
        """Bind the sockets, report the bound port, and serve until cancelled."""
        family: Literal[socket.AddressFamily.AF_INET, socket.AddressFamily.AF_INET6] = (
            socket.AF_INET6 if ":" in self.host else socket.AF_INET
        )
        async with anyio.create_task_group() as tg:
            self._tg = tg
            try:
                port = self.port
                if "udp" in self.transports:
                    self._udp = await anyio.create_udp_socket(
                        family=family, local_host=self.host, local_port=port
                    )
                    port = self._udp.extra(SocketAttribute.local_port)
                    tg.start_soon(self._serve_udp, self._udp)
                if "tcp" in self.transports:
                    listener = await anyio.create_tcp_listener(
                        local_host=self.host, local_port=port, reuse_port=False
                    )
                    port = listener.extra(SocketAttribute.local_port)
                    tg.start_soon(self._serve_tcp, listener)
                self.port = port
                task_status.started(port)
                await anyio.sleep_forever()
            finally:
                with anyio.CancelScope(shield=True):
                    if self._udp is not None:
                        await self._udp.aclose()
                    for stream in list(self._tcp.values()):
                        await stream.aclose()
                    self._tcp.clear()
                    tg.cancel_scope.cancel()

    async def _serve_udp(self, sock: UDPSocket) -> None:
        while True:
            try:
                data, (host, port) = await sock.receive()
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                return
            except OSError as exc:  # ICMP errors surface here on some systems
                log.debug("UDP receive error: %s", exc)
                continue
            await self._deliver(data, Peer("udp", host, port))

    async def _deliver(self, data: bytes, peer: Peer) -> None:
        if not data.strip():
            return  # keep-alive
        try:
            await self.on_message(data, peer)
        except Exception:  # one bad message must never stop the listener
            log.exception("error handling a message from %s", peer)

    async def _serve_tcp(self, listener: anyio.abc.Listener[SocketStream]) -> None:
        async with listener:
            await listener.serve(self._connection, task_group=self._tg)

    async def _connection(self, stream: SocketStream) -> None:
        address: Any = stream.extra(SocketAttribute.remote_address)
        host, port = address[0], address[1]
        key = (str(host), int(port))
        if len(self._tcp) >= MAX_TCP_CONNECTIONS:
            log.warning("refusing TCP connection from %s:%s: %d connections open", host, port, len(self._tcp))
            await stream.aclose()
            return
        self._tcp[key] = stream
        await self._read(stream, Peer("tcp", *key))

    async def _read(self, stream: SocketStream, peer: Peer) -> None:
        buffer = bytearray()
        try:
            async with stream:
                while True:
                    try:
                        chunk = await stream.receive(MAX_MESSAGE_BYTES)
                    except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                        return
                    buffer += chunk
                    while True:
                        try:
                            data = frame_stream(buffer)
                        except SipParseError as exc:
                            log.warning("closing TCP connection from %s: %s", peer, exc)
                            return
                        if data is None:
                            break
                        await self._deliver(data, peer)
        finally:
            if self._tcp.get((peer.host, peer.port)) is stream:
                del self._tcp[(peer.host, peer.port)]

    def has_connection(self, peer: Peer) -> bool:
        """True when a TCP connection to ``peer`` is open."""
        return (peer.host, peer.port) in self._tcp

    async def send(self, data: bytes, peer: Peer) -> None:
        """Send one message; raises :class:`OSError` when the peer cannot be reached."""
        if peer.transport == "udp":
            if self._udp is None:
                raise OSError("UDP is not enabled on this user agent")
            async with self._udp_lock:  # anyio allows one writer at a time
                await self._udp.sendto(data, peer.host, peer.port)
            return
        if "tcp" not in self.transports or self._tg is None:
            raise OSError("TCP is not enabled on this user agent")
        key = (peer.host, peer.port)
        lock = self._locks.setdefault(key, anyio.Lock())
        async with lock:
            stream = self._tcp.get(key)
            if stream is None:
                with anyio.fail_after(5):
                    stream = await anyio.connect_tcp(peer.host, peer.port)
                self._tcp[key] = stream
                self._tg.start_soon(self._read, stream, peer)
            try:
                await stream.send(data)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
                self._tcp.pop(key, None)
                raise OSError(f"TCP connection to {peer} is closed") from exc
