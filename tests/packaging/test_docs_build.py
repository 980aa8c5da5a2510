"""The documentation site builds with no warning, and says what the README says.

``mkdocs build --strict`` turns every warning (a broken link, a cross-reference the API reference
cannot resolve, a docstring mkdocstrings cannot parse) into a failure. It needs the ``docs`` extra,
which ``scripts/setup.sh test`` installs.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).parents[2]


def first_bash_block(path: Path) -> str:
    match = re.search(r"^```bash\n(.*?)^```", path.read_text(), re.M | re.S)
    assert match, f"{path} has no bash block"
    return match.group(1)


def rst_extension() -> ModuleType:
    """``docs/_ext/rst_docstrings.py``, the griffe extension mkdocs.yml loads."""
    spec = importlib.util.spec_from_file_location(
        "rst_docstrings", ROOT / "docs" / "_ext" / "rst_docstrings.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_give_the_readme_commands() -> None:
    assert first_bash_block(ROOT / "docs" / "index.md") == first_bash_block(ROOT / "README.md")


def test_docstrings_become_markdown() -> None:
    pytest.importorskip("griffe", reason="the docs extra is not installed")
    to_markdown = rst_extension().to_markdown
    text = "See :class:`~cascade.agent.VoiceAgent` and :mod:`cascade`::\n\n  x = 1\n\n>>> [1]\n[1]\n\nafter"
    assert to_markdown(text).splitlines() == [
        "See `VoiceAgent` and `cascade`:",
        "",
        "```",
        "x = 1",
        "```",
        "",
        "```pycon",
        ">>> [1]",
        "[1]",
        "```",
        "",
        "after",
    ]


@pytest.mark.integration
def test_site_builds_strictly(tmp_path: Path) -> None:
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's end-of-life banner, not a build warning
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert "No module named mkdocs" not in output, "install the docs extra: scripts/setup.sh test"
    assert result.returncode == 0, output[-5000:]
    assert not [line for line in output.splitlines() if line.startswith("WARNING")], output[-5000:]
    core = (site / "reference" / "core" / "index.html").read_text()
    assert "cascade.pipeline" in core and "PipelineTypeError" in core
    for page in (site / "reference").rglob("*.html"):
        text = page.read_text()
        assert ":class:`" not in text and ":meth:`" not in text, f"a Sphinx role left in {page}"
