"""The conversation the LLM sees: pinned prefix, history, token budget and compaction.

Layout of every request, oldest first, so vLLM's prefix cache serves what did not change::

    system: system prompt + pre-loaded knowledge (+ summary of compacted turns)
    history: user / assistant (/ tool calls and results) ..., append-only
    user: the current turn (with the words of an unanswered turn before it)

When the request would exceed the budget (the served model's ``max_model_len`` minus room for
the reply), the oldest whole turns are summarized with the LLM (or dropped). The system prompt,
the knowledge and the current, possibly unfinished, turn (with its tool exchange) are never cut.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

log = logging.getLogger("cascade.llm.context")

Message = dict[str, Any]
"""An OpenAI chat message."""


class ContextOverflowError(RuntimeError):
    """Even the pinned prefix and the current turn do not fit in the model's context."""


class ContextOptions(BaseModel):
    """How the conversation is kept within the model's context window."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    system_prompt: str = (
        "You are a friendly voice assistant on a phone call. Answer in one to three short spoken "
        "sentences, without lists, code or markdown."
    )
    """Pinned first message; never cut."""
    knowledge: str = ""
    """Pre-loaded reference text placed right after the system prompt (before the history, so
    the prefix cache keeps it warm across turns); never cut."""
    max_context_tokens: int | None = Field(default=None, ge=256)
    """Budget for a whole request; default: the served model's ``max_model_len`` (from the
    server's ``/v1/models``), or 8192 when the server does not say."""
    reply_tokens: int = Field(default=512, ge=16)
    """Room kept free for the reply."""
    overflow: Literal["summarize", "drop"] = "summarize"
    """What to do with the oldest turns when over budget."""
    summary_tokens: int = Field(default=200, ge=16)
    """Length limit of a summary."""
    exact_count_above: float = Field(default=0.5, ge=0.0, le=1.0)
    """Ask the server's tokenizer only when the estimate exceeds this share of the budget."""


@dataclass
class Turn:
    """A caller turn and everything the bot did for it."""

    user: Message
    replies: list[Message] = field(default_factory=list)
    response_id: str = ""
    preemptive: bool = False
    heard: str | None = None
    """What the caller heard of an interrupted reply (None: all of it)."""

    def messages(self) -> list[Message]:
        """The turn's messages in order."""
        return [self.user, *self.replies]


def estimate_tokens(messages: list[Message], tools: list[dict[str, Any]] | None = None) -> int:
    """A rough token count (about 4 characters per token plus per-message overhead)."""
    chars = sum(len(json.dumps(m, ensure_ascii=False)) for m in messages)
    if tools:
        chars += len(json.dumps(tools))
    return chars // 4 + 4 * len(messages) + 8


class TokenCounter:
    """Counts request tokens with the served model's tokenizer (vLLM ``/tokenize``).

    Falls back to :func:`estimate_tokens` when the server has no such endpoint (any other
    OpenAI-compatible server), logging that once.
    """

    def __init__(self, client: httpx.AsyncClient, root_url: str, model: str) -> None:
        self.client, self.root_url, self.model = client, root_url.rstrip("/"), model
        self.exact = True

    async def count(self, messages: list[Message], tools: list[dict[str, Any]] | None = None) -> int:
        """Tokens of the prompt ``messages`` (and ``tools``) would make."""
        if self.exact:
            body: dict[str, Any] = {"model": self.model, "messages": messages, "add_generation_prompt": True}
            if tools:
                body["tools"] = tools
            try:
                response = await self.client.post(f"{self.root_url}/tokenize", json=body)
                if response.status_code == 200:
                    return int(response.json()["count"])
                log.info(
                    "no /tokenize at %s (HTTP %d): estimating tokens", self.root_url, response.status_code
                )
            except (httpx.HTTPError, KeyError, ValueError) as exc:
                log.info("token counting via %s/tokenize failed (%s): estimating tokens", self.root_url, exc)
            self.exact = False
        return estimate_tokens(messages, tools)


Summarizer = Callable[[list[Message]], Awaitable[str]]
"""Turns a list of old messages into a short summary (an LLM call)."""

_SUMMARY_PROMPT = (
    "Summarize this part of a phone call in at most three sentences. Keep names, numbers, dates "
    "and decisions."
)


def summary_request(messages: list[Message]) -> list[Message]:
    """The messages that ask the model to summarize ``messages`` (old turns being compacted)."""
    lines = []
    for message in messages:
        if message["role"] == "tool":
            lines.append(f"(tool result) {message['content']}")
        elif message.get("content"):
            lines.append(f"{message['role']}: {message['content']}")
    return [
        {"role": "system", "content": _SUMMARY_PROMPT},
        {"role": "user", "content": "\n".join(lines)},
    ]


