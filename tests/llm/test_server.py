"""The launcher's command line, KV sizing, pidfile and reuse logic (no vLLM needed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cascade.llm.models import MODELS, get_model_spec
from cascade.llm.prepare import PLUGIN_FILE, write_tool_parser_plugin
from cascade.llm.server import EmbeddedServer, ServerError, ServerOptions, _kv_cache_gib, server_command
from cascade.testing.fake_openai import FakeOpenAI


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CASCADE_CACHE", str(tmp_path))
    model = tmp_path / "models" / "llm" / "qwen-coder-0.5b"
    model.mkdir(parents=True)
    config = {
        "hidden_size": 896,
        "num_attention_heads": 14,
        "num_hidden_layers": 24,
        "num_key_value_heads": 2,
    }
    (model / "config.json").write_text(json.dumps(config))
    return tmp_path


def test_cpu_command(cache: Path) -> None:
    command, env = server_command(ServerOptions(device="cpu", port=9123, max_model_len=4096))
    assert command[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    joined = " ".join(command)
    assert "--port 9123" in joined and "--max-model-len 4096" in joined and "--enforce-eager" in joined
    assert "--tool-call-parser cascade_json" in joined and PLUGIN_FILE in joined
    assert env["HF_HUB_OFFLINE"] == "1" and env["VLLM_CPU_KVCACHE_SPACE"] == "1"
    assert "libiomp5.so" in env["LD_PRELOAD"] or env["LD_PRELOAD"] == "" or "tcmalloc" in env["LD_PRELOAD"]
    assert "--hf-overrides" not in command


def test_long_context_enables_yarn_and_sizes_kv(cache: Path) -> None:
    command, env = server_command(ServerOptions(device="cpu", max_model_len=131072))
    overrides = json.loads(command[command.index("--hf-overrides") + 1])
    assert overrides["max_position_embeddings"] == 131072
    assert (
        overrides["rope_parameters"]["rope_type"] == "yarn" and overrides["rope_parameters"]["factor"] == 4.0
    )
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "2"  # 12 KiB/token * 128K * 1.1 -> 2 GiB


def test_kv_cache_size(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "hidden_size": 4096,
                "num_attention_heads": 32,
                "num_hidden_layers": 32,
                "num_key_value_heads": 8,
            }
        )
    )
    assert _kv_cache_gib(config, 32768) == 5  # 128 KiB/token


def test_gpu_command_uses_vllm_serve() -> None:
    command, _ = server_command(ServerOptions(device="gpu", gpu_model="org/big", max_model_len=131072))
    assert command[1:3] == ["serve", "org/big"] and "--tool-call-parser" in command and "hermes" in command


def test_unknown_model_is_explained() -> None:
    with pytest.raises(ValueError, match=r"unknown embedded model 'llama-9'.*qwen-coder-0\.5b"):
        get_model_spec("llama-9")
    assert set(MODELS) >= {"qwen-coder-0.5b", "qwen-coder-1.5b", "smollm2-135m"}


def test_plugin_file_is_self_contained(tmp_path: Path) -> None:
    """The plugin must load without cascade (inside vLLM's venv): check its json_calls part alone."""
    path = write_tool_parser_plugin(tmp_path)
    source = path.read_text()
    assert "import cascade" not in source and "from cascade" not in source
    logic = source.split("# --- vLLM adapter")[0]
    probe = logic + '\nprint(to_hermes(\'{"name": "f", "arguments": {}}\', {\'f\'})[0])\n'
    out = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "tool"


@pytest.mark.anyio
async def test_reuses_a_healthy_server_on_the_port(cache: Path) -> None:
    async with FakeOpenAI(model="qwen-coder-0.5b") as fake:
        server = EmbeddedServer(ServerOptions(device="cpu", port=fake.port)).start()
        assert server.process is None and server.base_url == fake.base_url
        server.stop()  # not ours: nothing to stop


@pytest.mark.anyio
async def test_port_serving_another_model_is_an_error(cache: Path) -> None:
    async with FakeOpenAI(model="other") as fake:
        with pytest.raises(ServerError, match=r"already serves \['other'\].*cascade llm stop"):
            EmbeddedServer(ServerOptions(device="cpu", port=fake.port)).start()
