"""``cascade tts serve``: an OpenAI-compatible speech server around one local engine.

``POST /v1/audio/speech`` takes ``{"model", "input", "voice", "response_format", "speed"}`` and
streams the audio while it is synthesized, sentence by sentence (the same chunker as the stages):
``pcm`` is raw 16-bit mono PCM at 24 kHz (OpenAI's convention), ``wav`` the same behind a
streaming WAV header. The first chunk is synthesized before the response starts, so a bad voice,
an empty text or a crashing engine answer with a proper error status and an OpenAI-style
``{"error": {"message", "type", "param"}}`` body. ``GET /v1/models``, ``GET /v1/audio/voices``
and ``GET /health`` describe the server.

It lets the client stage be tested against a real server, and lets engines whose dependencies
clash with the rest (Chatterbox pins torch 2.6 and numpy<2) run in their own environment.
"""

from __future__ import annotations

import json
import logging
import struct
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from cascade.audio import resample, to_int16
from cascade.tts.chunker import SentenceChunker
from cascade.tts.engine import TTSEngine, TTSError, UnknownVoiceError
from cascade.tts.normalize import normalize_for_speech

log = logging.getLogger("cascade.tts.server")

PCM_RATE = 24000
"""Rate of the audio the server sends (OpenAI's ``pcm`` format is 24 kHz)."""
FORMATS = ("pcm", "wav")
MODEL_ALIASES = ("tts-1", "tts-1-hd", "gpt-4o-mini-tts")
"""OpenAI model names accepted as aliases of the served engine."""


class SpeechRequest(BaseModel):
    """The body of ``POST /v1/audio/speech`` (OpenAI's fields; unknown ones are ignored)."""

    model_config = ConfigDict(extra="ignore")

    model: str = ""
    input: str
    voice: str | None = None
    response_format: str = "wav"
    speed: float = Field(default=1.0, ge=0.25, le=4.0)


class APIError(Exception):
    """An error answered to the client as OpenAI-style JSON."""

    def __init__(self, status: int, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param = status, message, param

    def response(self) -> JSONResponse:
        """The JSON error response."""
        kind = "invalid_request_error" if self.status < 500 else "server_error"
        body = {"error": {"message": self.message, "type": kind, "param": self.param}}
        return JSONResponse(body, status_code=self.status)


def wav_header(sample_rate: int) -> bytes:
    """A 16-bit mono WAV header for a stream of unknown length (sizes set to the maximum)."""
    unknown = 0xFFFFFFFF
    return (
        b"RIFF"
        + struct.pack("<I", unknown)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", unknown)
    )


class SpeechService:
    """The server's logic around one engine (separate from HTTP for clarity)."""

    def __init__(self, engine: TTSEngine, *, normalize: bool = True) -> None:
        self.engine = engine
        self.normalize = normalize
        self.models = [engine.name, *MODEL_ALIASES]

    def check(self, req: SpeechRequest) -> str:
        """Validate a request; returns the voice to use or raises :class:`APIError`."""
        if req.model and req.model not in self.models:
            raise APIError(
                400, f"unknown model {req.model!r}; this server serves {', '.join(self.models)}", "model"
            )
        if req.response_format not in FORMATS:
            raise APIError(
                400,
                f"response_format {req.response_format!r} is not supported; use one of {', '.join(FORMATS)}",
                "response_format",
            )
        if not req.input.strip():
            raise APIError(400, "input is empty: give the text to speak", "input")
        try:
            return self.engine.check_voice(req.voice)
        except UnknownVoiceError as exc:
            raise APIError(400, str(exc), "voice") from exc

    def chunks(self, text: str) -> list[str]:
        """The text cut into sentences (first one early), normalized for speech."""
        chunker = SentenceChunker()
        pieces = [c.strip() for c in chunker.push(text) + chunker.flush()]
        return [normalize_for_speech(p) if self.normalize else p for p in pieces if p]

    async def pcm(self, text: str, voice: str, speed: float) -> bytes:
        """One chunk as 24 kHz s16le PCM, synthesized in a worker thread."""
        audio = await anyio.to_thread.run_sync(
            self.engine.synthesize, text, voice, speed, abandon_on_cancel=True
        )
        return to_int16(resample(audio, self.engine.sample_rate, PCM_RATE)).astype("<i2").tobytes()

    async def speech(self, req: SpeechRequest) -> Response:
        """Answer a speech request: the first chunk now, the rest streamed."""
        voice = self.check(req)
        chunks = self.chunks(req.input)
        if not chunks:
            raise APIError(400, f"input has no speakable text: {req.input[:80]!r}", "input")
        try:
            first = await self.pcm(chunks[0], voice, req.speed)
        except TTSError as exc:
            raise APIError(400, str(exc), "input") from exc
        except Exception as exc:
            log.exception("engine %s failed", self.engine.name)
            raise APIError(500, f"{self.engine.name} failed: {type(exc).__name__}: {exc}") from exc

        async def body() -> AsyncGenerator[bytes, None]:
            if req.response_format == "wav":
                yield wav_header(PCM_RATE)
            yield first
            for chunk in chunks[1:]:
                yield await self.pcm(chunk, voice, req.speed)

        media = "audio/wav" if req.response_format == "wav" else "audio/pcm"
        headers = {"X-Sample-Rate": str(PCM_RATE), "X-Engine": self.engine.name}
        return StreamingResponse(_log_errors(body(), self.engine.name), media_type=media, headers=headers)


async def _log_errors(stream: AsyncIterator[bytes], engine: str) -> AsyncIterator[bytes]:
    """A failure after the response started can only end the stream early: log it."""
    try:
        async for data in stream:
            yield data
    except Exception:
        log.exception("engine %s failed while streaming; the response was cut short", engine)
        raise


def create_app(engine: TTSEngine, *, normalize: bool = True, warm_up: bool = True) -> Starlette:
    """The Starlette app serving ``engine`` (loaded and warmed up at startup)."""
    service = SpeechService(engine, normalize=normalize)

    async def speech(request: Request) -> Response:
        try:
            try:
                payload: Any = await request.json()
                req = SpeechRequest.model_validate(payload)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise APIError(400, f"the body is not JSON: {exc}") from exc
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise APIError(400, f"invalid request: {where}: {first['msg']}", where or None) from exc
            return await service.speech(req)
        except APIError as exc:
            return exc.response()

    async def models(request: Request) -> Response:
        data = [{"id": m, "object": "model", "owned_by": "cascade"} for m in service.models]
        return JSONResponse({"object": "list", "data": data})

    async def voices(request: Request) -> Response:
        return JSONResponse({"voices": engine.voices(), "default": engine.default_voice})

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "engine": engine.name, "sample_rate": PCM_RATE})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(engine.warm_up if warm_up else engine.load)
        log.info("speech server ready: engine %s, voices %s", engine.name, ", ".join(engine.voices()))
        yield

    routes = [
        Route("/v1/audio/speech", speech, methods=["POST"]),
        Route("/v1/models", models),
        Route("/v1/audio/voices", voices),
        Route("/health", health),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def pcm_samples(data: bytes) -> np.ndarray:
    """Raw s16le PCM bytes as an int16 array (helper for clients and tests)."""
    return np.frombuffer(data[: len(data) - len(data) % 2], dtype="<i2")
