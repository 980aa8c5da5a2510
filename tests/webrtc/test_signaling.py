"""The offer endpoint: token, SDP validation, session limit, CORS, page and health routes."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from cascade.apps.demo import PAGE_DIR
from cascade.pipeline import Pipeline
from cascade.transports.webrtc_signaling import OfferError, WebRTCOptions, validate_offer_sdp
from tests.webrtc.conftest import AUTH, serve
from tests.webrtc.peer import Caller, wait_for

pytestmark = pytest.mark.anyio

GOOD = "\r\n".join(
    [
        "v=0",
        "o=- 1 1 IN IP4 0.0.0.0",
        "s=-",
        "t=0 0",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111",
        "a=rtpmap:111 opus/48000/2",
        "a=ice-ufrag:abcd",
        "a=fingerprint:sha-256 00:11",
        "",
    ]
)


@pytest.mark.parametrize(
    ("sdp", "message"),
    [
        ("hello", "must start with the line 'v=0'"),
        ("", "must start with the line 'v=0'"),
        ("v=0\r\nthis is not sdp\r\n", "malformed SDP line 2"),
        (GOOD.replace("m=audio", "m=video"), "no audio section"),
        (GOOD.replace("opus/48000/2", "PCMU/8000"), "does not include Opus"),
        (GOOD.replace("a=ice-ufrag:abcd\r\n", ""), "no ICE credentials"),
        (GOOD.replace("a=fingerprint:sha-256 00:11\r\n", ""), "no DTLS fingerprint"),
    ],
)
def test_sdp_validation_names_the_problem(sdp: str, message: str) -> None:
    with pytest.raises(OfferError, match=message):
        validate_offer_sdp(sdp)
    validate_offer_sdp(GOOD)


def test_token_is_required_unless_explicitly_disabled() -> None:
    with pytest.raises(ValidationError, match="needs a token"):
        WebRTCOptions()
    assert WebRTCOptions(allow_unauthenticated=True).token is None


async def test_bad_or_missing_token_is_401(loopback_ice: None) -> None:
    async with serve() as (_, client):
        caller = Caller()
        offer = await caller.offer()
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "test-token"}):
            response = await client.post("/offer", json=offer, headers=headers)
            assert response.status_code == 401
            assert "token" in response.json()["error"]
        assert (await client.delete("/sessions/x")).status_code == 401
        await caller.close()


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{not json", 400, "not JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (b'{"type": "answer", "sdp": "v=0"}', 400, "'type' must be 'offer'"),
        (b'{"type": "offer"}', 400, "'sdp' must be a non-empty string"),
        (b'{"type": "offer", "sdp": "garbage"}', 400, "v=0"),
        (b'{"type": "offer", "sdp": "' + b"x" * 200_000 + b'"}', 413, "larger than"),
    ],
)
async def test_bad_requests_get_clear_errors(
    loopback_ice: None, body: bytes, status: int, message: str
) -> None:
    async with serve() as (server, client):
        response = await client.post("/offer", content=body, headers=AUTH)
        assert response.status_code == status
        assert message in response.json()["error"]
        assert server.sessions == {}


async def test_sdp_that_aiortc_cannot_use_is_400_and_leaves_nothing(loopback_ice: None) -> None:
    async with serve() as (server, client):
        caller = Caller()
        offer = await caller.offer()
        broken = offer["sdp"].replace("a=setup:actpass", "a=setup:bogus")
        response = await client.post("/offer", json={"type": "offer", "sdp": broken}, headers=AUTH)
        assert response.status_code == 400
        assert "rejected" in response.json()["error"]
        assert server.sessions == {}
        await caller.close()


async def test_session_limit_answers_503_until_a_slot_frees(loopback_ice: None) -> None:
    async with serve(max_sessions=1) as (server, client):
        first, second, third = Caller(), Caller(), Caller()
        response = await client.post("/offer", json=await first.offer(), headers=AUTH)
        assert response.status_code == 200
        session_id = response.json()["session_id"]
        await first.accept(response.json())

        busy = await client.post("/offer", json=await second.offer(), headers=AUTH)
        assert busy.status_code == 503
        assert "session slots are in use" in busy.json()["error"]
        assert busy.headers["retry-after"] == "5"
        assert (await client.get("/health")).json() == {"sessions": 1, "max_sessions": 1}

        assert (await client.delete(f"/sessions/{session_id}", headers=AUTH)).status_code == 200
        await wait_for(lambda: not server.sessions, what="the hung-up session to be torn down")
        assert (await client.delete(f"/sessions/{session_id}", headers=AUTH)).status_code == 404
        again = await client.post("/offer", json=await third.offer(), headers=AUTH)
        assert again.status_code == 200
        for caller in (first, second, third):
            await caller.close()


async def test_unauthenticated_mode_accepts_offers_without_a_token(loopback_ice: None) -> None:
    async with serve(token=None, allow_unauthenticated=True) as (_, client):
        caller = Caller()
        response = await client.post("/offer", json=await caller.offer())
        assert response.status_code == 200
        assert response.json()["type"] == "answer"
        assert "opus/48000" in response.json()["sdp"]
        await caller.close()


async def test_failing_pipeline_factory_is_500_and_the_server_survives(loopback_ice: None) -> None:
    def broken() -> Pipeline:
        raise RuntimeError("model file missing")

    async with serve(broken) as (server, client):
        caller = Caller()
        response = await client.post("/offer", json=await caller.offer(), headers=AUTH)
        assert response.status_code == 500
        assert "model file missing" in response.json()["error"]
        assert server.sessions == {}
        assert (await client.get("/health")).status_code == 200
        await caller.close()


async def test_cors_allows_only_configured_origins(loopback_ice: None) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    async with serve(cors_origins=("https://app.example",)) as (_, client):
        ok = await client.options("/offer", headers={"Origin": "https://app.example", **preflight})
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == "https://app.example"
        denied = await client.options("/offer", headers={"Origin": "https://evil.example", **preflight})
        assert "access-control-allow-origin" not in denied.headers


async def test_demo_page_is_served(loopback_ice: None) -> None:
    async with serve(page_dir=PAGE_DIR) as (_, client):
        page = await client.get("/")
        assert page.status_code == 200
        assert "cascade" in page.text and "demo.js" in page.text
        assert (await client.get("/static/demo.js")).status_code == 200


def test_missing_page_folder_is_reported(tmp_path: Path) -> None:
    from cascade.transports.webrtc_signaling import WebRTCServer
    from tests.webrtc.agents import scripted

    with pytest.raises(FileNotFoundError, match=r"no index\.html"):
        WebRTCServer(scripted, WebRTCOptions(token="x"), page_dir=tmp_path)


class _Agent:
    """An agent-shaped object: prepare() once, pipeline() per call."""

    prepared = 0

    async def prepare(self) -> None:
        _Agent.prepared += 1

    def pipeline(self) -> Pipeline:
        from tests.webrtc.agents import scripted

        return scripted()


agent_instance = _Agent()


def test_agent_specs_resolve_to_factory_and_startup() -> None:
    from cascade.agent.config_sources import ConfigError
    from cascade.apps.demo import resolve_agent as load_agent

    factory, startup = load_agent("tests.webrtc.agents:scripted")
    assert startup is None and isinstance(factory(), Pipeline)
    factory, startup = load_agent("tests.webrtc.test_signaling:agent_instance")
    assert startup is not None and isinstance(factory(), Pipeline)
    factory, startup = load_agent("tests.webrtc.test_signaling:_Agent")
    assert startup is not None
    for bad in ("nocolon", "no.such.module:x", "tests.webrtc.agents:missing"):
        with pytest.raises(ConfigError, match=r"demo\.agent"):
            load_agent(bad)


async def test_startup_hook_runs_before_offers(loopback_ice: None) -> None:
    from cascade.transports.webrtc_signaling import WebRTCServer

    before = _Agent.prepared
    server = WebRTCServer(
        agent_instance.pipeline, WebRTCOptions(token="x"), on_startup=agent_instance.prepare
    )
    async with server.running():
        assert _Agent.prepared == before + 1
