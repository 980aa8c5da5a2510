"""Tools the LLM can call: typed Python functions with pydantic argument models.

>>> import anyio
>>> from pydantic import BaseModel, Field
>>> from cascade.llm import tool
>>> class WeatherArgs(BaseModel):
...     city: str = Field(description="City name, e.g. Paris")
>>> @tool(timeout=5.0, filler="Let me check the weather.")
... async def get_weather(args: WeatherArgs) -> str:
...     "Current weather in a city."
...     return f"Sunny in {args.city}"

The model is told the name, the docstring and the arguments' JSON schema; what it sends back is
validated before the function runs, and an argument that does not fit is reported to it:

>>> get_weather.schema()["function"]["description"]
'Current weather in a city.'
>>> get_weather.schema()["function"]["parameters"]["properties"]
{'city': {'description': 'City name, e.g. Paris', 'title': 'City', 'type': 'string'}}
>>> anyio.run(get_weather.invoke, get_weather.parse('{"city": "Paris"}'))
'Sunny in Paris'
>>> get_weather.parse('{"town": "Paris"}')
Traceback (most recent call last):
cascade.llm.tools.ToolArgumentsError: city: Field required

A function may also take plain typed parameters (``async def add(a: int, b: int)``); the argument
model is then built from its signature. The JSON schema sent to the model comes from the pydantic
model, the description from the docstring. Sync functions run in a worker thread. A parameter
annotated :class:`~cascade.llm.run_context.RunContext` is not described to the model: the session's
context is passed there (who is calling, per-session ``userdata``, ``say``, ``hang_up``):

>>> from cascade.llm import RunContext
>>> @tool
... async def book(args: WeatherArgs, ctx: RunContext) -> str:
...     "Book a table."
...     return f"Booked in {args.city} for session {ctx.session_id}."
>>> list(book.schema()["function"]["parameters"]["properties"]), book.takes_context
(['city'], True)
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, get_type_hints, overload

import anyio
from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from cascade.llm.run_context import RunContext, is_run_context
from cascade.stage import run_sync_cancellable

ToolFunction = Callable[..., Any]


class ToolArgumentsError(ValueError):
    """The model called a tool with arguments that do not fit its schema (sent back to it)."""


class Tool:
    """A callable the LLM may invoke, with its schema and execution policy."""

    def __init__(
        self,
        fn: ToolFunction,
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float = 10.0,
        cancellable: bool = True,
        filler: str | None = None,
    ) -> None:
        """Wrap ``fn``.

        ``timeout``: seconds (session clock) before the call is abandoned and the model is told
        so. ``cancellable=False``: a barge-in does not stop the call (it has side effects, like
        booking); it finishes and its result is kept in the conversation. ``filler``: what to say
        when the call takes long (default: the stage's ``filler_text``).
        """
        self.fn = fn
        self.name = name or fn.__name__
        self.description = (description or inspect.getdoc(fn) or "").strip()
        self.timeout = timeout
        self.cancellable = cancellable
        self.filler = filler
        self.args_model, self._model_param, self._context_param = _arguments_model(fn, self.name)

    def schema(self) -> dict[str, Any]:
        """The OpenAI ``tools`` entry for this tool."""
        parameters = self.args_model.model_json_schema()
        parameters.pop("title", None)
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": parameters},
        }

    def parse(self, arguments: str | dict[str, Any]) -> BaseModel:
        """Validate the model's arguments (a JSON string or dict); raise ToolArgumentsError."""
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError as exc:
                raise ToolArgumentsError(f"arguments are not valid JSON ({exc.msg})") from None
        if not isinstance(arguments, dict):
            raise ToolArgumentsError("arguments must be a JSON object")
        try:
            return self.args_model.model_validate(arguments)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors()
            )
            raise ToolArgumentsError(problems) from None

    @property
    def takes_context(self) -> bool:
        """Whether the function has a :class:`~cascade.llm.run_context.RunContext` parameter."""
        return self._context_param is not None

    async def invoke(self, args: BaseModel, context: RunContext[Any] | None = None) -> str:
        """Run the tool on validated ``args`` (and the session's ``context``, for a tool that
        takes one); the result as text for the model."""
        kwargs: dict[str, Any] = {}
        if self._context_param is not None:
            if context is None:
                raise TypeError(f"tool '{self.name}' takes a RunContext: pass invoke(args, context)")
            kwargs[self._context_param] = context
        if self._model_param is not None:
            kwargs[self._model_param] = args
        else:
            kwargs.update({k: getattr(args, k) for k in type(args).model_fields})
        call: Callable[[], Any] = lambda: self.fn(**kwargs)  # noqa: E731
        if inspect.iscoroutinefunction(self.fn):
            result = await call()
        else:
            result = await run_sync_cancellable(call)
            if inspect.isawaitable(result):
                result = await result
        return render_result(result)


def render_result(result: Any) -> str:
    """Text for a tool's return value: strings as is, models and data as JSON."""
    if isinstance(result, str):
        return result
    if isinstance(result, BaseModel):
        return result.model_dump_json()
    return json.dumps(result, ensure_ascii=False, default=str)


