"""Reading one streamed round of an OpenAI-compatible chat reply: words to say, calls to run.

:class:`RoundParser` is fed the stream's deltas one by one and says, for each, what may be spoken
now; at the end it hands over the round's tool calls. No I/O: the client reads the stream, the
stage speaks. Small models complicate this in two ways, both handled here:

* they may write a call as JSON text instead of the server parsing it: with tools configured,
  text is held back until it is clear whether it is speech or such a call (:func:`to_hermes`);
* they may write the same call again and again for hundreds of tokens: the round ends at the
  first repeat (:attr:`RoundParser.repeated`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Literal

from openai.types.chat.chat_completion_chunk import ChoiceDelta

from cascade.llm.json_calls import to_hermes
from cascade.llm.tools import ToolCall, ToolCallAssembler, loads_arguments, repeats

_TAGGED_CALL = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)


@dataclass
class Round:
    """What one request produced."""

    text: str = ""
    """The words spoken in this round (empty when it held only calls)."""
    calls: list[ToolCall] = field(default_factory=list)
    """The calls the model made, in order."""


class RoundParser:
    """Sorts the deltas of one streamed request into words to say and tool calls.

    ``tools``: names of the configured tools (with none, every word is speech at once).
    ``seen``: the calls earlier rounds of this reply made (by :attr:`ToolCall.key`).
    """

    def __init__(self, tools: Collection[str], seen: set[tuple[str, str]]) -> None:
        self._tools = tools
        self._seen = seen
        self._assembler = ToolCallAssembler()
        self._mode: Literal["deciding", "speaking", "calls"] = "deciding" if tools else "speaking"
        self.text = ""
        """All text the model wrote in this round."""
        self.repeated = False
        """The model wrote a call again: the round is over (stop reading the stream)."""

    def feed(self, delta: ChoiceDelta) -> str:
        """Take one delta; return the words to say now (often none)."""
        for call_delta in delta.tool_calls or ():
            self._assembler.add(call_delta)
        if delta.tool_calls and repeats(self._assembler.complete(), self._seen):
            self.repeated = True
            return ""
        if not delta.content:
            return ""
        self.text += delta.content
        if self._mode == "deciding":
            kind, _ = to_hermes(self.text, self._tools)
            if kind == "text":
                self._mode = "speaking"
                return self.text
            if kind == "tool":
                self._mode = "calls"
            return ""
        return delta.content if self._mode == "speaking" else ""

    def finish(self, prefix: str) -> tuple[str, Round]:
        """The words still to say (held-back text that turned out to be speech) and the round.

        Calls get ids from ``prefix`` where the server gave none; after a repeat, a call the
        stream cut off is left out.
        """
        calls = self._assembler.calls(f"{prefix}-call", complete_only=self.repeated)
        late = ""
        if self._mode != "speaking" and self.text:
            kind, tagged = to_hermes(self.text, self._tools)
            if kind == "tool" or not self._tools:
                calls += text_calls(tagged, f"{prefix}-text")
            if kind != "tool" and (kind == "maybe" or not self._tools):
                late = self.text
                self._mode = "speaking"
        spoken = self.text if self._mode == "speaking" else ""
        return late, Round(text=spoken, calls=calls)


def text_calls(tagged: str, prefix: str) -> list[ToolCall]:
    """Calls written as text (``<tool_call>{...}</tool_call>``, as :func:`to_hermes` returns)."""
    calls = []
    for index, body in enumerate(_TAGGED_CALL.findall(tagged)):
        data = loads_arguments(body)
        if isinstance(data, dict) and isinstance(data.get("name"), str):
            arguments = data.get("arguments", data.get("parameters", {}))
            text = arguments if isinstance(arguments, str) else json.dumps(arguments)
            calls.append(ToolCall(id=f"{prefix}-{index}", name=data["name"], arguments=text))
    return calls
