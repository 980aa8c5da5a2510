"""The front door runs: the public API's docstring examples, the README's Python and the examples.

Light ones, and those that run a prepared model on a recording for about a second, run with the
unit tests. Those that run in real time or answer with the embedded vLLM (as
``tests/agent/test_agent_e2e.py`` uses it) are integration tests. Examples that read files run in a
scratch directory where ``examples/`` is the repository's and ``out/`` is new. Every module with a
``>>>`` example is in one of the lists below.
"""

from __future__ import annotations

import ast
import doctest
import importlib
import os
import re
import subprocess
import sys
from pathlib import Path
from types import CodeType
from typing import Any

import anyio
import pytest

ROOT = Path(__file__).parents[2]

LIGHT_DOCTESTS = [
    "cascade.errors",
    "cascade.readiness",
    "cascade.agent.config_sources",
    "cascade.apps.loading",
    "cascade.transports.http_health",
    "cascade.stage",
    "cascade.pipeline",
    "cascade.testing",
    "cascade.tts.chunker",
    "cascade.tts.normalize",
    "cascade.numbers",
    "cascade.turn.chat_turn",
    "cascade.turn.decider",
    "cascade.llm.chat",
    "cascade.llm.tools",
    "cascade.llm.run_context",
    "cascade.session_info",
    "cascade.agent.hooks",
    "cascade.agent.observer",
    "cascade.transports.webrtc_signaling",
    "cascade.metrics_export",
    "cascade.logs",
    "cascade.progress",
]
"""Modules whose docstring examples load no model (they build stages, they do not start them)."""

MODEL_DOCTESTS = [
    "cascade.asr",
    "cascade.tts",
    "cascade.tts.hibari",
    "cascade.turn.smart_turn",
    "cascade.turn.text_turn",
    "cascade.vad",
]
"""Modules whose examples load a prepared model and run it on ``examples/`` in about a second."""

REAL_TIME_DOCTESTS = ["cascade.asr.stage"]
"""Modules whose examples load a model and run a recording at its own pace (seconds)."""

LLM_DOCTESTS = ["cascade", "cascade.agent.agent", "cascade.llm"]
"""Modules whose examples talk to the embedded vLLM."""


def run_doctests(name: str) -> None:
    results = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert results.attempted, f"{name} has no docstring examples"
    assert not results.failed, f"{results.failed} docstring example(s) of {name} failed (see stdout)"


def readme_python() -> list[str]:
    """The README's ```python blocks."""
    return re.findall(r"^```python\n(.*?)^```", (ROOT / "README.md").read_text(), re.M | re.S)


def compile_block(source: str) -> CodeType:
    """A README block as written, top-level ``await`` included."""
    return compile(source, "README.md", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


def run_example(name: str, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """``python examples/<name>.py args...`` with this checkout's cascade."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, str(ROOT / "examples" / f"{name}.py"), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding the repository's ``examples/``."""
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def module_name(path: Path) -> str:
    """``cascade/asr/__init__.py`` -> ``cascade.asr``."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_every_docstring_example_is_run() -> None:
    listed = {*LIGHT_DOCTESTS, *MODEL_DOCTESTS, *REAL_TIME_DOCTESTS, *LLM_DOCTESTS}
    with_examples = {
        module_name(path) for path in (ROOT / "cascade").rglob("*.py") if ">>>" in path.read_text()
    }
    assert with_examples - listed == set(), "docstring examples that no test runs"


@pytest.mark.parametrize("module", LIGHT_DOCTESTS)
def test_docstring_examples_run(module: str) -> None:
    run_doctests(module)


@pytest.mark.parametrize("module", MODEL_DOCTESTS)
def test_model_docstring_examples_run(scratch: Path, module: str) -> None:
    run_doctests(module)


@pytest.mark.integration
@pytest.mark.parametrize("module", REAL_TIME_DOCTESTS)
def test_real_time_docstring_examples_run(scratch: Path, module: str) -> None:
    run_doctests(module)


def test_readme_python_blocks_compile() -> None:
    blocks = readme_python()
    assert blocks, "the README has no ```python block"
    for block in blocks:
        compile_block(block)


def test_parrot_example_runs(scratch: Path) -> None:
    done = run_example("parrot", "examples/question.wav", "out/parrot.wav", timeout=60)
    assert done.returncode == 0, done.stderr
    assert "turn 0: bot audio" in done.stdout
    assert (scratch / "out" / "parrot.wav").stat().st_size > 44


@pytest.mark.integration
def test_package_docstring_runs_the_voice_agent(vllm_server: Any, scratch: Path) -> None:
    run_doctests("cascade")
    assert (scratch / "out" / "reply.json").exists()


@pytest.mark.integration
@pytest.mark.parametrize("module", [m for m in LLM_DOCTESTS if m != "cascade"])
def test_llm_docstring_examples_run(vllm_server: Any, scratch: Path, module: str) -> None:
    run_doctests(module)


@pytest.mark.integration
def test_readme_using_it_runs(vllm_server: Any, scratch: Path) -> None:
    (block,) = [b for b in readme_python() if "VoiceAgent" in b]

    async def run() -> None:
        pending = eval(compile_block(block), {"__name__": "readme"})
        if pending is not None:
            await pending

    anyio.run(run)
    assert (scratch / "out" / "reply.json").exists()


@pytest.mark.integration
@pytest.mark.parametrize("example", ["minimal_agent", "tool_agent", "knowledge_agent"])
def test_agent_examples_run(vllm_server: Any, scratch: Path, example: str) -> None:
    reply = scratch / "out" / f"{example}.wav"
    done = run_example(example, "examples/question.wav", str(reply), timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    assert reply.with_suffix(".json").exists()
