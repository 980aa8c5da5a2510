"""A scripted OpenAI-compatible HTTP server on loopback, for tests of LLM clients.

The server runs on its own event loop in a background thread, so its connection tasks never
mix with the code under test (leak checks and virtual time see only the client). It speaks
real HTTP/1.1 (server-sent events for streams) so the client under test runs its real
network code: connection errors, HTTP status errors, a connection dropped mid-stream and a client
closing the stream (cancellation) all happen for real. Each chat request takes the next scripted
:class:`Reply`::

    async with FakeOpenAI([Reply(text="Hello there."), Reply(tool_calls=[("f", {"x": 1})])]) as server:
        client = AsyncOpenAI(base_url=server.base_url, api_key="x")
        ...
        assert server.requests[0]["messages"][-1]["content"] == "hi"

Also serves ``/health``, ``/v1/models`` (with vLLM's ``max_model_len``) and vLLM's ``/tokenize``
(one token per whitespace-separated word plus 4 per message: simple and predictable).
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager as ContextManager
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import anyio
from anyio.abc import SocketAttribute, SocketStream, TaskStatus
from anyio.from_thread import BlockingPortal, start_blocking_portal
from anyio.streams.buffered import BufferedByteReceiveStream

Responder = Callable[[dict[str, Any]], "Reply"]


@dataclass
class Reply:
    """One scripted answer to a chat completion request."""

    text: str = ""
    """Content, streamed one word (with its leading space) per chunk."""
    tool_calls: Sequence[tuple[str, str | dict[str, Any]]] = ()
    """Calls as ``(name, arguments)``; arguments stream in pieces of ``args_piece`` characters."""
    status: int = 200
    """An HTTP error status (with ``error`` as message) instead of an answer."""
    error: str = ""
    drop_after: int | None = None
    """Close the connection abruptly after this many chunks (no ``[DONE]``)."""
    hang_after: int | None = None
    """After this many chunks, send nothing more until the client closes the stream."""
    chunk_delay: float = 0.0
    """Seconds (real time) between chunks."""
    args_piece: int = 7


@dataclass
class _Stats:
    disconnects: int = 0
    """Streams the client closed (or that broke) before they were complete."""
    active_streams: int = 0
    completed_streams: int = 0


class FakeOpenAI:
    """The server; a (sync or async) context manager listening on 127.0.0.1, a free port."""

    def __init__(
        self,
        script: Iterable[Reply | Responder] = (),
        *,
        model: str = "fake-model",
        max_model_len: int | None = 8192,
        tokenize: bool = True,
        default: Reply | Responder | None = None,
    ) -> None:
        """``default`` answers when the script is used up (``Reply(text="OK.")`` if not given)."""
        self.script: deque[Reply | Responder] = deque(script)
        self.model = model
        self.max_model_len = max_model_len
        self.tokenize = tokenize
        self.default = default or Reply(text="OK.")
        self.requests: list[dict[str, Any]] = []
        """Bodies of the chat completion requests received, in order."""
        self.tokenize_requests = 0
        self.stats = _Stats()
        self.port = 0
        self._portal_cm: ContextManager[BlockingPortal] | None = None
        self._served: Future[None] | None = None

    @property
    def base_url(self) -> str:
        """OpenAI base URL of the server."""
        return f"http://127.0.0.1:{self.port}/v1"

    def add(self, *replies: Reply | Responder) -> None:
        """Append replies to the script."""
        self.script.extend(replies)

    def __enter__(self) -> FakeOpenAI:
        self._portal_cm = start_blocking_portal()
        portal = self._portal_cm.__enter__()
        self._served, _ = portal.start_task(self._serve)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._portal_cm is not None and self._served is not None
        self._served.cancel()
        self._portal_cm.__exit__(kind, exc, tb)

    async def __aenter__(self) -> FakeOpenAI:
        return self.__enter__()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(kind, exc, tb)

    async def _serve(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        self.port = listener.extra(SocketAttribute.local_port)
        task_status.started()
        await listener.serve(self._connection)

    async def wait_for(self, condition: Callable[[], bool], *, poll: float = 0.01) -> None:
        """Wait until ``condition()`` holds, e.g. ``lambda: server.stats.disconnects > 0``.

        Wrap it in ``anyio.fail_after`` to bound the wait.
        """
        while not condition():  # noqa: ASYNC110 (the server's state lives in another thread)
            await anyio.sleep(poll)

    def _changed(self) -> None:
        """Hook for state changes (counters are read across threads; ints are atomic)."""

    # --- HTTP ---------------------------------------------------------------------------------

    async def _connection(self, stream: SocketStream) -> None:
        reader = BufferedByteReceiveStream(stream)
        async with stream:
            try:
                while True:
                    head = await reader.receive_until(b"\r\n\r\n", 65536)
                    lines = head.decode("latin-1").split("\r\n")
                    method, path, _ = lines[0].split(" ", 2)
                    headers = {
                        k.strip().lower(): v.strip() for k, v in (x.split(":", 1) for x in lines[1:] if x)
                    }
                    size = int(headers.get("content-length", "0"))
                    body = await reader.receive_exactly(size) if size else b""
                    if not await self._route(stream, reader, method, path.split("?")[0], body):
                        return
            except (
                anyio.EndOfStream,
                anyio.IncompleteRead,
                anyio.BrokenResourceError,
                anyio.ClosedResourceError,
            ):
                return

    async def _send_json(self, stream: SocketStream, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        head = f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {len(data)}\r\n\r\n"
        await stream.send(head.encode() + data)

    async def _route(
        self, stream: SocketStream, reader: BufferedByteReceiveStream, method: str, path: str, body: bytes
    ) -> bool:
        """Answer one request; False when the connection must be closed."""
        if method == "GET" and path == "/health":
            await self._send_json(stream, 200, {})
        elif method == "GET" and path == "/v1/models":
            card: dict[str, Any] = {"id": self.model, "object": "model", "owned_by": "fake"}
            if self.max_model_len is not None:
                card["max_model_len"] = self.max_model_len
            await self._send_json(stream, 200, {"object": "list", "data": [card]})
        elif method == "POST" and path == "/tokenize" and self.tokenize:
            self.tokenize_requests += 1
            request = json.loads(body)
            messages = request.get("messages") or [{"content": request.get("prompt", "")}]
            count = sum(len(str(m.get("content") or "").split()) + 4 for m in messages)
            await self._send_json(stream, 200, {"count": count, "max_model_len": self.max_model_len})
        elif method == "POST" and path == "/v1/chat/completions":
            return await self._chat(stream, reader, json.loads(body))
        else:
            await self._send_json(stream, 404, {"error": {"message": f"no route {method} {path}"}})
        return True

    async def _chat(
        self, stream: SocketStream, reader: BufferedByteReceiveStream, request: dict[str, Any]
    ) -> bool:
        self.requests.append(request)
        self._changed()
        if request.get("model") != self.model:
            message = f"The model `{request.get('model')}` does not exist."
            await self._send_json(
                stream, 404, {"error": {"message": message, "type": "NotFoundError", "code": 404}}
            )
            return True
        entry = self.script.popleft() if self.script else self.default
        reply = entry if isinstance(entry, Reply) else entry(request)
        if reply.status != 200:
            error = {"message": reply.error or "scripted error", "type": "error", "code": reply.status}
            await self._send_json(stream, reply.status, {"error": error})
            return True
        if not request.get("stream"):
            await self._send_json(stream, 200, _completion(self.model, reply))
            return True
        return await self._stream(stream, reader, reply)

    async def _stream(self, stream: SocketStream, reader: BufferedByteReceiveStream, reply: Reply) -> bool:
        head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
        await stream.send(head.encode())
        self.stats.active_streams += 1
        self._changed()
        try:
            for index, chunk in enumerate([*_chunks(self.model, reply), None]):
                if reply.drop_after is not None and index >= reply.drop_after:
                    return False
                if reply.hang_after is not None and index >= reply.hang_after:
                    await _wait_closed(reader)
                    self.stats.disconnects += 1
                    return False
                if index and reply.chunk_delay:
                    await anyio.sleep(reply.chunk_delay)
                data = "data: [DONE]\n\n" if chunk is None else f"data: {json.dumps(chunk)}\n\n"
                raw = data.encode()
                await stream.send(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
            await stream.send(b"0\r\n\r\n")
            self.stats.completed_streams += 1
            return True
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            self.stats.disconnects += 1
            return False
        finally:
            self.stats.active_streams -= 1
            self._changed()


async def _wait_closed(reader: BufferedByteReceiveStream) -> None:
    """Block until the client closes the connection."""
    try:
        while True:
            await reader.receive()
    except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
        return


def _arguments(arguments: str | dict[str, Any]) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments)


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _chunks(model: str, reply: Reply) -> list[dict[str, Any]]:
    chunks = [_chunk(model, {"role": "assistant", "content": ""})]
    words = reply.text.split(" ")
    chunks += [
        _chunk(model, {"content": w if i == 0 else " " + w}) for i, w in enumerate(words) if reply.text
    ]
    for index, (name, arguments) in enumerate(reply.tool_calls):
        start = {
            "index": index,
            "id": f"call_{index}",
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        chunks.append(_chunk(model, {"tool_calls": [start]}))
        text = _arguments(arguments)
        step = max(1, reply.args_piece)
        for begin in range(0, len(text), step):
            piece = {"index": index, "function": {"arguments": text[begin : begin + step]}}
            chunks.append(_chunk(model, {"tool_calls": [piece]}))
    chunks.append(_chunk(model, {}, "tool_calls" if reply.tool_calls else "stop"))
    return chunks


def _completion(model: str, reply: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": f"call_{i}", "type": "function", "function": {"name": n, "arguments": _arguments(a)}}
            for i, (n, a) in enumerate(reply.tool_calls)
        ]
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {"index": 0, "message": message, "finish_reason": "tool_calls" if reply.tool_calls else "stop"}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


__all__ = ["FakeOpenAI", "Reply", "Responder"]
