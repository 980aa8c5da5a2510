"""``cascade talk``: a conversation from WAV files with the default voice agent."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

log = logging.getLogger("cascade.talk")


def _read_script(path: Path) -> list[Path]:
    """A script file lists one caller WAV per line (relative to the file); # starts a comment."""
    lines = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
    return [(path.parent / line).resolve() for line in lines if line]


def talk(
    inputs: Annotated[list[Path] | None, typer.Argument(help="Caller WAV files, one turn each.")] = None,
    in_: Annotated[list[Path] | None, typer.Option("--in", help="Caller WAV file (repeatable).")] = None,
    script: Annotated[Path | None, typer.Option(help="Text file listing caller WAVs, one per line.")] = None,
    out: Annotated[Path, typer.Option(help="Bot reply WAV (+ .conversation.wav, .json).")] = Path(
        "out/reply.wav"
    ),
    config: Annotated[
        Path | None, typer.Option(envvar="CASCADE_CONFIG", help="Config file (TOML or JSON).")
    ] = None,
    system_prompt: Annotated[str | None, typer.Option(help="The LLM's instructions.")] = None,
    knowledge: Annotated[
        list[Path] | None, typer.Option(help="Text file pre-loaded into the context (repeatable).")
    ] = None,
    llm_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible LLM endpoint (default: embedded vLLM).")
    ] = None,
    model: Annotated[str | None, typer.Option(help="LLM model name on that endpoint.")] = None,
    asr_model: Annotated[str | None, typer.Option(help="Whisper model (tiny.en, base, a path).")] = None,
    tts_engine: Annotated[str | None, typer.Option(help="hibari, piper or openai.")] = None,
    fast: Annotated[bool, typer.Option(help="Feed the caller audio as fast as possible.")] = False,
    stop_server: Annotated[
        bool, typer.Option(help="Stop the embedded LLM server at the end (default: keep it for reuse).")
    ] = False,
) -> None:
    """Talk to the agent with recorded caller turns; write the reply, conversation and transcript."""
    import anyio

    from cascade.agent.agent import VoiceAgent
    from cascade.agent.config import AgentConfig
    from cascade.transports.file import FileTransport

    wavs = [*(inputs or []), *(in_ or []), *(_read_script(script) if script else [])]
    if not wavs:
        raise typer.BadParameter("give at least one caller WAV (argument, --in or --script)")
    overrides = {
        "llm.system_prompt": system_prompt,
        "llm.knowledge": [str(p) for p in knowledge] if knowledge else None,
        "llm.base_url": llm_url,
        "llm.model": model,
        "asr.model": asr_model,
        "tts.engine": tts_engine,
    }
    agent = VoiceAgent(AgentConfig.load(config, **overrides))
    transport = FileTransport(wavs, out, sample_rate=agent.config.sample_rate, realtime=not fast)

    async def session() -> None:
        typer.echo("preparing models (the first run assembles them and starts the LLM server)...")
        await agent.prepare()
        typer.echo(f"talking: {len(wavs)} caller turn(s) from {', '.join(p.name for p in wavs)}")
        await agent.run(transport)

    try:
        anyio.run(session)
    finally:
        if stop_server:
            agent.stop_server()
    _report(transport.transcript_path, out)


def _report(transcript_path: Path | None, out: Path) -> None:
    if transcript_path is None or not transcript_path.exists():
        return
    doc = json.loads(transcript_path.read_text())
    for entry in doc["transcript"]:
        if entry["role"] in ("user", "assistant"):
            who = "caller" if entry["role"] == "user" else "bot   "
            note = " (interrupted)" if entry.get("interrupted") else ""
            typer.echo(f"{who}: {entry['text']}{note}")
    for turn in doc["turns"]:
        if turn.get("voice_to_voice") is None:
            continue
        steps = ", ".join(f"{k} +{v * 1000:.0f} ms" for k, v in turn["deltas"].items())
        typer.echo(f"turn {turn['turn']}: voice-to-voice {turn['voice_to_voice'] * 1000:.0f} ms ({steps})")
    conversation = out.with_suffix(".conversation.wav")
    typer.echo(f"wrote {out}, {conversation}, {transcript_path}")