class Conversation:
    """History of one call, rendered into requests within the token budget."""

    def __init__(self, options: ContextOptions | None = None) -> None:
        self.options = options or ContextOptions()
        self.turns: list[Turn] = []
        self.summary = ""
        self.max_context_tokens = self.options.max_context_tokens or 8192

    # --- building the history ---------------------------------------------------------------

    def add_user(self, text: str, *, response_id: str, preemptive: bool = False) -> Turn:
        """Start a new turn with the caller's words."""
        turn = Turn(user={"role": "user", "content": text}, response_id=response_id, preemptive=preemptive)
        self.turns.append(turn)
        return turn

    def add_assistant(self, turn: Turn, text: str, tool_calls: list[dict[str, Any]] | None = None) -> None:
        """Record what the bot said (and which tools it called) in ``turn``."""
        message: Message = {"role": "assistant", "content": text}
        if tool_calls:
            message["tool_calls"] = tool_calls
        turn.replies.append(message)
        if turn.heard is not None:
            self._apply_heard(turn, turn.heard)

    def add_tool_result(self, turn: Turn, call_id: str, result: str) -> None:
        """Record a tool's result in ``turn``."""
        turn.replies.append({"role": "tool", "tool_call_id": call_id, "content": result})

    def heard(self, response_id: str, heard_text: str) -> None:
        """The caller heard only ``heard_text`` of the (interrupted) response ``response_id``.

        Applies to what is recorded now and to what the interrupted reply records later.
        """
        for turn in reversed(self.turns):
            if turn.response_id == response_id:
                turn.heard = heard_text
                self._apply_heard(turn, heard_text)
                return

    @staticmethod
    def _apply_heard(turn: Turn, heard_text: str) -> None:
        """Keep only ``heard_text`` of the turn's spoken words (tool exchanges stay)."""
        remaining = heard_text.strip()
        for message in turn.replies:
            if message["role"] != "assistant":
                continue
            spoken = str(message.get("content") or "").strip()
            keep = spoken if len(spoken) <= len(remaining) else remaining
            message["content"] = keep
            remaining = remaining[len(keep) :].strip()
        turn.replies = [
            m for m in turn.replies if m["role"] != "assistant" or m["content"] or m.get("tool_calls")
        ]

    def discard(self, turn: Turn) -> None:
        """Forget a turn entirely (a preemptive guess the caller talked over)."""
        if turn in self.turns:
            self.turns.remove(turn)

    # --- rendering ----------------------------------------------------------------------------

    def system_message(self) -> Message:
        """The pinned first message: system prompt, knowledge, summary of compacted turns."""
        parts = [self.options.system_prompt]
        if self.options.knowledge:
            parts.append("# Reference knowledge\n" + self.options.knowledge)
        if self.summary:
            parts.append("# Earlier in this call\n" + self.summary)
        return {"role": "system", "content": "\n\n".join(parts)}

    def messages(self) -> list[Message]:
        """The whole request's messages.

        A turn left without a reply (the caller went on before hearing one: the bot took the turn
        at a pause inside it) is joined to the next turn's words, so the model reads what the
        caller said as the one message it was.
        """
        out = [self.system_message()]
        unanswered: list[str] = []
        for i, turn in enumerate(self.turns):
            if not turn.replies and i < len(self.turns) - 1 and isinstance(turn.user["content"], str):
                unanswered.append(turn.user["content"])
                continue
            user = turn.user
            if unanswered and isinstance(user["content"], str):
                user = {**user, "content": " ".join([*unanswered, user["content"]])}
            unanswered = []
            out += [user, *turn.replies]
        return out

    @property
    def budget(self) -> int:
        """Tokens the prompt may use."""
        return max(64, self.max_context_tokens - self.options.reply_tokens)

    async def fit(
        self,
        counter: TokenCounter | None,
        tools: list[dict[str, Any]] | None = None,
        summarize: Summarizer | None = None,
    ) -> list[Message]:
        """The request's messages, compacting old turns until they fit the budget."""
        while True:
            messages = self.messages()
            used = estimate_tokens(messages, tools)
            if used > self.budget * self.options.exact_count_above and counter is not None:
                used = await counter.count(messages, tools)
            if used <= self.budget:
                return messages
            if len(self.turns) <= 1:
                raise ContextOverflowError(
                    f"the request needs {used} tokens but the budget is {self.budget} "
                    f"(max_context_tokens {self.max_context_tokens} - reply_tokens "
                    f"{self.options.reply_tokens}) even with no history: shorten the system prompt "
                    "or knowledge, or serve the model with a longer max_model_len"
                )
            await self._compact(used, summarize)

    async def _compact(self, used: int, summarize: Summarizer | None) -> None:
        """Remove the oldest whole turns (about the excess plus a quarter), summarizing them."""
        excess = used - self.budget + self.budget // 4
        old: list[Turn] = []
        freed = 0
        while len(self.turns) > 1 and (freed < excess or not old):
            turn = self.turns.pop(0)
            old.append(turn)
            freed += estimate_tokens(turn.messages())
        dropped = [m for turn in old for m in turn.messages()]
        if self.options.overflow == "summarize" and summarize is not None:
            try:
                earlier = f"{self.summary}\n" if self.summary else ""
                self.summary = (earlier + (await summarize(dropped)).strip()).strip()
                log.info(
                    "context over budget (%d > %d tokens): summarized %d old turns",
                    used,
                    self.budget,
                    len(old),
                )
                return
            except Exception as exc:
                log.warning("summarizing old turns failed (%s): dropping them instead", exc)
        log.info("context over budget (%d > %d tokens): dropped %d old turns", used, self.budget, len(old))
