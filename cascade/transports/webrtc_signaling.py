"""WebRTC signaling: an ASGI app that answers SDP offers and runs one pipeline per call.

``POST /offer`` with ``{"type": "offer", "sdp": "..."}`` and ``Authorization: Bearer <token>``
answers ``{"type": "answer", "sdp": "...", "session_id": "..."}`` and starts a session with a fresh
pipeline from the factory. ``DELETE /sessions/<id>`` (or ``{"type": "hangup"}`` on the data channel)
hangs up. ``GET /health`` counts the calls. Errors are JSON ``{"error": "..."}``: 401 (token), 400
(bad request or SDP), 413 (too big), 503 (session limit reached). Every session is torn down
completely (pipeline, peer connection, its sockets and tasks) on hang-up, ICE failure, connect
timeout or time limit (:mod:`cascade.transports.webrtc_sessions`).

The server takes a factory that builds each call's stages:

>>> from cascade import Pipeline
>>> from cascade.asr import WhisperASR
>>> from cascade.llm import ChatLLM
>>> from cascade.transports.webrtc_signaling import WebRTCOptions, WebRTCServer
>>> from cascade.tts import HibariTTS
>>> from cascade.turn import TurnTaker
>>> from cascade.vad import SileroVAD
>>> def new_call() -> Pipeline:
...     return Pipeline([SileroVAD(), WhisperASR(), TurnTaker(), ChatLLM(), HibariTTS()])
>>> server = WebRTCServer(new_call, WebRTCOptions(token="s3cret", max_sessions=8))

Serve ``server.app`` with any ASGI server (``uvicorn.run(server.app, host="0.0.0.0", port=8080)``;
``cascade demo`` does it with the demo page). Without one, ``server.running()`` stands in for the
app's lifespan:

>>> import anyio
>>> import httpx
>>> async def request(method, path, headers=None, body=None):
...     async with server.running():
...         transport = httpx.ASGITransport(app=server.app)
...         async with httpx.AsyncClient(transport=transport, base_url="http://cascade") as client:
...             response = await client.request(method, path, headers=headers, json=body)
...     return response.status_code, response.json()
>>> anyio.run(request, "GET", "/health")
(200, {'sessions': 0, 'max_sessions': 8})
>>> anyio.run(request, "POST", "/offer")
(401, {'error': "missing or wrong token: send 'Authorization: Bearer <token>'"})
>>> auth = {"Authorization": "Bearer s3cret"}
>>> anyio.run(request, "POST", "/offer", auth, {"type": "offer", "sdp": "v=0"})
(400, {'error': 'the offer has no audio section (m=audio): add a microphone track before offering'})
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from pydantic import BaseModel, Field, model_validator
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from cascade.pipeline import Pipeline
from cascade.readiness import Readiness
from cascade.session import report_error
from cascade.transports.http_health import health_routes
from cascade.transports.webrtc import WebRTCTransport
from cascade.transports.webrtc_sessions import SessionRegistry, WebRTCSession, close_peer_connection

log = logging.getLogger("cascade.webrtc")

PipelineFactory = Callable[[], Pipeline]
"""Returns a fresh pipeline for each call (stages hold per-session state)."""
Startup = Callable[[], Awaitable[None]]
"""Awaited once before the first call is accepted (load models, start the LLM server)."""


class WebRTCOptions(BaseModel):
    """Options of the WebRTC server (all have working defaults except the token)."""

    token: str | None = None
    """Secret the offer endpoint requires (``Authorization: Bearer <token>``)."""
    allow_unauthenticated: bool = False
    """Accept offers without a token. Only for local use; must be set explicitly."""
    max_sessions: int = Field(default=4, ge=1)
    """Concurrent calls this process accepts; more get 503."""
    sample_rate: int = 16000
    """The pipeline's audio rate (caller audio is resampled to it, bot audio from it)."""
    connect_timeout: float = Field(default=15.0, gt=0)
    """Seconds for ICE/DTLS to connect after the answer, else the session is torn down."""
    max_session_seconds: float = Field(default=1800.0, gt=0)
    """Longest call, in seconds."""
    hangup_grace: float = Field(default=3.0, ge=0)
    """Seconds the pipeline may take to drain after a hang-up before it is cancelled."""
    cors_origins: tuple[str, ...] = ()
    """Origins allowed to call the API from another site (empty: same origin only)."""
    ice_servers: tuple[str, ...] = ()
    """STUN/TURN URLs for the server's ICE agent. Empty: host candidates only, no third party."""
    max_offer_bytes: int = 100_000
    """Largest accepted offer body."""

    @model_validator(mode="after")
    def _need_token(self) -> WebRTCOptions:
        if not self.token and not self.allow_unauthenticated:
            raise ValueError(
                "the WebRTC offer endpoint needs a token: set token=..., or set "
                "allow_unauthenticated=True (CLI: --no-token) for local use only"
            )
        return self


