"""A TTS stage for any OpenAI-compatible ``/v1/audio/speech`` server that streams raw PCM.

Works with OpenAI itself, with ``cascade tts serve`` (hibari, Piper, Chatterbox), and with the
common self-hosted servers (Kokoro-FastAPI, Chatterbox servers, ...) that accept
``response_format="pcm"``: 16-bit mono PCM at ``pcm_sample_rate`` (24 kHz in OpenAI's API). Audio
is forwarded while it streams in; word spans are estimated from the text
(:mod:`cascade.tts.spans`) because the API reports no alignment.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator
from typing import Any

import httpx
import numpy as np
from pydantic import Field

from cascade.tts.base import TTSOptions, TTSStage
from cascade.tts.engine import TTSError


class OpenAISpeechOptions(TTSOptions):
    """Options of :class:`OpenAISpeechTTS`."""

    base_url: str = "http://127.0.0.1:8880/v1"
    """The API root (``https://api.openai.com/v1`` for OpenAI; ``cascade tts serve`` default)."""
    api_key: str | None = None
    """Bearer token (default: ``$OPENAI_API_KEY`` if set; local servers need none)."""
    model: str = "tts-1"
    """Model name sent to the server."""
    voice: str | None = "alloy"
    """Voice name sent to the server (``heart`` for ``cascade tts serve`` with hibari)."""
    instructions: str | None = None
    """Speaking-style instructions, for servers that accept them (OpenAI's gpt-4o-mini-tts)."""
    pcm_sample_rate: int = 24000
    """Rate of the PCM the server streams."""
    timeout: float = Field(default=30.0, gt=0)
    """Seconds to wait for the server to connect and for each piece of audio."""


class OpenAISpeechTTS(TTSStage):
    """Speech from an OpenAI-compatible server, streamed as PCM (see the module docstring).

    A server that is down or answers an error turns into an :class:`~cascade.frames.ErrorFrame`
    naming the URL, the status and the server's message; the session goes on.
    """

    def __init__(self, options: OpenAISpeechOptions | None = None, *, name: str | None = None) -> None:
        self.speech_options = options or OpenAISpeechOptions()
        super().__init__(self.speech_options, name=name)
        self._client: httpx.AsyncClient | None = None

    @property
    def source_rate(self) -> int:
        """The server's PCM rate."""
        return self.speech_options.pcm_sample_rate

    @property
    def url(self) -> str:
        """The speech endpoint."""
        return self.speech_options.base_url.rstrip("/") + "/audio/speech"

    async def start(self) -> None:
        """Open the HTTP connection pool."""
        opts = self.speech_options
        key = opts.api_key or os.environ.get("OPENAI_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(opts.timeout))

    async def close(self) -> None:
        """Close the connection pool."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def request_body(self, text: str) -> dict[str, Any]:
        """The JSON body sent for ``text``."""
        opts = self.speech_options
        body: dict[str, Any] = {
            "model": opts.model,
            "input": text,
            "voice": opts.voice,
            "response_format": "pcm",
            "speed": opts.speed,
        }
        if opts.instructions:
            body["instructions"] = opts.instructions
        return body

    async def synthesize(self, text: str) -> AsyncGenerator[np.ndarray, None]:
        """Stream the server's PCM as int16 arrays while it arrives."""
        if self._client is None:
            raise TTSError(f"{self.name} is not started")
        carry = b""
        try:
            async with self._client.stream("POST", self.url, json=self.request_body(text)) as response:
                if response.status_code != 200:
                    raise TTSError(
                        f"speech server {self.url} answered {response.status_code}: "
                        f"{_error_message(await response.aread())}"
                    )
                async for data in response.aiter_bytes():
                    data = carry + data
                    even = len(data) - len(data) % 2
                    carry = data[even:]
                    if even:
                        yield np.frombuffer(data[:even], dtype="<i2")
        except httpx.HTTPError as exc:
            raise TTSError(
                f"cannot get speech from {self.url} ({type(exc).__name__}: {exc}); is the server "
                "running? Start one with `cascade tts serve` or fix base_url"
            ) from exc


def _error_message(body: bytes) -> str:
    """The ``error.message`` of an OpenAI-style error body, else the body itself (shortened)."""
    import json

    try:
        parsed = json.loads(body)
        message = parsed["error"]["message"] if isinstance(parsed.get("error"), dict) else parsed["error"]
        return str(message)
    except (ValueError, KeyError, TypeError, AttributeError):
        return body.decode("utf-8", "replace")[:300]
