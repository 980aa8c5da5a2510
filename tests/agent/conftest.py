"""Agent tests share the LLM area's session-wide embedded vLLM fixture."""

from tests.llm.conftest import vllm_server  # noqa: F401
