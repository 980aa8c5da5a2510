"""Tool declarations: schemas, argument validation, invocation, streamed-call assembly."""

from __future__ import annotations

from types import SimpleNamespace

import anyio
import pytest
from pydantic import BaseModel, Field

from cascade.llm.tools import Tool, ToolArgumentsError, ToolCallAssembler, as_tools, tool, with_clock_timeout


class WeatherArgs(BaseModel):
    city: str = Field(description="City name")
    unit: str = "celsius"


@tool(timeout=2.0, filler="Checking the weather.")
async def get_weather(args: WeatherArgs) -> str:
    """Current weather in a city."""
    return f"Sunny in {args.city} ({args.unit})"


def add(a: int, b: int = 1) -> dict[str, int]:
    """Add two numbers."""
    return {"sum": a + b}


def test_schema_from_model_and_docstring() -> None:
    schema = get_weather.schema()
    assert schema["function"]["name"] == "get_weather"
    assert schema["function"]["description"] == "Current weather in a city."
    params = schema["function"]["parameters"]
    assert params["required"] == ["city"] and params["properties"]["city"]["description"] == "City name"
    assert get_weather.timeout == 2.0 and get_weather.filler == "Checking the weather."


def test_schema_from_signature() -> None:
    params = Tool(add).schema()["function"]["parameters"]
    assert set(params["properties"]) == {"a", "b"} and params["required"] == ["a"]


@pytest.mark.anyio
async def test_invoke_async_and_sync() -> None:
    assert await get_weather.invoke(get_weather.parse('{"city": "Oslo"}')) == "Sunny in Oslo (celsius)"
    plain = Tool(add)
    assert await plain.invoke(plain.parse({"a": 2, "b": 3})) == '{"sum": 5}'


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ("{bad json", "not valid JSON"),
        ("[1]", "JSON object"),
        ('{"unit": "kelvin"}', "city"),
        ('{"city": 3}', "city"),
    ],
)
def test_invalid_arguments_are_explained(arguments: str, message: str) -> None:
    with pytest.raises(ToolArgumentsError, match=message):
        get_weather.parse(arguments)


def test_signature_tools_reject_unknown_arguments() -> None:
    with pytest.raises(ToolArgumentsError, match="c"):
        Tool(add).parse({"a": 1, "c": 2})


def test_bad_declarations() -> None:
    def untyped(x):  # type: ignore[no-untyped-def]
        return x

    with pytest.raises(TypeError, match="type annotation"):
        Tool(untyped)
    with pytest.raises(ValueError, match="unique"):
        as_tools([get_weather, get_weather])


def test_assembler_joins_deltas_by_index() -> None:
    assembler = ToolCallAssembler()

    def delta(index: int, id: str | None = None, name: str | None = None, args: str | None = None) -> object:
        return SimpleNamespace(index=index, id=id, function=SimpleNamespace(name=name, arguments=args))

    for d in [
        delta(0, "a", "get_weather", ""),
        delta(1, None, "add"),
        delta(0, args='{"ci'),
        delta(1, args="{}"),
    ]:
        assembler.add(d)
    assembler.add(delta(0, args='ty": "Rome"}'))
    calls = assembler.calls("r1")
    assert [(c.id, c.name, c.arguments) for c in calls] == [
        ("a", "get_weather", '{"city": "Rome"}'),
        ("r1-1", "add", "{}"),
    ]


@pytest.mark.anyio
async def test_clock_timeout() -> None:
    async def slow() -> str:
        await anyio.sleep(5)
        return "late"

    async def fast() -> str:
        return "ok"

    assert await with_clock_timeout(anyio.sleep, 0.05, slow) is None
    assert await with_clock_timeout(anyio.sleep, 5, fast) == "ok"
