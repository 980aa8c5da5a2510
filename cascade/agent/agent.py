"""VoiceAgent: the default pipeline (VAD → ASR → turn-taking → LLM → TTS) from one config.

With the embedded default models (and the embedded vLLM, started if none runs), an agent answers
a recorded question; the file transport writes the spoken reply and a JSON transcript beside it:

>>> import anyio
>>> import json
>>> from cascade.agent import AgentConfig, LLMSettings, VoiceAgent
>>> from cascade.transports.file import FileTransport
>>> llm = LLMSettings(
...     system_prompt="You answer the phone for a bakery, in one short sentence.",
...     knowledge_text="Opening hours: Monday to Saturday 7 am to 6 pm. Closed on Sunday.",
...     temperature=0.0,
... )
>>> agent = VoiceAgent(AgentConfig(llm=llm))
>>> session = anyio.run(agent.run, FileTransport("examples/question.wav", "out/reply.wav"))
>>> [turn.turn for turn in session.metrics.timelines if turn.voice_to_voice]
[0]
>>> with open("out/reply.json") as file:
...     transcript = json.load(file)["transcript"]
>>> [line["text"] for line in transcript if line["role"] == "user"]
['What are your opening hours on Saturday?']
>>> [line["text"] for line in transcript if line["role"] == "assistant"]  # what the caller heard
['...7 am to 6 pm...']
>>> agent.stop_server()  # the embedded LLM server, if this agent started it

Models are loaded once per agent and shared by every session it runs (one process can serve
many WebRTC or phone sessions); each session gets fresh stages and its own conversation.

Tools may take the session's :class:`~cascade.llm.run_context.RunContext` (the caller, per-session
``userdata`` made by the agent's ``userdata`` factory, ``say``, ``hang_up``), and callbacks
registered with :meth:`VoiceAgent.on` see the session's events (:mod:`cascade.agent.hooks`):

>>> from cascade.agent.hooks import BotSpoke, SessionEnded, UserSpoke
>>> from cascade.llm import RunContext, tool
>>> @tool
... async def take_order(item: str, ctx: RunContext) -> str:
...     "Add an item to the caller's order."
...     ctx.userdata["order"].append(item)
...     return f"Added {item}; the order is {', '.join(ctx.userdata['order'])}."
>>> agent = VoiceAgent(AgentConfig(llm=llm), tools=[take_order], userdata=lambda: {"order": []})
>>> lines = []
>>> @agent.on(UserSpoke)
... async def caller_said(event: UserSpoke) -> None:
...     lines.append(("caller", event.text))
>>> @agent.on(BotSpoke)
... async def bot_said(event: BotSpoke) -> None:
...     lines.append(("bot", event.text))
>>> session = anyio.run(agent.run, FileTransport("examples/question.wav"))
>>> [who for who, _ in lines]
['caller', 'bot']
>>> lines[0][1]
'What are your opening hours on Saturday?'
>>> agent.stop_server()
"""

from __future__ import annotations

import gc
import importlib
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar, overload

import anyio

from cascade.agent.config import AgentConfig
from cascade.agent.hooks import AgentEvent, AgentHooks, Hook
from cascade.agent.keypad import KeypadInput
from cascade.agent.observer import HookStage
from cascade.clock import Clock
from cascade.errors import CascadeError
from cascade.frames import TextToSpeak
from cascade.llm.chat import ChatLLM, ChatLLMOptions
from cascade.llm.context import ContextOptions
from cascade.llm.server import ServerOptions
from cascade.llm.tools import Tool, ToolFunction
from cascade.metrics import MetricsCollector
from cascade.pipeline import Pipeline
from cascade.session import SessionContext
from cascade.stage import Stage
from cascade.transport import Transport

log = logging.getLogger("cascade.agent")

E = TypeVar("E", bound=AgentEvent)


class AgentError(CascadeError, RuntimeError):
    """The agent could not be built from its configuration (the message says what to fix)."""


