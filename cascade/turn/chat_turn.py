"""End of turn read by the chat model the agent already serves, through its server's logprobs.

The caller's words go to the server as an *open* user message (after the system prompt and what
the bot said last); the server is asked for one token with its 20 most likely alternatives, and
the probability that the message ends there (the end-of-message token or a sentence-final mark)
is the answer. The words are lower-cased and their punctuation removed: the recognizer's full
stop and capital letters are its own guesses from the very pause being judged.

On the recognizer's final transcripts (mid-turn pauses against turn ends) the served
Qwen2.5-Coder-0.5B separates better than the in-process SmolLM2-135M: ROC AUC 0.92 against 0.87
on the dev set, 0.80 against 0.79 on the held-out test set (see ``benchmarks/text_turn.py``), in
about 0.1 s a call on a warm 2-core server.

It needs a vLLM server (the embedded one, or any vLLM: the request continues the user message,
``continue_final_message``, a vLLM extension of the OpenAI chat API). A server that is down,
slow or of another kind answers ``None`` (the turn is judged without the text), never an error.

>>> reader = ChatTurnReader(ChatTurnOptions(base_url="http://127.0.0.1:9/v1", model="m"))
>>> reader.request("I'd like to book a table for", "How can I help?")["messages"][-1]
{'role': 'user', 'content': "i'd like to book a table for"}
>>> reader("Thanks", "") is None  # nothing listens on port 9
True
"""

from __future__ import annotations

import logging
import math
import re
import time
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

log = logging.getLogger("cascade.turn.chat_turn")

END_MARKS = frozenset({".", "?", "!", "...", "<|im_end|>", "<|eot_id|>", "<|end|>", "</s>"})
"""Next tokens (stripped of white space) that end the caller's message."""
CALLER_WORDS = 60
"""The caller's last words read (the end of a long turn is what tells whether it is finished)."""
CONTEXT_WORDS = 30
"""The bot's last words kept as context."""
_NOT_WORDS = re.compile(r"(?!\b-\b)[^\w\s']")
WARM_UP_TIMEOUT = 60.0
"""Seconds the first reading (:meth:`ChatTurnReader.load`) may take on a cold server."""
_FAILURES = (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError)
"""Punctuation, except a hyphen inside a word."""


class ChatTurnOptions(BaseModel):
    """Which server reads the transcript, and how long a reading may take."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str = "http://127.0.0.1:8431/v1"
    """The vLLM server's OpenAI base URL."""
    model: str | None = None
    """The served model name (``None``: the first one the server lists, asked in :meth:`load`)."""
    system: str = "You are a phone assistant. Answer briefly."
    """The system message the caller's words follow (short: its prefix stays in the server's cache)."""
    timeout: float = Field(default=0.6, gt=0.0)
    """Seconds a reading may take; a slower one counts as no reading (``None``)."""
    retry_after: float = Field(default=5.0, ge=0.0)
    """After a failed reading, seconds during which the server is not asked again."""


class ChatTurnReader:
    """P(the caller's message ends after these words), from the served chat model.

    A ``TextTurnModel``: call it with ``(text, bot_said)``; thread-safe enough for the
    turn-taker, which calls it from one worker thread at a time.
    """

    unfinished_below = 0.01
    """Below this the words are clearly unfinished (chosen on the dev set: 2% of turn ends and 59%
    of mid-turn pauses read below it; see ``EndpointingOptions.unfinished_text_probability``)."""

    def __init__(self, options: ChatTurnOptions | None = None) -> None:
        self.options = options or ChatTurnOptions()
        self._client: httpx.Client | None = None
        self._down_until = 0.0
        self._model = self.options.model

    def load(self) -> None:
        """Learn the served model's name if none was given, and read once so the server has the
        prompt's prefix cached before the first caller (that first reading may take seconds: it
        is given ``WARM_UP_TIMEOUT``). A server that does not answer is not an error here:
        readings answer ``None`` until it does."""
        try:
            if self._model is None:
                listed = httpx.get(self.options.base_url.rstrip("/") + "/models", timeout=10.0)
                listed.raise_for_status()
                self._model = str(listed.json()["data"][0]["id"])
            self._read(self.request("hello"), WARM_UP_TIMEOUT)
        except _FAILURES as exc:
            log.warning("end-of-turn reader: %s did not answer (%s)", self.options.base_url, exc)

    def request(self, text: str, said: str = "") -> dict[str, Any]:
        """The chat-completions body that reads ``text`` after the bot said ``said``."""
        words = " ".join(_NOT_WORDS.sub(" ", text).lower().split()[-CALLER_WORDS:])
        messages = [{"role": "system", "content": self.options.system}]
        said = " ".join(said.split()[-CONTEXT_WORDS:])
        if said:
            messages.append({"role": "assistant", "content": said})
        messages.append({"role": "user", "content": words})
        return {
            "model": self._model,
            "messages": messages,
            "max_tokens": 1,
            "temperature": 0.0,
            "logprobs": True,
            "top_logprobs": 20,
            "add_generation_prompt": False,
            "continue_final_message": True,
        }

    def __call__(self, text: str, said: str = "") -> float | None:
        """Same as :meth:`probability` (so the reader is a ``TextTurnModel``)."""
        return self.probability(text, said)

    def probability(self, text: str, said: str = "") -> float | None:
        """P(the message ends after ``text``); ``None`` without words or without an answer."""
        if not _NOT_WORDS.sub(" ", text).split() or time.monotonic() < self._down_until:
            return None
        if self._model is None:
            self.load()
            if self._model is None:
                self._down_until = time.monotonic() + self.options.retry_after
                return None
        try:
            alternatives = self._read(self.request(text, said), self.options.timeout)
        except _FAILURES as exc:
            self._down_until = time.monotonic() + self.options.retry_after
            log.warning("end-of-turn reading failed (%s); judging turns without it", exc)
            return None
        return end_probability(alternatives)

    def _read(self, body: dict[str, Any], timeout: float) -> dict[str, float]:
        """The next token's 20 likeliest alternatives (token -> logprob) for ``body``."""
        if self._client is None:
            self._client = httpx.Client()
        response = self._client.post(
            self.options.base_url.rstrip("/") + "/chat/completions", json=body, timeout=timeout
        )
        response.raise_for_status()
        top = response.json()["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
        return {entry["token"]: float(entry["logprob"]) for entry in top}

    def close(self) -> None:
        """Close the HTTP connection."""
        if self._client is not None:
            self._client.close()
            self._client = None


def end_probability(alternatives: dict[str, float]) -> float | None:
    """The probability mass of the message-ending tokens among ``alternatives`` (token ->
    logprob). Where none of them is listed, half the least likely listed one (an end is rarer
    than every listed token).

    >>> round(end_probability({"<|im_end|>": math.log(0.5), "?": math.log(0.2), " the": math.log(0.1)}), 2)
    0.7
    >>> end_probability({" the": math.log(0.5), " a": math.log(0.02)})
    0.01
    """
    if not alternatives:
        return None
    ends = [math.exp(lp) for token, lp in alternatives.items() if token.strip() in END_MARKS]
    if ends:
        return min(1.0, sum(ends))
    return math.exp(min(alternatives.values())) / 2
