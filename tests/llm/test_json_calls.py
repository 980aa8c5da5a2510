"""Recognizing tool calls written as bare or fenced JSON (the vLLM plugin's core)."""

from __future__ import annotations

import json

import pytest

from cascade.llm.json_calls import to_hermes

OFFERED = {"get_weather", "book"}
CALL = '{"name": "get_weather", "arguments": {"city": "Paris"}}'


@pytest.mark.parametrize(
    "text",
    [
        "Hello there.",
        "Sure, it is sunny.",
        '{"answer": 42}',
        "```python\nprint(1)\n```",
        '{"name": "Bob", "age": 3}',
    ],
)
def test_plain_text_stays_text(text: str) -> None:
    assert to_hermes(text, OFFERED) == ("text", text)


@pytest.mark.parametrize("prefix", ["", "  ", "`", "```", "```json", "{", '{"na', '{"name": "Bob"'])
def test_undecided_prefixes_are_held_back(prefix: str) -> None:
    assert to_hermes(prefix, OFFERED)[0] == "maybe"


@pytest.mark.parametrize("wrap", ["{}", "\n{}\n", "```json\n{}\n```", "```\n{}```", "[{}]"])
def test_complete_call_is_tagged(wrap: str) -> None:
    kind, text = to_hermes(wrap.replace("{}", CALL), OFFERED)
    assert kind == "tool"
    assert text == f"<tool_call>{CALL}</tool_call>"


def test_streaming_prefixes_keep_model_formatting() -> None:
    """Every prefix of a streamed call maps to a prefix-compatible tagged text (args diffed by length)."""
    full = "```json\n" + CALL + "\n```"
    previous = ""
    for end in range(len(full) + 1):
        kind, text = to_hermes(full[:end], OFFERED)
        if kind == "tool":
            body = text.removesuffix("</tool_call>")
            assert body.startswith(previous.removesuffix("</tool_call>")[: len(body)])
            previous = text
    assert previous == f"<tool_call>{CALL}</tool_call>"


def test_several_calls_and_lists() -> None:
    second = '{"name": "book", "arguments": {"day": "monday"}}'
    kind, text = to_hermes(f"{CALL}\n{second}", OFFERED)
    assert kind == "tool"
    bodies = [part.removesuffix("</tool_call>") for part in text.split("<tool_call>")[1:]]
    assert [json.loads(body)["name"] for body in bodies] == ["get_weather", "book"]
    kind, text = to_hermes(f"[{CALL}, {second[:20]}", OFFERED)
    assert kind == "tool" and text.endswith(second[:20]) and text.count("<tool_call>") == 2


def test_unoffered_tool_with_arguments_is_still_a_call() -> None:
    """The stage must see (and reject) an invented tool instead of speaking its JSON."""
    kind, _ = to_hermes('{"name": "launch_rocket", "arguments": {}}', OFFERED)
    assert kind == "tool"


def test_tagged_output_is_left_to_hermes() -> None:
    text = f"<tool_call>{CALL}</tool_call>"
    assert to_hermes(text, OFFERED) == ("text", text)
