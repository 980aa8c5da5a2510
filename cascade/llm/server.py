"""The embedded vLLM server: launch, health wait, reuse across runs, clean shutdown.

On CPU it serves a model prepared from PyPI (:mod:`cascade.llm.prepare`) from the cached venv,
with tcmalloc and Intel OpenMP preloaded (several times faster decoding) and our tool-parser
plugin. On a GPU machine it runs ``vllm`` from the current environment with a bigger model.

The server runs in its own process group (API server, engine core and worker), is recorded in
a pidfile and reused by later runs on the same port, so only the first start costs ~30 s::

    server = get_or_start_server()         # blocking; async code: await anyio.to_thread...
    llm = ChatLLM(ChatLLMOptions(base_url=server.base_url, model=server.model_name))
    ...
    server.stop()                          # only stops a server this process started
"""

from __future__ import annotations

import contextlib
import ctypes.util
import json
import logging
import math
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from cascade.errors import CascadeError
from cascade.llm.models import DEFAULT_CONTEXT, DEFAULT_GPU_MODEL, DEFAULT_MODEL, DEFAULT_PORT, get_model_spec
from cascade.llm.prepare import PLUGIN_FILE, TOOL_PARSER, model_dir, prepare_model, venv_python
from cascade.paths import cache_dir
from cascade.progress import progress

log = logging.getLogger("cascade.llm.server")


class ServerError(CascadeError, RuntimeError):
    """The embedded server could not be started or reached; the message says what to do."""


class ServerOptions(BaseModel):
    """How to run the embedded vLLM server. Defaults suit a small CPU machine."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = DEFAULT_MODEL
    """CPU: a prepared PyPI model name (see :data:`cascade.llm.models.MODELS`)."""
    gpu_model: str = DEFAULT_GPU_MODEL
    """GPU: a model id or local path vLLM loads (served with the stock ``hermes`` tool parser)."""
    device: Literal["auto", "cpu", "gpu"] = "auto"
    """``auto`` picks ``gpu`` when ``nvidia-smi`` finds a GPU."""
    host: str = "127.0.0.1"
    port: int = Field(default=DEFAULT_PORT, ge=1, le=65535)
    max_model_len: int = Field(default=DEFAULT_CONTEXT, ge=512)
    """Context length served; above the model's native length (32K for Qwen) YaRN is enabled."""
    kv_cache_gib: int | None = Field(default=None, ge=1)
    """CPU KV-cache size in GiB; default: enough for one full-length request."""
    reserved_cpus: int = Field(default=1, ge=0)
    """CPU cores kept off vLLM's worker (``VLLM_CPU_NUM_OF_RESERVED_CPU``). One keeps a core for
    the audio path (VAD, Whisper, turn-taking, TTS) on the same machine: on 2 cores the model then
    decodes ~9 instead of ~15 tokens/s, but voice-to-voice latency is lower because ASR and TTS
    are not starved. Use 0 when the LLM has the machine to itself."""
    dtype: str = "bfloat16"
    startup_timeout: float = 600.0
    """Seconds to wait for ``/health`` before giving up."""
    extra_args: tuple[str, ...] = ()
    """More ``vllm`` command-line arguments, appended as is."""


def gpu_available() -> bool:
    """True when an NVIDIA GPU answers ``nvidia-smi``."""
    if shutil.which("nvidia-smi") is None:
        return False
    return subprocess.run(["nvidia-smi", "-L"], capture_output=True, check=False).returncode == 0


def _kv_cache_gib(config_path: Path, max_len: int) -> int:
    """GiB of KV cache for one ``max_len`` request (bf16 keys and values, 10 % slack)."""
    config = json.loads(config_path.read_text())
    head_dim = config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]
    per_token = 2 * config["num_hidden_layers"] * config["num_key_value_heads"] * head_dim * 2
    return max(1, math.ceil(int(max_len) * int(per_token) * 1.1 / 2**30))


