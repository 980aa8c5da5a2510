"""ChatLLM: the reply stage, streaming from any OpenAI-compatible server (vLLM first).

For each :class:`~cascade.frames.EndOfTurn` it forwards the frame, then streams a reply::

    LLMResponseStarted -> LLMTextDelta ... -> [ToolCallRequest/ToolCallResult, TextToSpeak filler,
    more LLMTextDelta] -> LLMResponseEnded(text = everything spoken)

Interrupts cancel the reply and close the HTTP stream, so the server stops generating. The
conversation keeps only what the caller heard of an interrupted reply (from
:class:`~cascade.frames.BotSpeechEnded`; nothing of one interrupted before it played, and the
caller's turn it answered joins their next). Failures never end the session: a request that fails
before anything was spoken is retried once; otherwise the caller hears a short apology.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
import openai
from openai import AsyncOpenAI
from pydantic import BaseModel, ConfigDict, Field

from cascade.frames import (
    BotSpeechEnded,
    BotSpeechStarted,
    EndOfTurn,
    ErrorFrame,
    Frame,
    Interrupt,
    LLMResponseEnded,
    LLMResponseStarted,
    LLMTextDelta,
    SessionPlaysAudio,
    TextToSpeak,
    ToolCallRequest,
    ToolCallResult,
)
from cascade.llm.context import (
    ContextOptions,
    ContextOverflowError,
    Conversation,
    Message,
    TokenCounter,
    Turn,
)
from cascade.llm.json_calls import to_hermes
from cascade.llm.server import ServerOptions
from cascade.llm.tools import (
    Tool,
    ToolArgumentsError,
    ToolCall,
    ToolCallAssembler,
    ToolFunction,
    ToolOutcome,
    as_tools,
    with_clock_timeout,
)
from cascade.stage import Stage

log = logging.getLogger("cascade.llm")

_WORDS_ONLY = "Now answer the caller in plain spoken words using the tool results above. Do not call tools."
_TAGGED_CALL = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)


class ChatLLMOptions(BaseModel):
    """Options of :class:`ChatLLM`; every field has a working default."""

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


class _RoundFailed(Exception):
    """A request failed in a way that was already logged; the reply ends with an apology."""


@dataclass
class _Reply:
    """State of one reply (one caller turn), readable after cancellation."""

    response_id: str
    generation: int
    turn: Turn
    spoken: str = ""
    round_text: str = ""
    round_speaking: bool = False
    pending: list[ToolCall] = field(default_factory=list)
    outcomes: dict[str, ToolOutcome] = field(default_factory=dict)
    seen_calls: set[tuple[str, str]] = field(default_factory=set)
    filler_said: bool = False
    tools_running: int = 0
    finished: bool = False


@dataclass
class _Round:
    text: str = ""
    calls: list[ToolCall] = field(default_factory=list)


class ChatLLM(Stage):
    """Answers each caller turn with a streamed LLM reply, calling tools when the model asks.

    >>> llm = ChatLLM(base_url="http://127.0.0.1:8000/v1", tools=[get_weather])
    >>> llm = ChatLLM(ChatLLMOptions(context=ContextOptions(knowledge=faq_text)))  # embedded vLLM
    """

    inputs = (EndOfTurn,)
    outputs = (
        EndOfTurn,
        LLMResponseStarted,
        LLMTextDelta,
        LLMResponseEnded,
        ToolCallRequest,
        ToolCallResult,
        TextToSpeak,
        ErrorFrame,
    )
    events = (BotSpeechStarted, BotSpeechEnded, SessionPlaysAudio)
    interruptible = True

    def __init__(
        self,
        options: ChatLLMOptions | None = None,
        *,
        tools: list[Tool | ToolFunction] | tuple[Tool | ToolFunction, ...] = (),
        name: str | None = None,
        **overrides: Any,
    ) -> None:
        """``options`` (or keyword ``overrides`` of its fields, e.g. ``base_url=...``) and tools."""
        super().__init__(name=name)
        base = options or ChatLLMOptions()
        self.options = (
            ChatLLMOptions.model_validate({**base.model_dump(), **overrides}) if overrides else base
        )
        self.tools = as_tools(tools)
        self.conversation = Conversation(self.options.context)
        self.model = self.options.model
        self.base_url = self.options.base_url
        self._http: httpx.AsyncClient | None = None
        self._client: AsyncOpenAI | None = None
        self._counter: TokenCounter | None = None
        self._discovered = False
        self._lock = anyio.Lock()
        self._ids = itertools.count(1)
        self._unheard: dict[str, Turn] = {}
        """Turns whose reply has not started playing (by response id): an interrupt now means
        the caller heard none of it."""
        self._schemas = [t.schema() for t in self.tools.values()]
        self._plays_audio = False
        """The session plays the bot's audio: a reply is heard only from its BotSpeechStarted on
        (without playback, a reply is delivered as written)."""

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect to the server (starting the embedded one when no base URL is set)."""
        self._plays_audio = False  # until the session says it does
        if self.base_url is None:
            from cascade.llm.server import get_or_start_server

            server = await anyio.to_thread.run_sync(get_or_start_server, self.options.server)
            self.base_url = server.base_url
            self.model = self.model or server.model_name
        timeout = httpx.Timeout(self.options.request_timeout, connect=self.options.connect_timeout)
        self._http = httpx.AsyncClient(timeout=timeout)
        self._client = AsyncOpenAI(
            base_url=self.base_url,
            api_key=self.options.api_key,
            max_retries=0,  # retries are ours: only before anything was spoken
            timeout=openai.Timeout(self.options.request_timeout, connect=self.options.connect_timeout),
        )
        await self._discover()

    async def close(self) -> None:
        """Close the HTTP connections."""
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _discover(self) -> None:
        """Learn the served model and its context length (``/v1/models``); logs problems."""
        assert self._http is not None and self.base_url is not None
        url = self.base_url.rstrip("/")
        try:
            response = await self._http.get(f"{url}/models")
            response.raise_for_status()
            cards = [c for c in response.json().get("data", []) if isinstance(c, dict)]
        except (httpx.HTTPError, ValueError) as exc:
            log.error(
                "LLM server at %s is unreachable (%s): each reply will retry and apologize until it "
                "answers; start it with `cascade llm serve` or fix base_url",
                url,
                _describe(exc),
            )
            return
        served = [str(c.get("id")) for c in cards]
        if self.model is None and served:
            self.model = served[0]
        card = next((c for c in cards if c.get("id") == self.model), None)
        if card is None:
            log.error(
                "model '%s' is not served at %s (it serves %s): set ChatLLMOptions.model to one of them",
                self.model,
                url,
                served,
            )
        elif isinstance(card.get("max_model_len"), int) and self.options.context.max_context_tokens is None:
            self.conversation.max_context_tokens = card["max_model_len"]
        root = url.removesuffix("/v1")
        self._counter = TokenCounter(self._http, root, self.model or "")
        self._discovered = True
        log.info(
            "LLM: %s at %s, context %d tokens, %d tools",
            self.model,
            url,
            self.conversation.max_context_tokens,
            len(self.tools),
        )

    # --- frames ------------------------------------------------------------------------------

    async def process(self, frame: Frame) -> None:
        """Forward the end of turn and start answering it in the background."""
        assert isinstance(frame, EndOfTurn)
        await self.emit(frame)
        self.spawn(self._respond, frame, generation=frame.generation)

    async def on_event(self, frame: Frame) -> None:
        """Keep only what the caller heard of an interrupted reply."""
        if isinstance(frame, SessionPlaysAudio):
            self._plays_audio = True
        elif isinstance(frame, BotSpeechStarted):
            self._unheard.pop(frame.response_id, None)
        elif isinstance(frame, BotSpeechEnded) and frame.interrupted:
            self.conversation.heard(frame.response_id, frame.heard_text)

    async def on_interrupt(self, frame: Interrupt) -> None:
        """A reply interrupted before any of it played leaves no words in the conversation, even
        when it was complete (held, or queued behind the TTS); a speculative turn the turn-taker
        took back leaves nothing at all."""
        for response_id, turn in self._unheard.items():
            if frame.discards_preemptive and turn.preemptive:
                self.conversation.discard(turn)
            elif self._plays_audio:  # (without playback, a reply is delivered as written)
                self.conversation.heard(response_id, "")
        self._unheard.clear()

    # --- one reply ---------------------------------------------------------------------------

    async def _respond(self, frame: EndOfTurn) -> None:
        async with self._lock:
            if frame.generation < self.generation:
                return
            if not self._discovered:
                await self._discover()
            response_id = f"llm-{next(self._ids)}"
            turn = self.conversation.add_user(
                frame.text, response_id=response_id, preemptive=frame.preemptive
            )
            if frame.preemptive or self._plays_audio:
                self._unheard[response_id] = turn  # until its audio starts playing
            reply = _Reply(response_id, frame.generation, turn)
            try:
                await self._answer(reply)
            finally:
                self._settle(reply)

    async def _answer(self, reply: _Reply) -> None:
        await self.emit(
            LLMResponseStarted(
                pts=self.clock.now(), generation=reply.generation, response_id=reply.response_id
            )
        )
        failure: str | None = None
        partial = ""
        rounds = 0
        words_only = False
        while True:
            allow_tools = bool(self.tools) and rounds < self.options.max_tool_rounds and not words_only
            try:
                result = await self._round(reply, allow_tools)
            except _RoundFailed as exc:
                failure = str(exc)
                partial = reply.round_text if reply.round_speaking else ""
                reply.round_text, reply.round_speaking = "", False
                break
            calls = _unique(result.calls) if allow_tools else []
            if any((c.name, _canonical(c.arguments)) in reply.seen_calls for c in calls):
                # A model that repeats a call it has the result of will not stop by itself (small
                # models do this). Forget the looping round and ask again without tools, so the
                # model must answer in words from the results it has.
                log.warning(
                    "LLM reply %s: the model repeated a tool call it has the result of; "
                    "asking for an answer in words",
                    reply.response_id,
                )
                reply.round_text, reply.round_speaking = "", False
                words_only = True
                continue
            if result.text or calls:
                self.conversation.add_assistant(reply.turn, result.text, [c.message() for c in calls] or None)
            reply.round_text, reply.round_speaking = "", False
            if not calls:
                if not result.text.strip() and not reply.spoken.strip():
                    failure = "the model returned no words" + (" (only tool calls)" if result.calls else "")
                    log.warning("LLM reply %s: %s; saying the apology instead", reply.response_id, failure)
                break
            rounds += 1
            await self._run_tools(reply, calls)
        reply.finished = True
        await self.emit(
            LLMResponseEnded(
                pts=self.clock.now(),
                generation=reply.generation,
                response_id=reply.response_id,
                text=reply.spoken,
            )
        )
        if failure is not None:
            await self._apologize(reply, failure, partial)

    async def _apologize(self, reply: _Reply, reason: str, partial: str) -> None:
        now = self.clock.now()
        apology = self.options.apology
        await self.emit(ErrorFrame(pts=now, generation=reply.generation, stage=self.name, message=reason))
        await self.emit(
            TextToSpeak(
                pts=now, generation=reply.generation, text=apology, response_id=f"{reply.response_id}-apology"
            )
        )
        self.conversation.add_assistant(reply.turn, f"{partial.strip()} {apology}".strip())

    def _settle(self, reply: _Reply) -> None:
        """Record what an interrupted reply left behind (synchronously: runs under cancellation)."""
        turn = reply.turn
        if reply.round_text and reply.round_speaking:
            self.conversation.add_assistant(turn, reply.round_text)
        for call in reply.pending:
            outcome = reply.outcomes.get(call.id)
            text = outcome.result if outcome else "Cancelled: the caller interrupted before this finished."
            self.conversation.add_tool_result(turn, call.id, text)
        reply.pending = []
        if not reply.finished and turn.preemptive and not reply.spoken:
            self.conversation.discard(turn)  # a speculative start the caller talked over

    # --- one request -------------------------------------------------------------------------

    async def _round(self, reply: _Reply, allow_tools: bool) -> _Round:
        """One streamed request, retried once if it fails before anything was spoken."""
        shrunk = False
        for attempt in (1, 2):
            try:
                messages = await self.conversation.fit(
                    self._counter, self._schemas or None, self._summarize if self._client else None
                )
            except ContextOverflowError as exc:
                log.error("LLM reply %s: context overflow: %s", reply.response_id, exc)
                raise _RoundFailed(f"context overflow: {exc}") from None
            try:
                return await self._stream(reply, messages, allow_tools)
            except openai.BadRequestError as exc:
                if "context length" in str(exc).lower() and not shrunk:
                    shrunk = True
                    self.conversation.max_context_tokens = int(self.conversation.max_context_tokens * 0.8)
                    log.warning(
                        "server says the request is too long (%s): shrinking the budget, retrying", exc
                    )
                    continue
                log.error("LLM reply %s: the server rejected the request: %s", reply.response_id, exc)
                raise _RoundFailed(f"request rejected: {exc}") from None
            except openai.NotFoundError as exc:
                log.error(
                    "LLM reply %s: model '%s' not found at %s (%s): check ChatLLMOptions.model",
                    reply.response_id,
                    self.model,
                    self.base_url,
                    exc,
                )
                raise _RoundFailed(f"model '{self.model}' not found") from None
            except (openai.APIConnectionError, openai.InternalServerError) as exc:
                where = f"after {len(reply.spoken)} spoken characters" if reply.spoken else "before any words"
                if reply.spoken or reply.round_speaking or attempt == 2:
                    log.error(
                        "LLM reply %s failed %s (%s): apologizing", reply.response_id, where, _describe(exc)
                    )
                    raise _RoundFailed(f"LLM request failed: {_describe(exc)}") from None
                log.warning(
                    "LLM reply %s failed %s (%s): retrying once", reply.response_id, where, _describe(exc)
                )
                reply.round_text = ""
            except openai.APIStatusError as exc:
                log.error("LLM reply %s: server error %s: %s", reply.response_id, exc.status_code, exc)
                raise _RoundFailed(f"server error {exc.status_code}") from None
        raise _RoundFailed("the request kept failing")

    async def _stream(self, reply: _Reply, messages: list[Message], allow_tools: bool) -> _Round:
        assert self._client is not None
        request: dict[str, Any] = {
            "model": self.model or "",
            "messages": messages,
            "stream": True,
            "temperature": self.options.temperature,
            "max_tokens": self.options.max_tokens,
        }
        if allow_tools:
            request["tools"] = self._schemas
            request["tool_choice"] = "auto"
        elif self.tools and reply.seen_calls:
            request["messages"] = [*messages, {"role": "system", "content": _WORDS_ONLY}]
        # Without tools the model must answer in words: small models ignore tool_choice="none" and
        # keep writing calls, but stop once the tools are not in the prompt.
        if self.options.response_format is not None:
            request["response_format"] = self.options.response_format
        if self.options.extra_body:
            request["extra_body"] = self.options.extra_body
        assembler = ToolCallAssembler()
        reply.round_text, reply.round_speaking = "", False
        # Small models may write calls as JSON text: with tools offered, text is held back until
        # it is clear whether it is speech or a call the server did not parse.
        mode = "deciding" if self.tools else "speaking"
        stream = await self._client.chat.completions.create(**request)
        repeated = False
        try:
            async for chunk in stream:
                if not chunk.choices:
                    continue
                delta = chunk.choices[0].delta
                for call_delta in delta.tool_calls or ():
                    assembler.add(call_delta)
                if delta.tool_calls and _repeats(assembler.complete(), reply.seen_calls):
                    # a small model writing the same call again and again goes on for hundreds
                    # of tokens: the round is over at the first repeat
                    log.info("LLM reply %s: a repeated tool call ends the round", reply.response_id)
                    repeated = True
                    break
                if not delta.content:
                    continue
                reply.round_text += delta.content
                if mode == "deciding":
                    kind, _ = to_hermes(reply.round_text, self.tools)
                    if kind == "text":
                        mode = "speaking"
                        await self._say(reply, reply.round_text)
                    elif kind == "tool":
                        mode = "calls"
                elif mode == "speaking":
                    await self._say(reply, delta.content)
        finally:
            with anyio.CancelScope(shield=True):
                await stream.close()  # closes the connection: the server stops generating
        calls = assembler.calls(f"{reply.response_id}-call", complete_only=repeated)
        if not reply.round_speaking and reply.round_text:
            kind, tagged = to_hermes(reply.round_text, self.tools)
            if kind == "tool" or not self.tools:
                calls += _text_calls(tagged, f"{reply.response_id}-text")
            if kind != "tool" and (kind == "maybe" or not self.tools):
                await self._say(reply, reply.round_text)
        return _Round(text=reply.round_text if reply.round_speaking else "", calls=calls)

    async def _say(self, reply: _Reply, text: str) -> None:
        if not reply.spoken:
            self.ctx.metrics.mark("llm_first_token", self.clock.now())
        reply.round_speaking = True
        reply.spoken += text
        await self.emit(
            LLMTextDelta(
                pts=self.clock.now(), generation=reply.generation, response_id=reply.response_id, text=text
            )
        )

    async def _summarize(self, messages: list[Message]) -> str:
        assert self._client is not None
        lines = []
        for message in messages:
            if message["role"] == "tool":
                lines.append(f"(tool result) {message['content']}")
            elif message.get("content"):
                lines.append(f"{message['role']}: {message['content']}")
        response = await self._client.chat.completions.create(
            model=self.model or "",
            messages=[
                {
                    "role": "system",
                    "content": "Summarize this part of a phone call in at most three sentences. Keep "
                    "names, numbers, dates and decisions.",
                },
                {"role": "user", "content": "\n".join(lines)},
            ],
            max_tokens=self.options.context.summary_tokens,
            temperature=0.0,
        )
        return response.choices[0].message.content or ""

    # --- tools -------------------------------------------------------------------------------

    async def _run_tools(self, reply: _Reply, calls: list[ToolCall]) -> None:
        """Validate and run one round of calls in parallel; results go back into the context."""
        reply.pending = list(calls)
        runnable: list[tuple[ToolCall, Tool, BaseModel]] = []
        for call in calls:
            arguments = _loads(call.arguments)
            await self.emit(
                ToolCallRequest(
                    pts=self.clock.now(),
                    generation=reply.generation,
                    call_id=call.id,
                    name=call.name,
                    arguments=arguments if isinstance(arguments, dict) else {},
                )
            )
            rejection = self._check_call(reply, call)
            if rejection is not None:
                log.warning(
                    "LLM reply %s: tool call %s rejected: %s", reply.response_id, call.name, rejection
                )
                reply.outcomes[call.id] = ToolOutcome(call, rejection, is_error=True)
                continue
            tool = self.tools[call.name]
            try:
                args = tool.parse(call.arguments)
            except ToolArgumentsError as exc:
                log.warning("LLM reply %s: invalid arguments for %s: %s", reply.response_id, call.name, exc)
                message = (
                    f"Invalid arguments for '{call.name}': {exc}. Call it again with corrected arguments."
                )
                reply.outcomes[call.id] = ToolOutcome(call, message, is_error=True)
                continue
            runnable.append((call, tool, args))
        if runnable:
            async with anyio.create_task_group() as waiting:
                if self.options.filler_after is not None and not reply.filler_said:
                    filler = (
                        next((t.filler for _, t, _ in runnable if t.filler), None) or self.options.filler_text
                    )
                    waiting.start_soon(self._filler, reply, filler)
                async with anyio.create_task_group() as tg:
                    reply.tools_running = len(runnable)
                    for call, tool, args in runnable:
                        tg.start_soon(self._run_tool, reply, call, tool, args)
                waiting.cancel_scope.cancel()  # the tools are done: no filler is due any more
        for call in calls:
            outcome = reply.outcomes[call.id]
            self.conversation.add_tool_result(reply.turn, call.id, outcome.result)
            await self.emit(
                ToolCallResult(
                    pts=self.clock.now(),
                    generation=reply.generation,
                    call_id=call.id,
                    name=call.name,
                    result=outcome.result,
                    is_error=outcome.is_error,
                )
            )
        reply.pending = []

    def _check_call(self, reply: _Reply, call: ToolCall) -> str | None:
        """Why a call must not run (a tool that was not offered), or None."""
        reply.seen_calls.add((call.name, _canonical(call.arguments)))
        if call.name not in self.tools:
            return (
                f"There is no tool named '{call.name}'. Available tools: {', '.join(self.tools)}. "
                "If none fits, answer the caller in words."
            )
        return None

    async def _run_tool(self, reply: _Reply, call: ToolCall, tool: Tool, args: BaseModel) -> None:
        async def work() -> str:
            return await tool.invoke(args)

        try:
            if tool.cancellable:
                result = await with_clock_timeout(self.clock.sleep, tool.timeout, work)
            else:
                # Side effects must not be cut by a barge-in: finish, and keep the result.
                with anyio.CancelScope(shield=True):
                    result = await with_clock_timeout(self.clock.sleep, tool.timeout, work)
            if result is None:
                log.warning(
                    "LLM reply %s: tool %s timed out after %.1fs", reply.response_id, call.name, tool.timeout
                )
                outcome = ToolOutcome(
                    call, f"'{call.name}' timed out after {tool.timeout:g} s.", is_error=True
                )
            else:
                outcome = ToolOutcome(call, result)
        except Exception as exc:
            log.warning("LLM reply %s: tool %s failed: %r", reply.response_id, call.name, exc)
            outcome = ToolOutcome(call, f"'{call.name}' failed: {exc}", is_error=True)
        reply.outcomes[call.id] = outcome
        reply.tools_running -= 1

    async def _filler(self, reply: _Reply, text: str) -> None:
        """Say ``text`` if the tools still run after ``filler_after`` (cancelled when they end)."""
        assert self.options.filler_after is not None
        await self.clock.sleep(self.options.filler_after)
        if reply.tools_running > 0 and not reply.filler_said:
            reply.filler_said = True
            await self.emit(
                TextToSpeak(
                    pts=self.clock.now(),
                    generation=reply.generation,
                    text=text,
                    response_id=f"{reply.response_id}-filler",
                )
            )


