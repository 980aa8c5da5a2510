"""The LLM stage: streaming chat from an OpenAI-compatible server (vLLM), tools, context.

>>> from cascade.llm import ChatLLM, tool
>>> llm = ChatLLM(base_url="http://127.0.0.1:8000/v1", tools=[get_weather])

Without ``base_url`` the stage uses the embedded vLLM (``cascade llm serve``), started on demand.
"""

from cascade.llm.chat import ChatLLM, ChatLLMOptions
from cascade.llm.context import ContextOptions, ContextOverflowError, Conversation
from cascade.llm.server import EmbeddedServer, ServerOptions, get_or_start_server, stop_server
from cascade.llm.tools import Tool, tool

__all__ = [
    "ChatLLM",
    "ChatLLMOptions",
    "ContextOptions",
    "ContextOverflowError",
    "Conversation",
    "EmbeddedServer",
    "ServerOptions",
    "Tool",
    "get_or_start_server",
    "stop_server",
    "tool",
]