def _preload() -> str:
    """tcmalloc and the venv's Intel OpenMP, when present (LD_PRELOAD)."""
    libraries = []
    tcmalloc = ctypes.util.find_library("tcmalloc_minimal")
    if tcmalloc:
        for folder in ("/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu"):
            if Path(folder, tcmalloc).exists():
                libraries.append(str(Path(folder, tcmalloc)))
                break
    else:
        log.warning("libtcmalloc-minimal4 not installed: vLLM decodes several times slower on CPU")
    iomp = venv_python().parent.parent / "lib" / "libiomp5.so"
    if iomp.exists():
        libraries.append(str(iomp))
    return ":".join(libraries)


def server_command(options: ServerOptions) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that launch the server for ``options``."""
    common = [
        "--host",
        options.host,
        "--port",
        str(options.port),
        "--max-model-len",
        str(options.max_model_len),
        "--enable-auto-tool-choice",
    ]
    env = dict(os.environ)
    device = options.device
    if device == "auto":
        device = "gpu" if gpu_available() else "cpu"
    if device == "gpu":
        command = [shutil.which("vllm") or "vllm", "serve", options.gpu_model, *common]
        command += ["--tool-call-parser", "hermes", *options.extra_args]
        return command, env
    spec = get_model_spec(options.model)
    directory = model_dir(options.model)
    kv = options.kv_cache_gib or _kv_cache_gib(directory / "config.json", options.max_model_len)
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        VLLM_CPU_KVCACHE_SPACE=str(kv),
        VLLM_CPU_NUM_OF_RESERVED_CPU=str(options.reserved_cpus),
        LD_PRELOAD=_preload(),
    )
    command = [
        str(venv_python()),
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        str(directory),
        "--served-model-name",
        options.model,
        "--dtype",
        options.dtype,
        "--enforce-eager",
        *common,
        "--tool-parser-plugin",
        str(directory / PLUGIN_FILE),
        "--tool-call-parser",
        TOOL_PARSER,
    ]
    if options.max_model_len > spec.native_context:
        factor = options.max_model_len / spec.native_context
        rope = {
            "rope_type": "yarn",
            "factor": factor,
            "original_max_position_embeddings": spec.native_context,
            "rope_theta": 1000000.0,
        }
        overrides = {"max_position_embeddings": options.max_model_len, "rope_parameters": rope}
        command += ["--hf-overrides", json.dumps(overrides)]
    return [*command, *options.extra_args], env


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class EmbeddedServer:
    """A vLLM OpenAI-compatible server on ``options.host:options.port``."""

    def __init__(self, options: ServerOptions | None = None) -> None:
        self.options = options or ServerOptions()
        self.process: subprocess.Popen[bytes] | None = None
        self.pid: int | None = None
        """Process (group) id of the server, when known (ours or from the pidfile)."""
        self.model_name = self.options.model
        """The name requests use (``model``)."""

    @property
    def base_url(self) -> str:
        """OpenAI base URL (``http://host:port/v1``)."""
        return f"http://{self.options.host}:{self.options.port}/v1"

    @property
    def pidfile(self) -> Path:
        """Where the running server of this port is recorded."""
        return cache_dir("vllm", "run") / f"server-{self.options.port}.json"

    @property
    def log_path(self) -> Path:
        """The server's log file."""
        return cache_dir("logs") / f"vllm-{self.options.port}.log"

    def served_models(self) -> list[str] | None:
        """Model names served on the port, or ``None`` when nothing healthy answers."""
        root = f"http://{self.options.host}:{self.options.port}"
        try:
            with httpx.Client(timeout=2.0, trust_env=False) as client:
                if client.get(f"{root}/health").status_code != 200:
                    return None
                data = client.get(f"{root}/v1/models").json().get("data", [])
        except (httpx.HTTPError, ValueError):
            return None
        return [str(entry.get("id")) for entry in data]

    def _recorded_pid(self) -> int | None:
        try:
            record = json.loads(self.pidfile.read_text())
        except (OSError, ValueError):
            return None
        pid = record.get("pid")
        return pid if isinstance(pid, int) and _alive(pid) else None

    def start(self) -> EmbeddedServer:
        """Reuse a server already running on the port, or launch one and wait until healthy."""
        served = self.served_models()
        if served is not None:
            if self.served_name() not in served:
                raise ServerError(
                    f"port {self.options.port} already serves {served}, not {self.served_name()}: "
                    "stop it (`cascade llm stop`) or pick another port"
                )
            self.pid = self._recorded_pid()
            log.info("reusing vLLM at %s (models %s)", self.base_url, served)
            return self
        pid = self._recorded_pid()
        if pid is not None:  # launched by someone else, still starting
            self.pid = pid
            self._wait_healthy(started=time.monotonic())
            return self
        self._launch()
        return self

    def served_name(self) -> str:
        """The model name requests must use."""
        device = self.options.device
        if device == "gpu" or (device == "auto" and gpu_available()):
            return self.options.gpu_model
        return self.options.model

    def _launch(self) -> None:
        options = self.options
        if options.device != "gpu" and not (options.device == "auto" and gpu_available()):
            prepare_model(options.model, dtype=options.dtype)
        command, env = server_command(options)
        self.model_name = self.served_name()
        log.info("starting vLLM: %s (log %s)", " ".join(command), self.log_path)
        started = time.monotonic()
        with self.log_path.open("ab") as log_file:
            # Own process group: stop() then reaches the engine core and worker processes too.
            self.process = subprocess.Popen(
                command, stdout=log_file, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        self.pid = self.process.pid
        self.pidfile.write_text(json.dumps({"pid": self.pid, "port": options.port, "model": self.model_name}))
        try:
            self._wait_healthy(started)
        except BaseException:
            self.stop()
            raise
        log.info("vLLM up in %.1fs at %s", time.monotonic() - started, self.base_url)

    def _wait_healthy(self, started: float) -> None:
        title = f"waiting for vLLM at {self.base_url} to come up (~30 s; log {self.log_path})"
        with progress(title, logger=log) as step:
            while time.monotonic() - started < self.options.startup_timeout:
                if self.served_models() is not None:
                    return
                if (self.pid is not None and not _alive(self.pid)) or (
                    self.process is not None and self.process.poll() is not None
                ):
                    raise ServerError(f"vLLM exited during start-up; last log lines:\n{self._log_tail()}")
                if step.live:
                    step.update(f"waiting for vLLM to come up: {self._last_log_line()[-70:]}")
                time.sleep(0.5)
        raise ServerError(
            f"vLLM did not become healthy within {self.options.startup_timeout:.0f}s; see {self.log_path}"
        )

    def _last_log_line(self) -> str:
        try:
            with self.log_path.open("rb") as file:
                file.seek(max(0, file.seek(0, os.SEEK_END) - 4096))
                lines = file.read().decode(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1] if lines else ""

    def _log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, *, timeout: float = 30.0, force: bool = False) -> None:
        """Stop the server's whole process group (SIGTERM, then SIGKILL) and remove the pidfile.

        Only a server this object launched is stopped, unless ``force`` (``cascade llm stop``):
        a reused server belongs to whoever started it.
        """
        pid = self.pid
        if pid is None or (self.process is None and not force):
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _group_alive(pid):
            if self.process is not None:
                self.process.poll()
            time.sleep(0.2)
        if _group_alive(pid):
            log.warning("vLLM did not stop within %.0fs; killing it", timeout)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        if self.process is not None:
            self.process.wait()
        self.pidfile.unlink(missing_ok=True)
        self.pid = None
        self.process = None
        log.info("vLLM on port %d stopped", self.options.port)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie leader keeps the group "alive" until reaped; look at the members' states.
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def get_or_start_server(options: ServerOptions | None = None) -> EmbeddedServer:
    """The embedded server for ``options``: reused when one runs on the port, else started.

    Blocking (start-up takes ~30 s on CPU, plus model preparation the first time). The caller
    owns a server it started (``server.process`` is set) and should :meth:`~EmbeddedServer.stop`
    it; a reused one keeps running.
    """
    return EmbeddedServer(options).start()


def stop_server(port: int = ServerOptions().port) -> bool:
    """Stop the server recorded for ``port`` (``cascade llm stop``); True if one was running."""
    server = EmbeddedServer(ServerOptions(port=port))
    server.pid = server._recorded_pid()
    if server.pid is None:
        server.pidfile.unlink(missing_ok=True)
        return False
    server.stop(force=True)
    return True
