"""One typed configuration for a voice agent: file, environment and CLI flags.

Precedence (highest first): explicit arguments / CLI flags, environment variables
(``CASCADE_LLM__BASE_URL=http://gpu:8000/v1``; nested fields joined by ``__``), the config file
(TOML or JSON), the defaults. The defaults are the embedded CPU stack; a production config points
``llm.base_url`` at a vLLM deployment and ``tts.engine`` at a speech server, with no code change::

    # agent.toml
    [llm]
    base_url = "http://vllm.internal:8000/v1"
    model = "Qwen/Qwen2.5-7B-Instruct"
    system_prompt = "You are the front desk of the Harbour Hotel."
    knowledge = ["docs/hotel_faq.md"]
    tools = ["myapp.tools:book_room"]

    [tts]
    engine = "openai"
    base_url = "http://tts.internal:8880/v1"
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from cascade.asr.options import StreamingOptions, WhisperOptions
from cascade.llm.models import DEFAULT_PORT
from cascade.turn.options import TurnOptions
from cascade.vad import VADOptions

DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful voice assistant on a phone call. Answer in one or two short spoken "
    "sentences, in plain words: no lists, no markdown, no emoji. If you do not know, say so."
)


class LLMSettings(BaseModel):
    """The language model and what it knows."""

    model_config = ConfigDict(extra="forbid")

    base_url: str | None = None
    """OpenAI-compatible endpoint (``http://host:8000/v1``). ``None``: start the embedded vLLM."""
    model: str | None = None
    """Model name on that endpoint (``None``: the first one it serves)."""
    api_key: str = "EMPTY"
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    knowledge: list[Path] = Field(default_factory=list)
    """Text files pre-loaded into the context after the system prompt (stable prefix)."""
    knowledge_text: str = ""
    """Knowledge given inline (added after the files)."""
    tools: list[str] = Field(default_factory=list)
    """Tools as ``"module:function"`` import paths of ``@tool`` functions."""
    temperature: float = Field(default=0.3, ge=0.0, le=2.0)
    max_tokens: int = Field(default=200, ge=1)
    """Longest reply in tokens (spoken replies are short)."""
    server_port: int = Field(default=DEFAULT_PORT, ge=1, le=65535)
    """Port of the embedded vLLM server."""


class TTSSettings(BaseModel):
    """The voice."""

    model_config = ConfigDict(extra="forbid")

    engine: Literal["hibari", "piper", "openai"] = "hibari"
    """``hibari`` (embedded default), ``piper`` (GPL extra), ``openai`` (any speech server)."""
    voice: str | None = None
    speed: float = Field(default=1.0, ge=0.25, le=4.0)
    first_chunk_words: int = Field(default=2, ge=0)
    """Speak the first words of a reply after this many when no punctuation came yet (0: wait for
    punctuation). Fewer words: earlier first audio, slightly flatter first phrase."""
    base_url: str | None = None
    """Speech server for ``engine = "openai"`` (e.g. ``cascade tts serve`` or Chatterbox)."""
    model: str = "tts-1"
    api_key: str = "EMPTY"


class AgentConfig(BaseSettings):
    """Everything that defines a voice agent. See the module docstring for precedence."""

    model_config = SettingsConfigDict(env_prefix="CASCADE_", env_nested_delimiter="__", extra="forbid")

    sample_rate: int = 16000
    """The pipeline's audio rate (transports convert to and from it)."""
    greeting: str | None = None
    """Said when a session starts (``None``: wait for the caller)."""
    call_control_tools: bool = True
    """On phone calls, offer the LLM the hang-up (and transfer) tools. Small models call tools
    eagerly: the embedded 0.5B model may hang up unasked; larger models follow the prompt."""
    asr: WhisperOptions = Field(default_factory=WhisperOptions)
    streaming: StreamingOptions = Field(default_factory=StreamingOptions)
    vad: VADOptions = Field(default_factory=VADOptions)
    turn: TurnOptions = Field(default_factory=TurnOptions)
    text_turn: Literal["chat", "smollm2", "none"] = "chat"
    """What reads the caller's words for the end of their turn: ``chat``, the served chat model's
    end-of-message probability (:mod:`cascade.turn.chat_turn`, needs a vLLM server); ``smollm2``,
    the small in-process model; ``none``, the audio model and transcript cues alone."""
    llm: LLMSettings = Field(default_factory=LLMSettings)
    tts: TTSSettings = Field(default_factory=TTSSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments beat environment variables; no dotenv or secrets files."""
        return init_settings, env_settings

    @classmethod
    def load(cls, path: str | Path | None = None, **overrides: Any) -> AgentConfig:
        """Read ``path`` (TOML or JSON) under the environment, then apply ``overrides``.

        ``overrides`` use dotted keys for nested fields: ``{"llm.base_url": "http://..."}``.
        """
        data: dict[str, Any] = {}
        if path is not None:
            data = read_config_file(Path(path))
        env = cls().model_dump(exclude_unset=True)  # only what the environment set
        merged = _deep_merge(data, env)
        for key, value in overrides.items():
            if value is not None:
                _set_dotted(merged, key, value)
        return cls(**merged)


class ConfigError(ValueError):
    """A config file that cannot be read."""


def read_config_file(path: Path) -> dict[str, Any]:
    """Parse a TOML or JSON config file with a clear error."""
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(path.read_text())
        else:
            data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"cannot parse {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a table/object of settings")
    return data


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    *parents, leaf = key.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[leaf] = value
