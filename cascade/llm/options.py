"""Options of the LLM stage (:class:`~cascade.llm.chat.ChatLLM`) and of its client."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from cascade.llm.context import ContextOptions
from cascade.llm.server import ServerOptions


class ChatLLMOptions(BaseModel):
    """Options of :class:`~cascade.llm.chat.ChatLLM`; every field has a working default."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str | None = None
    """OpenAI-compatible base URL (``http://host:8000/v1``). ``None``: use the embedded vLLM,
    starting it (and preparing its model) if it does not run yet; see ``server``."""
    api_key: str = "EMPTY"
    model: str | None = None
    """Model name in requests; default: the first model the server lists."""
    temperature: float = Field(default=0.3, ge=0.0, le=2.0)
    max_tokens: int = Field(default=200, ge=1)
    """Reply length limit per request (keep replies short for voice)."""
    response_format: dict[str, Any] | None = None
    """Structured output, e.g. ``{"type": "json_schema", "json_schema": {...}}``."""
    extra_body: dict[str, Any] = Field(default_factory=dict)
    """Extra request fields for the server (vLLM sampling options and the like)."""
    context: ContextOptions = ContextOptions()
    """System prompt, knowledge, token budget and compaction."""
    max_tool_rounds: int = Field(default=3, ge=0)
    """Tool-call rounds per reply; after that the model must answer in words."""
    filler_after: float | None = Field(default=1.5, ge=0.0)
    """Seconds of tool work with nothing said before a filler is spoken (``None``: never)."""
    filler_text: str = "One moment, please."
    apology: str = "Sorry, I ran into a problem on my side. Could you say that again?"
    """Spoken when a reply fails after retrying, or after words were already spoken."""
    connect_timeout: float = Field(default=5.0, gt=0)
    request_timeout: float = Field(default=120.0, gt=0)
    """Seconds without data before a request counts as failed."""
    server: ServerOptions = ServerOptions()
    """How to run the embedded vLLM when ``base_url`` is ``None``."""
