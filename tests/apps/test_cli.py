"""The command line's error boundary and ``cascade config show``, run as a user runs them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from cascade.testing.sip_peers.ports import free_port_both

ROOT = Path(__file__).resolve().parents[2]


def cascade(
    *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """``cascade ARGS`` in a subprocess, with this checkout's package."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    environment.pop("CASCADE_CONFIG", None)
    command = [sys.executable, "-m", "cascade.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, env=environment, cwd=cwd, timeout=120)


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single line an error the user can fix prints (exit status 2, no traceback)."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("cascade: error:")]
    return line


def test_a_bad_environment_value_stops_the_phone_before_anything_starts() -> None:
    result = cascade("phone", env={"CASCADE_LLM__TEMPERATURE": "hot"})
    assert one_error_line(result) == (
        "cascade: error: config error: llm.temperature = 'hot' (from env CASCADE_LLM__TEMPERATURE): "
        "Input should be a valid number, unable to parse string as a number"
    )


def test_a_typo_in_the_config_file_names_the_file(tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    config.write_text("[llm]\ntemprature = 0.5\n")
    assert one_error_line(cascade("config", "show", "--config", str(config))) == (
        f"cascade: error: config error: unknown setting 'llm.temprature' (from file {config}): "
        "check its spelling; `cascade config show` lists every setting"
    )
    missing = tmp_path / "missing.toml"
    assert one_error_line(cascade("demo", "--config", str(missing))) == (
        f"cascade: error: config file not found: {missing} (check --config or CASCADE_CONFIG)"
    )


def test_a_speech_server_without_its_url_is_refused_before_models_load() -> None:
    result = cascade("talk", "examples/question.wav", env={"CASCADE_TTS__ENGINE": "openai"})
    assert one_error_line(result) == (
        "cascade: error: config error: tts = {'engine': 'openai'} (from env CASCADE_TTS__ENGINE): "
        "Value error, engine 'openai' needs base_url (the speech server's /v1 URL)"
    )
    assert "preparing" not in result.stdout


def test_a_missing_wav_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope.wav"
    assert one_error_line(cascade("talk", str(missing))) == f"cascade: error: audio file not found: {missing}"


def test_a_taken_sip_port_is_one_line() -> None:
    port = free_port_both()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", port))
        result = cascade("phone", "--port", str(port))
    assert one_error_line(result) == (
        "cascade: error: cannot listen: address already in use "
        "(another process holds the port: stop it or pick another port)"
    )


def test_a_factory_that_does_not_import_is_one_line_and_debug_shows_the_traceback() -> None:
    result = cascade("phone", "--factory", "no_such_module:make")
    assert one_error_line(result) == (
        "cascade: error: phone.factory = 'no_such_module:make': cannot import no_such_module: "
        "No module named 'no_such_module'"
    )
    debug = cascade("--debug", "phone", "--factory", "no_such_module:make")
    assert debug.returncode == 2 and "Traceback (most recent call last)" in debug.stderr


def test_config_show_says_where_each_value_came_from(tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    config.write_text('[llm]\nmodel = "from-file"\napi_key = "sk-secret"\n[phone.sip]\nport = 5090\n')
    result = cascade("config", "show", "--config", str(config), env={"CASCADE_TTS__SPEED": "1.5"})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert f'llm.model = "from-file"  # file {config}' in lines
    assert f"phone.sip.port = 5090  # file {config}" in lines
    assert "tts.speed = 1.5  # env CASCADE_TTS__SPEED" in lines
    assert 'asr.model = "tiny.en"  # default' in lines
    assert f'llm.api_key = "********"  # file {config}' in lines
    assert "sk-secret" not in result.stdout
    changed = cascade("config", "show", "--config", str(config), "--changed").stdout.splitlines()
    assert len(changed) == 3


@pytest.mark.parametrize("app", ["talk", "phone", "demo"])
def test_every_app_reads_the_same_config_file(app: str, tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    config.write_text("[llm]\ntemperature = 9\n")
    args = [app, "--config", str(config)] + (["examples/question.wav"] if app == "talk" else [])
    assert one_error_line(cascade(*args)) == (
        f"cascade: error: config error: llm.temperature = 9 (from file {config}): "
        "Input should be less than or equal to 2"
    )