def load_tool(spec: str) -> Tool | ToolFunction:
    """Import a tool given as ``"package.module:function"``."""
    module_name, _, attr = spec.partition(":")
    if not attr:
        raise AgentError(f"tool {spec!r} must look like 'package.module:function'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise AgentError(f"cannot import tool module {module_name!r}: {exc}") from exc
    tool = getattr(module, attr, None)
    if tool is None:
        raise AgentError(f"module {module_name!r} has no tool {attr!r}")
    return tool  # type: ignore[no-any-return]


def read_knowledge(paths: Sequence[Path], inline: str) -> str:
    """Concatenate the knowledge files (with their names as headings) and the inline text."""
    parts = []
    for path in paths:
        if not path.is_file():
            raise AgentError(f"knowledge file not found: {path}")
        parts.append(f"## {path.name}\n{path.read_text().strip()}")
    if inline.strip():
        parts.append(inline.strip())
    return "\n\n".join(parts)


class Greeter(Stage):
    """Says the configured greeting once, when the session starts."""

    outputs = (TextToSpeak,)

    def __init__(self, text: str) -> None:
        super().__init__(name="Greeter")
        self.text = text

    async def start(self) -> None:
        """Queue the greeting (spoken as soon as the TTS is ready)."""
        self.spawn(self.emit, self.frame(TextToSpeak, text=self.text, response_id="greeting"))


def freeze_loaded_objects() -> None:
    """Collect once, then exempt every object alive now (loaded models, modules) from later
    collections, so the collector's full passes stay short while calls run."""
    gc.collect()
    gc.freeze()


class VoiceAgent:
    """Builds and runs the default voice pipeline from an :class:`AgentConfig`.

    ``tools`` adds Python tools to those named in ``config.llm.tools``. ``userdata`` makes each
    session's ``RunContext.userdata`` (called once per session; a fresh dict when not given).
    ``hooks`` holds the callbacks (:meth:`on` adds to it).
    """

    def __init__(
        self,
        config: AgentConfig | None = None,
        *,
        tools: Sequence[Tool | ToolFunction] = (),
        userdata: Callable[[], Any] | None = None,
        hooks: AgentHooks | None = None,
    ) -> None:
        self.config = config or AgentConfig()
        self.tools = [*(load_tool(spec) for spec in self.config.llm.tools), *tools]
        self.userdata: Callable[[], Any] = userdata or dict
        self.hooks = hooks or AgentHooks()
        self.knowledge = read_knowledge(self.config.llm.knowledge, self.config.llm.knowledge_text)
        self._shared: dict[str, Any] = {}
        self._preparing: anyio.Lock | None = None
        self.prepared = False
        """Every model is loaded and the LLM server answers (after :meth:`prepare`)."""

    @overload
    def on(self, kind: type[E]) -> Callable[[Hook[E]], Hook[E]]: ...

    @overload
    def on(self, kind: type[E], fn: Hook[E]) -> Hook[E]: ...

    def on(self, kind: type[E], fn: Hook[E] | None = None) -> Hook[E] | Callable[[Hook[E]], Hook[E]]:
        """Call ``fn`` with each event of type ``kind`` in every session (a decorator without
        ``fn``); see :mod:`cascade.agent.hooks` for the events and how callbacks run."""
        return self.hooks.on(kind) if fn is None else self.hooks.on(kind, fn)

    # --- models shared by every session -----------------------------------------------------

    async def prepare(self) -> None:
        """Load every model once (and start the embedded LLM server if none is configured).

        The objects that exist once the models are loaded are then moved out of the garbage
        collector's reach (:func:`gc.freeze`): a full collection scanning them paused the event
        loop for 20 ms, longer than an audio frame.

        Concurrent calls prepare once: the first does the work, the others wait for it.
        """
        if self._preparing is None:
            self._preparing = anyio.Lock()
        async with self._preparing:
            if not self.prepared:
                await self._prepare()
                self.prepared = True

    async def _prepare(self) -> None:
        await anyio.to_thread.run_sync(self._load_models)
        freeze_loaded_objects()
        if self.config.llm.base_url is None:
            from cascade.llm.server import get_or_start_server

            server = await anyio.to_thread.run_sync(get_or_start_server, self._server_options())
            self._shared["llm_server"] = server
        if self.config.text_turn == "chat" and "text_turn" not in self._shared:
            from cascade.turn.chat_turn import ChatTurnOptions, ChatTurnReader

            base_url = self.llm_base_url
            assert base_url is not None  # the embedded server's, or the configured one
            chat = ChatTurnReader(ChatTurnOptions(base_url=base_url, model=self.config.llm.model))
            await anyio.to_thread.run_sync(chat.load)
            self._shared["text_turn"] = chat

    def _load_models(self) -> None:
        from cascade.asr.engine import WhisperEngine
        from cascade.tts.hibari import HibariEngine

        cfg = self.config
        if "asr" not in self._shared:
            asr = WhisperEngine(cfg.asr)
            _ = asr.loaded  # load now, not on the caller's first words
            self._shared["asr"] = asr
        from cascade.vad import SileroVAD

        SileroVAD(cfg.vad).load()  # its ONNX session is shared by every session's VAD
        if "smart_turn" not in self._shared:
            from cascade.turn.smart_turn import SmartTurnDetector

            detector = SmartTurnDetector()
            detector.load()
            self._shared["smart_turn"] = detector
        if cfg.text_turn == "smollm2" and "text_turn" not in self._shared:
            from cascade.turn.text_turn import TextTurnDetector

            reader = TextTurnDetector()
            reader.load()
            self._shared["text_turn"] = reader
        if cfg.tts.engine == "hibari" and "tts" not in self._shared:
            tts = HibariEngine(cfg.tts.voice or "heart")
            tts.load()  # the stage warms it up once, at its first session's start
            self._shared["tts"] = tts

    def _server_options(self) -> ServerOptions:
        return self.config.llm.server

    @property
    def llm_base_url(self) -> str | None:
        """The LLM endpoint sessions use (the embedded server's once prepared)."""
        server = self._shared.get("llm_server")
        return server.base_url if server is not None else self.config.llm.base_url

    def llm_endpoint(self) -> tuple[str, str]:
        """``(base_url, model)`` of the LLM after :meth:`prepare` (for tools and benchmarks)."""
        server = self._shared.get("llm_server")
        base_url = self.llm_base_url
        model = self.config.llm.model or (server.model_name if server is not None else None)
        if base_url is None or model is None:
            raise AgentError("the LLM endpoint is known after prepare() (or set llm.base_url and llm.model)")
        return base_url, model

    def shared_models(self) -> dict[str, Any]:
        """The loaded models shared by sessions (``asr``, ``tts``) after :meth:`prepare`."""
        return dict(self._shared)

    # --- one session ---------------------------------------------------------------------------

    def pipeline(self, *, extra_tools: Sequence[Tool] = (), keypad: bool = False) -> Pipeline:
        """Fresh stages for one session, sharing the loaded models.

        ``extra_tools`` are added for this session only (e.g. a phone call's hang-up and
        transfer); ``keypad`` turns DTMF key presses into caller turns. With hooks registered, a
        :class:`~cascade.agent.observer.HookStage` at the end feeds them.
        """
        from cascade.asr.stage import WhisperASR
        from cascade.turn.taker import TurnTaker
        from cascade.vad import SileroVAD

        cfg = self.config
        stages: list[Stage] = []
        if cfg.greeting:
            stages.append(Greeter(cfg.greeting))
        stages += [
            SileroVAD(cfg.vad),
            WhisperASR(cfg.asr, streaming=cfg.streaming, engine=self._shared.get("asr")),
        ]
        turn = TurnTaker(
            cfg.turn,
            model=self._shared.get("smart_turn", "smart-turn"),
            text_model=self._shared.get("text_turn", "smollm2-135m" if cfg.text_turn == "smollm2" else None),
        )
        stages.append(turn)
        if keypad:
            stages.append(KeypadInput())
        # the monitor after the TTS tells the turn-taker what is being played (resume, echo)
        userdata = self.userdata()
        stages += [self._llm_stage(extra_tools, userdata), self._tts_stage()]
        if self.hooks:
            stages.append(HookStage(self.hooks, userdata=userdata))
        return Pipeline(stages, name="VoiceAgent")

    def _llm_stage(self, extra_tools: Sequence[Tool] = (), userdata: Any = None) -> ChatLLM:
        cfg = self.config.llm
        server = self._shared.get("llm_server")
        options = ChatLLMOptions(
            base_url=self.llm_base_url,
            api_key=cfg.api_key,
            model=cfg.model or (server.model_name if server is not None else None),
            temperature=cfg.temperature,
            max_tokens=cfg.max_tokens,
            context=ContextOptions(system_prompt=cfg.system_prompt, knowledge=self.knowledge),
            server=self._server_options(),
        )
        return ChatLLM(options, tools=[*self.tools, *extra_tools], userdata=userdata)

    def _tts_stage(self) -> Stage:
        from cascade.tts.chunker import ChunkerOptions

        cfg, rate = self.config.tts, self.config.sample_rate
        common: dict[str, Any] = {
            "sample_rate": rate,
            "speed": cfg.speed,
            "chunker": ChunkerOptions(first_max_words=cfg.first_chunk_words),
        }
        if cfg.engine == "hibari":
            from cascade.tts.hibari import HibariOptions, HibariTTS

            hibari = HibariOptions(voice=cfg.voice, **common)
            return HibariTTS(hibari, engine=self._shared.get("tts"))
        if cfg.engine == "piper":
            from cascade.tts.piper import PiperOptions, PiperTTS

            return PiperTTS(PiperOptions(voice=cfg.voice, **common))
        from cascade.tts.openai_speech import OpenAISpeechOptions, OpenAISpeechTTS

        assert cfg.base_url is not None  # TTSSettings checks it
        voice = {"voice": cfg.voice} if cfg.voice else {}
        options = OpenAISpeechOptions(
            base_url=cfg.base_url, model=cfg.model, api_key=cfg.api_key, **voice, **common
        )
        return OpenAISpeechTTS(options)

    async def run(
        self,
        transport: Transport,
        *,
        clock: Clock | None = None,
        metrics: MetricsCollector | None = None,
    ) -> SessionContext:
        """Run one session on ``transport`` (preparing the models first if needed)."""
        await self.prepare()
        return await self.pipeline().run(transport, clock=clock, metrics=metrics)

    def stop_server(self) -> None:
        """Stop the embedded LLM server if this agent started it."""
        server = self._shared.pop("llm_server", None)
        if server is not None:
            server.stop()
            self.prepared = False  # a later session starts it again
