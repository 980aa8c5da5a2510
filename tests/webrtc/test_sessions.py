"""Whole calls with an in-process aiortc caller: audio both ways, events, complete teardown."""

from __future__ import annotations

import asyncio

import anyio
import pytest

from tests.webrtc.conftest import AUTH, live_tasks, open_sockets, serve
from tests.webrtc.peer import Caller, wait_for

pytestmark = pytest.mark.anyio

QUESTION = [(0.2, 1.0)]
"""The caller's scripted microphone: one loud burst (the fake ASR turns it into a question)."""


async def settle() -> None:
    """Let closing transports run their last callbacks."""
    await anyio.sleep(0.3)


async def test_call_streams_audio_and_events_then_tears_down_on_hangup(loopback_ice: None) -> None:
    tasks, sockets = live_tasks(), open_sockets()
    async with serve() as (server, client):
        caller = Caller(QUESTION)
        response = await client.post("/offer", json=await caller.offer(), headers=AUTH)
        assert response.status_code == 200
        await caller.accept(response.json())
        await wait_for(lambda: "bot_words" in caller.types(), what="the bot's words")
        await wait_for(lambda: any(peak > 1000 for _, peak in caller.heard), what="bot audio")
        types = caller.types()
        assert types[0] == "session"
        for expected in ("speech_started", "speech_stopped", "final", "turn", "bot_started"):
            assert expected in types
        turn = next(e for e in caller.events if e["type"] == "turn")
        assert turn["voice_to_voice"] is not None and turn["voice_to_voice"] > 0
        first_loud = next(t for t, peak in caller.heard if peak > 1000)
        assert first_loud > QUESTION[0][1], "bot audio must come after the caller's question"

        caller.hangup()
        await wait_for(lambda: not server.sessions, what="the session to end")
        assert "bye" in caller.types()
        await caller.close()
    await settle()
    assert live_tasks() - tasks == set()
    assert open_sockets() == sockets


async def test_connect_timeout_tears_down_an_unanswered_session(loopback_ice: None) -> None:
    tasks, sockets = live_tasks(), open_sockets()
    async with serve(connect_timeout=0.5) as (server, client):
        caller = Caller(QUESTION)
        response = await client.post("/offer", json=await caller.offer(), headers=AUTH)
        assert response.status_code == 200  # but the caller never applies the answer: ICE never starts
        session = next(iter(server.sessions.values()))
        await caller.close()
        with anyio.fail_after(5):
            await session.closed.wait()
        assert "no connection within 0.5s" in session.end_reason
        assert server.sessions == {}
    await settle()
    assert live_tasks() - tasks == set()
    assert open_sockets() == sockets


async def test_caller_vanishing_without_hangup_ends_the_session(loopback_ice: None) -> None:
    async with serve() as (server, client):
        caller = Caller(QUESTION)
        response = await client.post("/offer", json=await caller.offer(), headers=AUTH)
        await caller.accept(response.json())
        await wait_for(lambda: "session" in caller.types(), what="the data channel")
        session = next(iter(server.sessions.values()))
        await caller.close()  # no hangup message: DTLS/ICE closing must be noticed
        with anyio.fail_after(10):
            await session.closed.wait()
        assert session.end_reason.startswith("connection")


async def test_time_limit_and_server_shutdown_end_sessions(loopback_ice: None) -> None:
    tasks, sockets = live_tasks(), open_sockets()
    callers = [Caller(QUESTION), Caller()]
    async with serve(max_session_seconds=1.5, max_sessions=2) as (server, client):
        for caller in callers:
            response = await client.post("/offer", json=await caller.offer(), headers=AUTH)
            await caller.accept(response.json())
        limited = list(server.sessions.values())
        with anyio.fail_after(8):
            for session in limited:
                await session.closed.wait()
        assert all("time limit" in s.end_reason for s in limited)

        fresh = Caller()
        response = await client.post("/offer", json=await fresh.offer(), headers=AUTH)
        await fresh.accept(response.json())
        running = next(iter(server.sessions.values()))
    # leaving `serve` shut the server down with a call in progress
    assert running.closed.is_set()
    assert running.end_reason == "server shutting down"
    for caller in [*callers, fresh]:
        await caller.close()
    await settle()
    assert live_tasks() - tasks == set()
    assert open_sockets() == sockets


async def test_many_sessions_in_one_process(loopback_ice: None) -> None:
    async with serve(max_sessions=3) as (server, client):
        callers = [Caller(QUESTION) for _ in range(3)]
        for caller in callers:
            response = await client.post("/offer", json=await caller.offer(), headers=AUTH)
            assert response.status_code == 200
            await caller.accept(response.json())
        assert len(server.sessions) == 3
        for caller in callers:
            await wait_for(lambda c=caller: "bot_words" in c.types(), what="every caller to hear the bot")
        ids = {next(e["id"] for e in c.events if e["type"] == "session") for c in callers}
        assert len(ids) == 3
        for caller in callers:
            caller.hangup()
        await wait_for(lambda: not server.sessions, what="all sessions to end")
        await asyncio.gather(*(c.close() for c in callers))
