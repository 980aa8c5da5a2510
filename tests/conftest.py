"""Shared test configuration: anyio on asyncio for every async test."""

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Run async tests on asyncio (the backend cascade supports)."""
    return "asyncio"
