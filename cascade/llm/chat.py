"""ChatLLM: the reply stage, streaming from any OpenAI-compatible server (vLLM first).

For each :class:`~cascade.frames.EndOfTurn` it forwards the frame, then streams a reply::

    LLMResponseStarted -> LLMTextDelta ... -> [ToolCallRequest/ToolCallResult, TextToSpeak filler,
    more LLMTextDelta] -> LLMResponseEnded(text = everything spoken)

Interrupts cancel the reply and close the HTTP stream, so the server stops generating. The
conversation keeps only what the caller heard of an interrupted reply (from
:class:`~cascade.frames.BotSpeechEnded`; nothing of one interrupted before it played, and the
caller's turn it answered joins their next). Failures never end the session: a request that fails
before anything was spoken is retried once; otherwise the caller hears a short apology.

The server connection, retries and stream parsing are the client's (:mod:`cascade.llm.client`),
running tools is :mod:`cascade.llm.tool_runner`'s; this stage keeps the conversation and decides
what a reply says.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass
from typing import Any

import anyio

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
from cascade.llm.client import LLMClient, RoundFailed
from cascade.llm.context import Conversation, Turn
from cascade.llm.options import ChatLLMOptions
from cascade.llm.tool_runner import ToolRunner
from cascade.llm.tools import Tool, ToolFunction, as_tools, unique_calls
from cascade.stage import Stage

__all__ = ["ChatLLM", "ChatLLMOptions"]

log = logging.getLogger("cascade.llm")


@dataclass
class _Reply:
    """State of one reply (one caller turn), readable after cancellation."""

    response_id: str
    generation: int
    turn: Turn
    tools: ToolRunner
    spoken: str = ""
    """Everything the reply said so far."""
    round_said: str = ""
    """What the request streaming now has said (kept in the conversation if it is cut off)."""
    finished: bool = False


class ChatLLM(Stage):
    """Answers each caller turn with a streamed LLM reply, calling tools when the model asks.

    Options come as a :class:`~cascade.llm.options.ChatLLMOptions` or as its fields by keyword;
    nothing connects before the session starts.

    >>> from cascade.llm import ChatLLM, ChatLLMOptions, ContextOptions, tool
    >>> @tool
    ... def opening_hours(day: str) -> str:
    ...     "The bakery's opening hours on a day of the week."
    ...     return "7 am to 1 pm" if day.lower() == "sunday" else "7 am to 7 pm"
    >>> llm = ChatLLM(base_url="http://127.0.0.1:8000/v1", tools=[opening_hours], temperature=0.0)
    >>> llm.base_url, list(llm.tools)
    ('http://127.0.0.1:8000/v1', ['opening_hours'])

    Without ``base_url`` it uses the embedded vLLM, started at the session's start if none runs:

    >>> faq = "We bake sourdough daily. Gluten-free bread on Fridays."
    >>> llm = ChatLLM(ChatLLMOptions(context=ContextOptions(knowledge=faq)))
    >>> llm.base_url is None   # known once the session started the server
    True
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
        userdata: Any = None,
        name: str | None = None,
        **overrides: Any,
    ) -> None:
        """``options`` (or keyword ``overrides`` of its fields, e.g. ``base_url=...``) and tools.

        ``userdata`` is what tools see as ``RunContext.userdata`` (``None``: a fresh dict each
        session this stage runs).
        """
        super().__init__(name=name)
        base = options or ChatLLMOptions()
        self.options = (
            ChatLLMOptions.model_validate({**base.model_dump(), **overrides}) if overrides else base
        )
        self.tools = as_tools(tools)
        self._userdata = userdata
        self.userdata: Any = userdata
        """The ``RunContext.userdata`` of the session running (or last run)."""
        self.conversation = Conversation(self.options.context)
        self.client = LLMClient(self.options, self.tools, self.conversation)
        self._lock = anyio.Lock()
        self._ids = itertools.count(1)
        self._unheard: dict[str, Turn] = {}
        """Turns whose reply has not started playing (by response id): an interrupt now means
        the caller heard none of it."""
        self._plays_audio = False
        """The session plays the bot's audio: a reply is heard only from its BotSpeechStarted on
        (without playback, a reply is delivered as written)."""

    @property
    def model(self) -> str | None:
        """The model named in requests (known after :meth:`start` unless set)."""
        return self.client.model

    @property
    def base_url(self) -> str | None:
        """The server's ``/v1`` URL (known after :meth:`start` when the embedded one is used)."""
        return self.client.base_url

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect to the server (starting the embedded one when no base URL is set)."""
        self._plays_audio = False  # until the session says it does
        self.userdata = {} if self._userdata is None else self._userdata
        await self.client.connect()

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self.client.close()

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
            if not self.client.discovered:
                await self.client.discover()
            response_id = f"llm-{next(self._ids)}"
            turn = self.conversation.add_user(
                frame.text, response_id=response_id, preemptive=frame.preemptive
            )
            if frame.preemptive or self._plays_audio:
                self._unheard[response_id] = turn  # until its audio starts playing
            tools = ToolRunner(
                self.tools,
                self.options,
                clock=self.clock,
                emit=self.emit,
                conversation=self.conversation,
                turn=turn,
                response_id=response_id,
                generation=frame.generation,
                info=self.ctx.info,
                userdata=self.userdata,
            )
            reply = _Reply(response_id, frame.generation, turn, tools)
            try:
                await self._answer(reply)
            finally:
                self._settle(reply)

    async def _answer(self, reply: _Reply) -> None:
        await self.emit(
            self.frame(LLMResponseStarted, generation=reply.generation, response_id=reply.response_id)
        )
        failure: str | None = None
        partial = ""
        rounds = 0
        words_only = False
        while True:
            allow_tools = bool(self.tools) and rounds < self.options.max_tool_rounds and not words_only
            try:
                result = await self.client.stream_round(
                    reply.response_id,
                    lambda text: self._say(reply, text),
                    spoken=lambda: reply.spoken,
                    offer_tools=allow_tools,
                    seen=reply.tools.seen,
                )
            except RoundFailed as exc:
                failure = str(exc)
                partial, reply.round_said = reply.round_said, ""
                break
            calls = unique_calls(result.calls) if allow_tools else []
            if reply.tools.repeats_any(calls):
                # A model that repeats a call it has the result of will not stop by itself (small
                # models do this). Forget the looping round and ask again without tools, so the
                # model must answer in words from the results it has.
                log.warning(
                    "LLM reply %s: the model repeated a tool call it has the result of; "
                    "asking for an answer in words",
                    reply.response_id,
                )
                reply.round_said = ""
                words_only = True
                continue
            if result.text or calls:
                self.conversation.add_assistant(reply.turn, result.text, [c.message() for c in calls] or None)
            reply.round_said = ""
            if not calls:
                if not result.text.strip() and not reply.spoken.strip():
                    failure = "the model returned no words" + (" (only tool calls)" if result.calls else "")
                    log.warning("LLM reply %s: %s; saying the apology instead", reply.response_id, failure)
                break
            rounds += 1
            await reply.tools.run(calls)
        reply.finished = True
        await self.emit(
            self.frame(
                LLMResponseEnded,
                generation=reply.generation,
                response_id=reply.response_id,
                text=reply.spoken,
            )
        )
        if failure is not None:
            await self._apologize(reply, failure, partial)

    async def _say(self, reply: _Reply, text: str) -> None:
        if not reply.spoken:
            self.ctx.metrics.mark("llm_first_token", self.clock.now())
        reply.round_said += text
        reply.spoken += text
        await self.emit(
            self.frame(LLMTextDelta, generation=reply.generation, response_id=reply.response_id, text=text)
        )

    async def _apologize(self, reply: _Reply, reason: str, partial: str) -> None:
        apology = self.options.apology
        await self.emit(self.frame(ErrorFrame, generation=reply.generation, stage=self.name, message=reason))
        response_id = f"{reply.response_id}-apology"
        await self.emit(
            self.frame(TextToSpeak, generation=reply.generation, text=apology, response_id=response_id)
        )
        self.conversation.add_assistant(reply.turn, f"{partial.strip()} {apology}".strip())

    def _settle(self, reply: _Reply) -> None:
        """Record what an interrupted reply left behind (synchronously: runs under cancellation)."""
        turn = reply.turn
        if reply.round_said:
            self.conversation.add_assistant(turn, reply.round_said)
        reply.tools.settle()
        if not reply.finished and turn.preemptive and not reply.spoken:
            self.conversation.discard(turn)  # a speculative start the caller talked over
