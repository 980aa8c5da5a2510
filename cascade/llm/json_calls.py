"""Recognize tool calls that small models write as bare (or fenced) JSON instead of tags.

Qwen2.5-Coder 0.5B/1.5B answer a tool request with ``{"name": ..., "arguments": {...}}``,
sometimes inside a Markdown code fence or as a JSON list, where vLLM's ``hermes`` parser expects
``<tool_call>...</tool_call>``. :func:`to_hermes` rewrites such output (complete or still
streaming) into the tagged form, so the stock parser's streaming logic does the rest.

This module is stdlib-only on purpose: its source is embedded in the vLLM tool-parser plugin
file written next to the prepared model, which runs inside vLLM's venv (see
:func:`cascade.llm.prepare.write_tool_parser_plugin`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Literal

Kind = Literal["text", "maybe", "tool"]
"""``text``: ordinary content; ``maybe``: undecided, hold it back; ``tool``: a call."""

_START_TAG, _END_TAG = "<tool_call>", "</tool_call>"
_FENCE = re.compile(r"```[a-zA-Z]*[ \t]*\n?")
_NAME = re.compile(r'\{\s*"name"\s*:\s*"((?:[^"\\]|\\.)*)"')
_ARGUMENTS = re.compile(r'"(?:arguments|parameters)"\s*:')
_SEPARATORS = " \t\r\n,"
_DECODER = json.JSONDecoder()


def _could_become(prefix: str, target: str) -> bool:
    """True when ``prefix`` (whitespace ignored) is a beginning of ``target``."""
    squeezed = re.sub(r"\s+", "", prefix)
    return target.startswith(squeezed) or squeezed.startswith(target)


def _split_fence(text: str) -> tuple[Kind, str]:
    """Drop a leading Markdown fence; ``maybe`` while the fence itself is incomplete."""
    stripped = text.lstrip()
    if not stripped.startswith("```"):
        return ("maybe", "") if "```".startswith(stripped) and stripped else ("text", stripped)
    match = _FENCE.match(stripped)
    if match is None or (match.end() == len(stripped) and not stripped.endswith("\n")):
        return "maybe", ""
    return "text", stripped[match.end() :]


def _classify_object(body: str, offered: Collection[str]) -> Kind:
    """Decide from the first object's opening whether ``body`` is a call."""
    if not _could_become(body[:12], '{"name"'):
        return "text"
    match = _NAME.match(body)
    if match is None:
        return "maybe"
    if match.group(1) in offered:
        return "tool"
    # A name the request did not offer: only a call if it carries arguments (the stage then
    # answers it with an error); plain JSON data with a "name" key stays text.
    if _ARGUMENTS.search(body, match.end()):
        return "tool"
    try:
        _DECODER.raw_decode(body)
    except ValueError:
        return "maybe"
    return "text"


def to_hermes(text: str, offered: Collection[str] = ()) -> tuple[Kind, str]:
    """Classify model output and, for a call, rewrite it to ``<tool_call>`` form.

    ``offered`` are the names of the tools in the request. Returns ``(kind, text)``: for
    ``tool`` the rewritten text (complete calls closed with ``</tool_call>``, an unfinished one
    left open with the model's own formatting so streamed arguments can be diffed by length);
    otherwise the original text. Text after the last complete call (a closing fence) is dropped.
    """
    if _START_TAG in text:
        return "text", text
    fence_kind, body = _split_fence(text)
    if fence_kind == "maybe":
        return "maybe", text
    body = body.lstrip()
    in_list = body.startswith("[")
    if in_list:
        body = body[1:].lstrip()
    if not body:
        return "maybe", text
    kind = _classify_object(body, offered)
    if kind != "tool":
        return kind, text
    calls: list[str] = []
    position = 0
    while position < len(body) and body[position] == "{":
        try:
            _, end = _DECODER.raw_decode(body, position)
        except ValueError:
            calls.append(_START_TAG + body[position:])
            return "tool", "".join(calls)
        calls.append(_START_TAG + body[position:end] + _END_TAG)
        position = end
        while position < len(body) and body[position] in _SEPARATORS:
            position += 1
    return "tool", "".join(calls)
