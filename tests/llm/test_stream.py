"""The stream parser as plain function calls: what is said when, and which calls come out."""

from __future__ import annotations

import json

from openai.types.chat.chat_completion_chunk import (
    ChoiceDelta,
    ChoiceDeltaToolCall,
    ChoiceDeltaToolCallFunction,
)

from cascade.llm.stream import RoundParser
from cascade.llm.tools import ToolCall


def words(text: str) -> ChoiceDelta:
    return ChoiceDelta(content=text)


def call(index: int, name: str, arguments: dict[str, object], call_id: str | None = None) -> ChoiceDelta:
    function = ChoiceDeltaToolCallFunction(name=name, arguments=json.dumps(arguments))
    return ChoiceDelta(tool_calls=[ChoiceDeltaToolCall(index=index, id=call_id, function=function)])


def test_without_tools_every_word_is_said_as_it_comes() -> None:
    parser = RoundParser((), set())
    assert [parser.feed(words(w)) for w in ("Hello", " there.")] == ["Hello", " there."]
    late, result = parser.finish("llm-1")
    assert late == "" and result.text == "Hello there." and result.calls == []


def test_with_tools_text_is_held_until_it_is_clearly_speech() -> None:
    parser = RoundParser({"get_weather"}, set())
    assert parser.feed(words("Sunny")) == "Sunny"  # cannot be the start of a JSON call
    assert parser.feed(words(" today.")) == " today."
    assert parser.finish("llm-1")[1].text == "Sunny today."


def test_a_call_written_as_json_text_is_never_said() -> None:
    parser = RoundParser({"get_weather"}, set())
    text = '{"name": "get_weather", "arguments": {"city": "Rome"}}'
    assert [parser.feed(words(part)) for part in (text[:9], text[9:30], text[30:])] == ["", "", ""]
    late, result = parser.finish("llm-1")
    assert late == "" and result.text == ""
    assert result.calls == [ToolCall(id="llm-1-text-0", name="get_weather", arguments='{"city": "Rome"}')]


def test_text_still_undecided_at_the_end_is_said_then() -> None:
    parser = RoundParser({"get_weather"}, set())
    assert parser.feed(words("```")) == ""
    late, result = parser.finish("llm-1")
    assert late == "```" and result.text == "```" and result.calls == []


def test_server_parsed_calls_get_ids_and_a_repeat_ends_the_round() -> None:
    parser = RoundParser({"get_weather"}, {("get_weather", '{"city": "Oslo"}')})
    assert parser.feed(call(0, "get_weather", {"city": "Rome"})) == "" and not parser.repeated
    parser.feed(call(1, "get_weather", {"city": "Rome"}))
    assert parser.repeated  # the same call twice in one round
    assert [c.id for c in parser.finish("llm-2")[1].calls] == ["llm-2-call-0", "llm-2-call-1"]
    again = RoundParser({"get_weather"}, {("get_weather", '{"city": "Oslo"}')})
    again.feed(call(0, "get_weather", {"city": "Oslo"}, call_id="c7"))
    assert again.repeated  # a call an earlier round made
