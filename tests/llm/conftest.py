"""Fixtures of the LLM tests. ``vllm_server`` is reusable by other areas' integration tests:

    from tests.llm.conftest import vllm_server  # noqa: F401  (in your test module or conftest)

It starts the embedded vLLM once per test session (or reuses one already running on the port)
and stops it at the end if this session started it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cascade.llm.server import EmbeddedServer, ServerOptions, _group_alive, get_or_start_server


@pytest.fixture(scope="session")
def vllm_server() -> Iterator[EmbeddedServer]:
    """The real embedded vLLM (default model, 8K context), shared by the whole test session."""
    server = get_or_start_server(ServerOptions())
    pid = server.pid
    yield server
    if server.process is not None:  # we started it: stop all three processes
        server.stop()
        assert pid is not None and not _group_alive(pid), "vLLM processes left behind"