def _arguments_model(fn: ToolFunction, name: str) -> tuple[type[BaseModel], str | None, str | None]:
    """The pydantic model of ``fn``'s arguments, the parameter taking that model if it takes one,
    and the parameter taking the :class:`~cascade.llm.run_context.RunContext` if any."""
    signature = inspect.signature(fn)
    hints = get_type_hints(fn)
    params = list(signature.parameters.values())
    contexts = [p.name for p in params if is_run_context(hints.get(p.name))]
    if len(contexts) > 1:
        raise TypeError(f"tool '{name}': only one parameter may take the RunContext ({', '.join(contexts)})")
    context = contexts[0] if contexts else None
    params = [p for p in params if p.name != context]
    if len(params) == 1:
        annotation = hints.get(params[0].name)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return annotation, params[0].name, context
    fields: dict[str, Any] = {}
    for param in params:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(f"tool '{name}': *args/**kwargs cannot be described to the model")
        if param.name not in hints:
            raise TypeError(f"tool '{name}': parameter '{param.name}' needs a type annotation")
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (hints[param.name], default)
    model_name = "".join(part.title() for part in name.split("_")) + "Args"
    model = create_model(model_name, __config__=ConfigDict(extra="forbid"), **fields)
    return model, None, context


@overload
def tool(fn: ToolFunction, /) -> Tool: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float = 10.0,
    cancellable: bool = True,
    filler: str | None = None,
) -> Callable[[ToolFunction], Tool]: ...


def tool(
    fn: ToolFunction | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float = 10.0,
    cancellable: bool = True,
    filler: str | None = None,
) -> Tool | Callable[[ToolFunction], Tool]:
    """Decorator turning a function into a :class:`Tool` (with or without options)."""

    def wrap(function: ToolFunction) -> Tool:
        return Tool(
            function,
            name=name,
            description=description,
            timeout=timeout,
            cancellable=cancellable,
            filler=filler,
        )

    return wrap(fn) if fn is not None else wrap


def as_tools(items: Sequence[Tool | ToolFunction]) -> dict[str, Tool]:
    """Tools by name (plain functions are wrapped); duplicate names are an error."""
    tools: dict[str, Tool] = {}
    for item in items:
        wrapped = item if isinstance(item, Tool) else Tool(item)
        if wrapped.name in tools:
            raise ValueError(f"two tools are named '{wrapped.name}'; tool names must be unique")
        tools[wrapped.name] = wrapped
    return tools


# --- streamed tool-call deltas ------------------------------------------------------------------


@dataclass
class ToolCall:
    """One tool call the model made (assembled from streamed deltas)."""

    id: str
    name: str
    arguments: str = ""

    def message(self) -> dict[str, Any]:
        """The entry of an assistant message's ``tool_calls``."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }

    @property
    def key(self) -> tuple[str, str]:
        """Name and canonical arguments: two calls with the same key ask for the same thing."""
        value = loads_arguments(self.arguments)
        arguments = self.arguments.strip() if value is None else json.dumps(value, sort_keys=True)
        return self.name, arguments


def loads_arguments(text: str) -> Any:
    """A call's arguments as JSON data (``{}`` when empty, ``None`` when not JSON)."""
    try:
        return json.loads(text) if text.strip() else {}
    except ValueError:
        return None


def unique_calls(calls: list[ToolCall]) -> list[ToolCall]:
    """Drop exact duplicates within one round (small models repeat a call many times)."""
    seen: set[tuple[str, str]] = set()
    unique = []
    for call in calls:
        if call.key not in seen:
            seen.add(call.key)
            unique.append(call)
    return unique


def repeats(calls: list[ToolCall], seen: set[tuple[str, str]]) -> bool:
    """Whether a call repeats another of ``calls`` or one already ``seen`` (by :attr:`ToolCall.key`)."""
    keys = [call.key for call in calls]
    return len(set(keys)) < len(keys) or any(key in seen for key in keys)


@dataclass
class ToolCallAssembler:
    """Joins ``delta.tool_calls`` chunks (by ``index``) into whole calls."""

    _calls: dict[int, ToolCall] = field(default_factory=dict)

    def add(self, delta: Any) -> None:
        """Add one streamed tool-call delta (an OpenAI ``ChoiceDeltaToolCall``)."""
        call = self._calls.get(delta.index)
        if call is None:
            call = self._calls[delta.index] = ToolCall(id="", name="")
        if delta.id:
            call.id = delta.id
        function = delta.function
        if function is not None:
            if function.name:
                call.name += function.name
            if function.arguments:
                call.arguments += function.arguments

    def _whole(self, index: int) -> bool:
        """Whether call ``index`` is known to be whole: a later call has begun, or its arguments
        parse."""
        call = self._calls[index]
        return bool(call.name) and (index < max(self._calls) or _is_json_object(call.arguments))

    def complete(self) -> list[ToolCall]:
        """The calls known to be whole so far."""
        return [self._calls[index] for index in sorted(self._calls) if self._whole(index)]

    def calls(self, prefix: str, *, complete_only: bool = False) -> list[ToolCall]:
        """The assembled calls in index order (missing ids get ``prefix``-based ones); with
        ``complete_only``, not one cut off by an early end of the stream."""
        result = []
        for index in sorted(self._calls):
            call = self._calls[index]
            if complete_only and not self._whole(index):
                continue
            if not call.id:
                call.id = f"{prefix}-{index}"
            result.append(call)
        return result


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


@dataclass
class ToolOutcome:
    """What a tool call produced (``is_error`` when rejected, failed, timed out or cancelled)."""

    call: ToolCall
    result: str
    is_error: bool = False


async def with_clock_timeout(
    sleep: Callable[[float], Awaitable[None]], seconds: float, work: Callable[[], Awaitable[str]]
) -> str | None:
    """Run ``work``; ``None`` if ``sleep(seconds)`` (the session clock) ends first."""
    result: str | None = None
    async with anyio.create_task_group() as tg:

        async def watchdog() -> None:
            await sleep(seconds)
            tg.cancel_scope.cancel()

        tg.start_soon(watchdog)
        result = await work()
        tg.cancel_scope.cancel()
    return result