class OfferError(ValueError):
    """An offer that cannot be answered; the message says what was wrong (HTTP 400)."""


class PipelineBuildError(RuntimeError):
    """The pipeline factory failed (HTTP 500); the server keeps running."""


_SDP_LINE = re.compile(r"^[a-z]=.*$")


def validate_offer_sdp(sdp: str) -> None:
    """Check that ``sdp`` looks like a WebRTC audio offer; raise :class:`OfferError` if not."""
    lines = [line for line in sdp.replace("\r\n", "\n").split("\n") if line]
    if not lines or lines[0] != "v=0":
        raise OfferError("not an SDP session description: it must start with the line 'v=0'")
    for number, line in enumerate(lines, 1):
        if not _SDP_LINE.match(line):
            raise OfferError(f"malformed SDP line {number}: {line[:60]!r} (expected '<letter>=<value>')")
    if not any(line.startswith("m=audio ") for line in lines):
        raise OfferError("the offer has no audio section (m=audio): add a microphone track before offering")
    if not any(re.match(r"a=rtpmap:\d+ opus/48000", line, re.IGNORECASE) for line in lines):
        raise OfferError("the offer's audio does not include Opus (a=rtpmap:... opus/48000)")
    if not any(line.startswith("a=ice-ufrag:") for line in lines):
        raise OfferError("the offer has no ICE credentials (a=ice-ufrag): is it a WebRTC offer?")
    if not any(line.startswith("a=fingerprint:") for line in lines):
        raise OfferError("the offer has no DTLS fingerprint (a=fingerprint): is it a WebRTC offer?")


def _error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers or None)


