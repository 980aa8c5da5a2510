"""Shared test configuration: anyio on asyncio for every async test."""

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Run async tests on asyncio (the backend cascade supports)."""
    return "asyncio"


# the real embedded vLLM, once per test session, for every area's integration tests
from tests.llm.conftest import vllm_server  # noqa: E402, F401
