"""Fixtures for the WebRTC tests: loopback ICE for in-process peers, a scripted server."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import aioice.ice
import httpx
import pytest

from cascade.transports.webrtc_signaling import PipelineFactory, WebRTCOptions, WebRTCServer
from tests.webrtc.agents import scripted

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """In-process peers gather only 127.0.0.1 (aioice skips loopback by default): no traffic leaves."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
    yield


def open_sockets() -> int:
    """Sockets this process holds (file descriptors pointing at sockets)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return count


def live_tasks() -> set[asyncio.Task[object]]:
    """Tasks still running on this event loop."""
    return {t for t in asyncio.all_tasks() if not t.done()}


@asynccontextmanager
async def serve(
    factory: PipelineFactory = scripted, page_dir: Path | None = None, **options: Any
) -> AsyncIterator[tuple[WebRTCServer, httpx.AsyncClient]]:
    """A running server (token ``TOKEN`` unless given) and an in-process HTTP client for its app."""
    options.setdefault("token", TOKEN)
    srv = WebRTCServer(factory, WebRTCOptions(**options), page_dir=page_dir)
    async with srv.running():
        transport = httpx.ASGITransport(app=srv.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield srv, client
