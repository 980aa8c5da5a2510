"""The LLM client: one OpenAI-compatible server (vLLM first), found, asked and read.

:class:`LLMClient` connects (starting the embedded vLLM when no base URL is set), learns the
served model and its context length from ``/v1/models``, and runs one streamed request per round
of a reply: the conversation fitted to the token budget, the stream sorted into words and tool
calls (:class:`~cascade.llm.stream.RoundParser`). A request that fails before anything was spoken
is retried once; one the server finds too long shrinks the budget and is tried again. A failure it
gives up on is logged here and raised as :class:`RoundFailed`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio
import httpx
import openai
from openai import AsyncOpenAI

from cascade.llm.context import ContextOverflowError, Conversation, Message, TokenCounter, summary_request
from cascade.llm.options import ChatLLMOptions
from cascade.llm.stream import Round, RoundParser
from cascade.llm.tools import Tool

log = logging.getLogger("cascade.llm")

_WORDS_ONLY = "Now answer the caller in plain spoken words using the tool results above. Do not call tools."

Say = Callable[[str], Awaitable[None]]
"""Speaks words of the reply as they stream in."""


class RoundFailed(Exception):
    """A request failed in a way that was already logged; the reply ends with an apology."""


class LLMClient:
    """The connection of one :class:`~cascade.llm.chat.ChatLLM` to its server.

    ``conversation`` is the stage's: requests are fitted from it, and the server's context length
    sets its budget.
    """

    def __init__(
        self, options: ChatLLMOptions, tools: Mapping[str, Tool], conversation: Conversation
    ) -> None:
        self.options = options
        self.tools = tools
        self.conversation = conversation
        self.base_url = options.base_url
        """The server's ``/v1`` URL (known after :meth:`connect` when the embedded one is used)."""
        self.model = options.model
        """The model named in requests (the first one served, unless set)."""
        self.discovered = False
        """Whether the server answered :meth:`discover` (else each reply tries again)."""
        self._schemas = [t.schema() for t in tools.values()]
        self._http: httpx.AsyncClient | None = None
        self._client: AsyncOpenAI | None = None
        self._counter: TokenCounter | None = None

    async def connect(self) -> None:
        """Open the connections (starting the embedded server when no base URL is set), then
        :meth:`discover`."""
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
        await self.discover()

    async def close(self) -> None:
        """Close the HTTP connections."""
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def discover(self) -> None:
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
                describe(exc),
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
        self.discovered = True
        log.info(
            "LLM: %s at %s, context %d tokens, %d tools",
            self.model,
            url,
            self.conversation.max_context_tokens,
            len(self.tools),
        )

    # --- one round ---------------------------------------------------------------------------

    async def stream_round(
        self,
        label: str,
        say: Say,
        *,
        spoken: Callable[[], str],
        offer_tools: bool,
        seen: set[tuple[str, str]],
    ) -> Round:
        """One streamed request of reply ``label``, retried once if it fails before anything was
        spoken.

        ``say`` speaks words as they stream in; ``spoken`` tells what the reply has said so far
        (this round included). ``offer_tools``: send the tools (else the model must answer in
        words). ``seen``: the calls the reply made so far, by :attr:`ToolCall.key`.
        """
        shrunk = False
        for attempt in (1, 2):
            try:
                messages = await self.conversation.fit(
                    self._counter, self._schemas or None, self.summarize if self._client else None
                )
            except ContextOverflowError as exc:
                log.error("LLM reply %s: context overflow: %s", label, exc)
                raise RoundFailed(f"context overflow: {exc}") from None
            try:
                return await self._stream(label, messages, say, offer_tools=offer_tools, seen=seen)
            except openai.BadRequestError as exc:
                if "context length" in str(exc).lower() and not shrunk:
                    shrunk = True
                    self.conversation.max_context_tokens = int(self.conversation.max_context_tokens * 0.8)
                    log.warning(
                        "server says the request is too long (%s): shrinking the budget, retrying", exc
                    )
                    continue
                log.error("LLM reply %s: the server rejected the request: %s", label, exc)
                raise RoundFailed(f"request rejected: {exc}") from None
            except openai.NotFoundError as exc:
                log.error(
                    "LLM reply %s: model '%s' not found at %s (%s): check ChatLLMOptions.model",
                    label,
                    self.model,
                    self.base_url,
                    exc,
                )
                raise RoundFailed(f"model '{self.model}' not found") from None
            except (openai.APIConnectionError, openai.InternalServerError) as exc:
                said = spoken()
                where = f"after {len(said)} spoken characters" if said else "before any words"
                if said or attempt == 2:
                    log.error("LLM reply %s failed %s (%s): apologizing", label, where, describe(exc))
                    raise RoundFailed(f"LLM request failed: {describe(exc)}") from None
                log.warning("LLM reply %s failed %s (%s): retrying once", label, where, describe(exc))
            except openai.APIStatusError as exc:
                log.error("LLM reply %s: server error %s: %s", label, exc.status_code, exc)
                raise RoundFailed(f"server error {exc.status_code}") from None
        raise RoundFailed("the request kept failing")

    async def _stream(
        self,
        label: str,
        messages: list[Message],
        say: Say,
        *,
        offer_tools: bool,
        seen: set[tuple[str, str]],
    ) -> Round:
        assert self._client is not None
        request: dict[str, Any] = {
            "model": self.model or "",
            "messages": messages,
            "stream": True,
            "temperature": self.options.temperature,
            "max_tokens": self.options.max_tokens,
        }
        if offer_tools:
            request["tools"] = self._schemas
            request["tool_choice"] = "auto"
        elif self.tools and seen:
            request["messages"] = [*messages, {"role": "system", "content": _WORDS_ONLY}]
        # Without tools the model must answer in words: small models ignore tool_choice="none" and
        # keep writing calls, but stop once the tools are not in the prompt.
        if self.options.response_format is not None:
            request["response_format"] = self.options.response_format
        if self.options.extra_body:
            request["extra_body"] = self.options.extra_body
        parser = RoundParser(self.tools, seen)
        stream = await self._client.chat.completions.create(**request)
        try:
            async for chunk in stream:
                if not chunk.choices:
                    continue
                words = parser.feed(chunk.choices[0].delta)
                if parser.repeated:
                    log.info("LLM reply %s: a repeated tool call ends the round", label)
                    break
                if words:
                    await say(words)
        finally:
            with anyio.CancelScope(shield=True):
                await stream.close()  # closes the connection: the server stops generating
        late, result = parser.finish(label)
        if late:
            await say(late)
        return result

    async def summarize(self, messages: list[Message]) -> str:
        """A short summary of ``messages`` (old turns the conversation compacts)."""
        assert self._client is not None
        response = await self._client.chat.completions.create(
            model=self.model or "",
            messages=summary_request(messages),  # type: ignore[arg-type]
            max_tokens=self.options.context.summary_tokens,
            temperature=0.0,
        )
        return response.choices[0].message.content or ""


def describe(exc: BaseException) -> str:
    """The error and its cause in one line (for logs)."""
    cause = exc.__cause__ or exc.__context__
    detail = f"{type(exc).__name__}: {exc}"
    if cause is not None and str(cause) and str(cause) not in detail:
        detail += f" ({type(cause).__name__}: {cause})"
    return detail
