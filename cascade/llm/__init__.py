"""The LLM stage: streaming chat from an OpenAI-compatible server (vLLM), tools, context.

:class:`ChatLLM` answers each caller turn (an ``EndOfTurn``) with a streamed reply, calling tools
when the model asks. Without ``base_url`` it uses the embedded vLLM (``cascade llm serve``), started
on demand:

>>> import anyio
>>> from cascade.clock import RealClock
>>> from cascade.frames import EndOfTurn, LLMResponseEnded, ToolCallRequest, ToolCallResult
>>> from cascade.llm import ChatLLM, ContextOptions, tool
>>> from cascade.testing import run_stages
>>> @tool
... def get_weather(city: str) -> str:
...     "Get the current weather for a city."
...     return f"It is sunny and 21 degrees Celsius in {city}."
>>> context = ContextOptions(system_prompt="You are a voice assistant. Use the tools to answer.")
>>> llm = ChatLLM(tools=[get_weather], context=context, temperature=0.0)
>>> async def ask(question):
...     turn = EndOfTurn(pts=0.1, text=question)
...     return await run_stages([llm], [turn], clock=RealClock(), tail=0.1)
>>> result = anyio.run(ask, "What is the weather in Paris?")
>>> [(call.name, call.arguments) for call in result.of(ToolCallRequest)]
[('get_weather', {'city': 'Paris'})]
>>> [outcome.result for outcome in result.of(ToolCallResult)]
['It is sunny and 21 degrees Celsius in Paris.']
>>> reply = result.of(LLMResponseEnded)[0].text  # e.g. 'Paris is sunny with 21 degrees Celsius.'
>>> "21" in reply
True
"""

from cascade.llm.chat import ChatLLM, ChatLLMOptions
from cascade.llm.context import ContextOptions, ContextOverflowError, Conversation
from cascade.llm.run_context import CallControlUnavailable, RunContext
from cascade.llm.server import EmbeddedServer, ServerOptions, get_or_start_server, stop_server
from cascade.llm.tools import Tool, tool

__all__ = [
    "CallControlUnavailable",
    "ChatLLM",
    "ChatLLMOptions",
    "ContextOptions",
    "ContextOverflowError",
    "Conversation",
    "EmbeddedServer",
    "RunContext",
    "ServerOptions",
    "Tool",
    "get_or_start_server",
    "stop_server",
    "tool",
]
