"""``cascade tts``: run the speech server, or say something into a WAV file."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from cascade.tts.engine import TTSEngine

app = typer.Typer(
    help="Text to speech: the OpenAI-compatible speech server and a quick test.", no_args_is_help=True
)

ENGINES = ("hibari", "piper", "chatterbox")


def build_engine(
    engine: str,
    *,
    voice: str | None = None,
    piper_model: Path | None = None,
    ckpt_dir: Path | None = None,
    device: str = "cuda",
    voice_prompts: list[str] | None = None,
) -> TTSEngine:
    """The named engine, configured; raises ``typer.BadParameter`` on bad options."""
    from cascade.tts.engine import TTSError

    try:
        if engine == "hibari":
            from cascade.tts.hibari import DEFAULT_VOICE, HibariEngine

            return HibariEngine(voice or DEFAULT_VOICE)
        if engine == "piper":
            from cascade.tts.piper import PiperEngine

            return PiperEngine(piper_model)
        if engine == "chatterbox":
            from cascade.tts.chatterbox import ChatterboxEngine

            prompts: dict[str, str | Path] = {}
            for item in voice_prompts or []:
                name, sep, path = item.partition("=")
                if not sep or not name or not path:
                    raise typer.BadParameter(f"--voice-prompt wants NAME=PATH, got {item!r}")
                prompts[name] = path
            return ChatterboxEngine(ckpt_dir, device=device, voice_prompts=prompts)
    except TTSError as exc:
        raise typer.BadParameter(str(exc)) from exc
    raise typer.BadParameter(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")


@app.command()
def serve(
    engine: Annotated[str, typer.Option(help=f"Engine: {', '.join(ENGINES)}.")] = "hibari",
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8880,
    voice: Annotated[str | None, typer.Option(help="Default voice (hibari).")] = None,
    piper_model: Annotated[Path | None, typer.Option(help="Piper .onnx voice (default: joe).")] = None,
    ckpt_dir: Annotated[Path | None, typer.Option(help="Chatterbox checkpoint directory.")] = None,
    device: Annotated[str, typer.Option(help="Chatterbox torch device.")] = "cuda",
    voice_prompt: Annotated[
        list[str] | None, typer.Option(help="Chatterbox voice prompt NAME=WAV (repeatable).")
    ] = None,
    normalize: Annotated[bool, typer.Option(help="Read numbers, times, money... as words.")] = True,
) -> None:
    """Serve an OpenAI-compatible /v1/audio/speech endpoint (streamed PCM or WAV)."""
    import uvicorn

    from cascade.tts.server import create_app

    tts = build_engine(
        engine,
        voice=voice,
        piper_model=piper_model,
        ckpt_dir=ckpt_dir,
        device=device,
        voice_prompts=voice_prompt,
    )
    typer.echo(f"cascade speech server: {engine} on http://{host}:{port}/v1/audio/speech", err=True)
    uvicorn.run(create_app(tts, normalize=normalize), host=host, port=port, log_level="warning")


@app.command()
def say(
    text: Annotated[str, typer.Argument(help="What to say.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="WAV file to write.")] = Path("say.wav"),
    engine: Annotated[str, typer.Option(help=f"Engine: {', '.join(ENGINES)}.")] = "hibari",
    voice: Annotated[str | None, typer.Option(help="Voice name.")] = None,
) -> None:
    """Synthesize TEXT into a WAV file (a quick check of an engine)."""
    from cascade.audio import to_int16, write_wav
    from cascade.tts.chunker import speakable_text
    from cascade.tts.engine import TTSError
    from cascade.tts.normalize import normalize_for_speech

    tts = build_engine(engine, voice=voice)
    try:
        audio = tts.synthesize(normalize_for_speech(speakable_text(text)), voice)
    except TTSError as exc:
        raise typer.BadParameter(str(exc)) from exc
    write_wav(out, to_int16(audio), tts.sample_rate)
    typer.echo(f"{out}: {audio.size / tts.sample_rate:.2f} s at {tts.sample_rate} Hz")