def _unique(calls: list[ToolCall]) -> list[ToolCall]:
    """Drop exact duplicates within one round (small models repeat a call many times)."""
    seen: set[tuple[str, str]] = set()
    unique = []
    for call in calls:
        key = (call.name, _canonical(call.arguments))
        if key not in seen:
            seen.add(key)
            unique.append(call)
    return unique


def _repeats(calls: list[ToolCall], seen: set[tuple[str, str]]) -> bool:
    """Whether a call repeats an earlier one of this reply or of the same round."""
    keys = [(call.name, _canonical(call.arguments)) for call in calls]
    return len(set(keys)) < len(keys) or any(key in seen for key in keys)


def _loads(text: str) -> Any:
    try:
        return json.loads(text) if text.strip() else {}
    except ValueError:
        return None


def _canonical(arguments: str) -> str:
    value = _loads(arguments)
    return json.dumps(value, sort_keys=True) if value is not None else arguments.strip()


def _text_calls(tagged: str, prefix: str) -> list[ToolCall]:
    """Calls written as text (``<tool_call>{...}</tool_call>``, as :func:`to_hermes` returns)."""
    calls = []
    for index, body in enumerate(_TAGGED_CALL.findall(tagged)):
        data = _loads(body)
        if isinstance(data, dict) and isinstance(data.get("name"), str):
            arguments = data.get("arguments", data.get("parameters", {}))
            text = arguments if isinstance(arguments, str) else json.dumps(arguments)
            calls.append(ToolCall(id=f"{prefix}-{index}", name=data["name"], arguments=text))
    return calls


def _describe(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    detail = f"{type(exc).__name__}: {exc}"
    if cause is not None and str(cause) and str(cause) not in detail:
        detail += f" ({type(cause).__name__}: {cause})"
    return detail
