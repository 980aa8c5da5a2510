"""One typed configuration for a voice agent and every app: file, environment and CLI flags.

Precedence (highest first): explicit arguments / CLI flags, environment variables
(``CASCADE_LLM__BASE_URL=http://gpu:8000/v1``; nested fields joined by ``__``), the config file
(TOML or JSON; ``--config`` or ``CASCADE_CONFIG``), the defaults. The same file configures
``cascade talk``, ``cascade phone`` (its ``[phone]`` table) and ``cascade demo`` (``[demo]``);
``cascade config show`` prints the effective values and where each came from.

The defaults are the embedded CPU stack; a production config points
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

from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    JsonConfigSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from cascade.agent.app_settings import DemoSettings, PhoneSettings
from cascade.agent.config_sources import (
    ENV_PREFIX,
    ConfigError,
    Origins,
    describe_validation_error,
    nest,
    read_config_file,
)
from cascade.asr.options import StreamingOptions, WhisperOptions
from cascade.llm.server import ServerOptions
from cascade.observability import MetricsSettings
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
    server: ServerOptions = Field(default_factory=ServerOptions)
    """How the embedded vLLM server is launched when ``base_url`` is ``None`` (model, device,
    window, port, extra ``vllm serve`` arguments); a GPU machine picks ``server.gpu_model``."""


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

    @model_validator(mode="after")
    def _speech_server_named(self) -> TTSSettings:
        if self.engine == "openai" and not self.base_url:
            raise ValueError("engine 'openai' needs base_url (the speech server's /v1 URL)")
        return self


class AgentConfig(BaseSettings):
    """Everything that defines a voice agent. See the module docstring for precedence."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid")

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

    phone: PhoneSettings = Field(default_factory=PhoneSettings)
    demo: DemoSettings = Field(default_factory=DemoSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    """Prometheus ``/metrics`` (``port``), OpenTelemetry traces and turn logs of ``phone``/``demo``."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments (flags) beat ``CASCADE_*`` variables, which beat the config file being loaded."""
        path = _LOADING.get()
        if path is None:
            return init_settings, env_settings
        if path.suffix.lower() == ".json":
            return init_settings, env_settings, JsonConfigSettingsSource(settings_cls, json_file=path)
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=path)

    @classmethod
    def load(cls, path: str | Path | None = None, **overrides: Any) -> AgentConfig:
        """Read ``path`` (TOML or JSON) under the environment, then apply ``overrides``.

        ``overrides`` use dotted keys for nested fields: ``{"llm.base_url": "http://..."}``
        (``None`` values are skipped: a flag that was not given). A bad value anywhere raises
        :class:`ConfigError` naming the setting and where it came from (flag, variable or file).
        """
        config, _ = cls.load_with_origins(path, **overrides)
        return config

    @classmethod
    def load_with_origins(
        cls, path: str | Path | None = None, **overrides: Any
    ) -> tuple[AgentConfig, Origins]:
        """:meth:`load`, and where each setting came from (for ``cascade config show``)."""
        file = Path(path) if path is not None else None
        origins = Origins(
            flags=nest(overrides),
            env=EnvSettingsSource(cls, env_prefix=ENV_PREFIX, env_nested_delimiter="__")(),
            file=read_config_file(file) if file is not None else {},
            file_name=str(file) if file is not None else None,
        )
        token = _LOADING.set(file)
        try:
            return cls(**origins.flags), origins
        except ValidationError as exc:
            raise ConfigError(describe_validation_error(exc, origins)) from None
        finally:
            _LOADING.reset(token)


_LOADING: ContextVar[Path | None] = ContextVar("cascade_config_file", default=None)
"""The config file :meth:`AgentConfig.load` is reading (the file source of the settings)."""