class WebRTCServer:
    """The signaling app and the sessions it runs.

    Args:
        pipeline_factory: returns a fresh :class:`~cascade.pipeline.Pipeline` for each call.
        options: security, limits and timeouts (:class:`WebRTCOptions`).
        page_dir: a folder with ``index.html`` (and assets) served at ``/`` and ``/static``.
        on_startup: awaited once when the server starts, before any offer is answered (e.g. an
            agent's ``prepare``: load models shared by all calls). Under an ASGI server it runs in
            the background: the port answers at once, ``GET /healthz`` says 503 and offers get
            503 with ``Retry-After`` until it is done (:attr:`readiness`).

    ``app`` is the ASGI application (its lifespan owns the sessions). Without an ASGI server, use
    ``async with server.running():`` around requests made to ``app``. ``GET /healthz`` is the
    readiness probe, ``GET /livez`` the liveness probe, ``GET /health`` counts the calls.
    """

    def __init__(
        self,
        pipeline_factory: PipelineFactory,
        options: WebRTCOptions | None = None,
        *,
        page_dir: str | Path | None = None,
        on_startup: Startup | None = None,
    ) -> None:
        self.pipeline_factory = pipeline_factory
        self.on_startup = on_startup
        self.options = options or WebRTCOptions()
        self.page_dir = Path(page_dir) if page_dir else None
        if self.page_dir is not None and not (self.page_dir / "index.html").is_file():
            raise FileNotFoundError(f"no index.html in the demo page folder {self.page_dir}")
        self.registry = SessionRegistry(self.options)
        self.readiness = Readiness()
        self.app = self._build_app()

    @property
    def sessions(self) -> dict[str, WebRTCSession]:
        """Calls in progress, by id."""
        return self.registry.sessions

    @asynccontextmanager
    async def running(self, *, wait_ready: bool = True) -> AsyncIterator[WebRTCServer]:
        """Own the sessions: on exit every call is hung up and torn down.

        ``on_startup`` runs in the background; ``wait_ready`` waits for it first (and raises
        what it raised), the ASGI lifespan does not (the port must answer health probes).
        """
        async with self.registry.running(), anyio.create_task_group() as tg:
            tg.start_soon(self._prepare)
            if wait_ready:
                await self.readiness.wait()
                if self.readiness.error is not None:
                    raise self.readiness.error
            try:
                yield self
            finally:
                tg.cancel_scope.cancel()

    async def _prepare(self) -> None:
        try:
            await self.readiness.prepare(self.on_startup)
        except Exception:
            log.exception("the agent failed to prepare; offers are refused")

    def _build_app(self) -> Starlette:
        routes: list[BaseRoute] = [
            Route("/offer", self._offer, methods=["POST"]),
            Route("/sessions/{session_id}", self._delete, methods=["DELETE"]),
            Route("/health", self._health, methods=["GET"]),
            *health_routes(self.readiness),
        ]
        if self.page_dir is not None:
            index = self.page_dir / "index.html"
            routes.append(Route("/", lambda _: FileResponse(index), methods=["GET"]))
            routes.append(Mount("/static", StaticFiles(directory=self.page_dir), name="static"))
        middleware = [
            Middleware(
                CORSMiddleware,
                allow_origins=list(self.options.cors_origins),
                allow_methods=["GET", "POST", "DELETE"],
                allow_headers=["Authorization", "Content-Type"],
            )
        ]

        @asynccontextmanager
        async def lifespan(_: Starlette) -> AsyncIterator[None]:
            async with self.running(wait_ready=False):
                yield

        return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)

    def _authorized(self, request: Request) -> bool:
        if self.options.allow_unauthenticated and not self.options.token:
            return True
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        expected = self.options.token or ""
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected.encode())

    async def _health(self, _: Request) -> Response:
        return JSONResponse({"sessions": len(self.registry), "max_sessions": self.options.max_sessions})

    async def _delete(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, "missing or wrong token: send 'Authorization: Bearer <token>'")
        session = self.registry.get(request.path_params["session_id"])
        if session is None:
            return _error(404, "no such session (it may have ended already)")
        session.hangup("hung up by the client")
        return JSONResponse({"session_id": session.id, "status": "ending"})

    async def _offer(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, "missing or wrong token: send 'Authorization: Bearer <token>'")
        body = await request.body()
        if len(body) > self.options.max_offer_bytes:
            return _error(413, f"offer larger than {self.options.max_offer_bytes} bytes")
        try:
            sdp = _parse_offer(body)
        except OfferError as exc:
            return _error(400, str(exc))
        if not self.registry.accepting:
            return _error(503, "server is not running (start it with its ASGI lifespan)")
        if not self.readiness.ready:
            return _error(503, self.readiness.reason, **{"Retry-After": "5"})
        if self.registry.full():
            return _error(
                503,
                f"all {self.options.max_sessions} session slots are in use; try again later",
                **{"Retry-After": "5"},
            )
        try:
            with self.registry.reserving():
                session, answer = await self._accept(sdp)
        except OfferError as exc:
            return _error(400, str(exc))
        except PipelineBuildError as exc:
            log.exception("pipeline factory failed")
            report_error("session", exc)
            return _error(500, str(exc))
        self.registry.start(session)
        return JSONResponse({"type": "answer", "sdp": answer, "session_id": session.id})

    async def _accept(self, sdp: str) -> tuple[WebRTCSession, str]:
        options = self.options
        servers = [RTCIceServer(url) for url in options.ice_servers]
        pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))
        tracks: list[Any] = []
        pc.on("track", lambda track: tracks.append(track) if track.kind == "audio" else None)
        try:
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            except Exception as exc:
                raise OfferError(f"the SDP offer was rejected: {exc}") from exc
            if not tracks:
                raise OfferError(
                    "the offer sends no audio: add the microphone track (sendrecv) before offering"
                )
            session_id = secrets.token_urlsafe(9)
            transport = WebRTCTransport(tracks[0], sample_rate=options.sample_rate, session_id=session_id)
            pc.addTrack(transport.output)
            await pc.setLocalDescription(await pc.createAnswer())
            try:
                pipeline = self.pipeline_factory()
            except Exception as exc:
                raise PipelineBuildError(f"could not build the pipeline for this call: {exc}") from exc
            session = WebRTCSession(self.registry, pc, transport, pipeline)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await close_peer_connection(pc)
            raise
        pc.on("connectionstatechange", lambda: session.connection_state_changed(pc.connectionState))
        pc.on("datachannel", lambda channel: self._attach_channel(session, channel))
        return session, pc.localDescription.sdp

    @staticmethod
    def _attach_channel(session: WebRTCSession, channel: Any) -> None:
        session.transport.attach_channel(channel)

        def on_message(message: Any) -> None:
            try:
                data = json.loads(message) if isinstance(message, str) else {}
            except ValueError:
                data = {}
            if isinstance(data, dict) and data.get("type") == "hangup":
                session.hangup("hung up by the client")

        channel.on("message", on_message)


def _parse_offer(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise OfferError(
            f"the request body is not JSON ({exc}); send {{'type': 'offer', 'sdp': ...}}"
        ) from exc
    if not isinstance(data, dict):
        raise OfferError("the request body must be a JSON object {'type': 'offer', 'sdp': ...}")
    if data.get("type") != "offer":
        raise OfferError(f"'type' must be 'offer', got {data.get('type')!r}")
    sdp = data.get("sdp")
    if not isinstance(sdp, str) or not sdp.strip():
        raise OfferError("'sdp' must be a non-empty string holding the browser's offer")
    validate_offer_sdp(sdp)
    return sdp
