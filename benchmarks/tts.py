"""TTS latency and speed: time to first audio on streamed LLM text, real-time factor, speech server.

    python benchmarks/tts.py                          # built-in replies, hibari (+ piper if installed)
    python benchmarks/tts.py --manifest replies.jsonl --runs 5 --engines hibari,piper

The manifest is JSONL, one ``{"text": "..."}`` reply per line. Each reply is streamed into the
TTS stage word by word (``--token-interval`` seconds apart, like an LLM at ~30 tokens/s) in real
time, and we measure when the first bot audio frame leaves the stage:

* ``first_audio_after_first_chunk``: from the delta that completed the first speakable chunk
  (what the TTS can influence: synthesis, resampling, framing, queues);
* ``first_audio_after_first_token``: from the first delta (adds the chunker's wait for text).

``rtf`` is synthesis time / audio duration for whole replies. ``server`` repeats the streaming
measurement with :class:`~cascade.tts.openai_speech.OpenAISpeechTTS` against ``cascade tts serve``
on loopback. Prints one JSON object with a machine description.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
from machine_info import describe_machine as machine

from cascade.clock import RealClock
from cascade.frames import BotAudioFrame, Frame, LLMResponseEnded, LLMTextDelta
from cascade.pipeline import run_session
from cascade.session import SessionContext
from cascade.stage import Stage
from cascade.testing import ListSource
from cascade.tts.base import EngineTTS, TTSStage
from cascade.tts.chunker import SentenceChunker, speakable_text
from cascade.tts.engine import TTSEngine
from cascade.tts.normalize import normalize_for_speech

REPLIES = [
    "Sure, I can help with that. Your order shipped yesterday and should arrive on Thursday.",
    "Let me check. The store opens at 9 a.m. and closes at 6 p.m. on weekdays.",
    "Your balance is $1,250.40. Would you like me to read the last three transactions?",
    "Okay. I have booked a table for four people at seven thirty tonight.",
    "I'm sorry, I didn't catch that. Could you say the account number again, slowly?",
    "The nearest pharmacy is two blocks north, next to the post office. It has parking in the back.",
    "Great question! The warranty covers parts and labor for two years from the date of purchase.",
    "Of course. I will send a confirmation to your email address within the next few minutes.",
]


def load_manifest(path: Path | None) -> list[str]:
    if path is None:
        return REPLIES
    texts = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            texts.append(str(json.loads(line)["text"]))
    return texts


def tokens(text: str) -> list[str]:
    return re.findall(r"\s*\S+", text)


def first_chunk_index(pieces: list[str]) -> int:
    """Index of the delta that completes the first speakable chunk."""
    chunker = SentenceChunker()
    for i, piece in enumerate(pieces):
        if chunker.push(piece):
            return i
    return len(pieces)  # only at the end of the response


class FirstAudio(Stage):
    """Records when the first bot audio with samples arrives."""

    inputs = (BotAudioFrame,)

    def __init__(self) -> None:
        super().__init__(name="FirstAudio")
        self.at: float | None = None

    async def process(self, frame: Frame) -> None:
        assert isinstance(frame, BotAudioFrame)
        if self.at is None and frame.pcm:
            self.at = self.clock.now()


async def stream_once(tts: TTSStage, text: str, interval: float) -> tuple[float, float]:
    """(first audio after the first chunk, after the first token) for one streamed reply."""
    pieces = tokens(text)
    start = 0.2
    frames: list[Frame] = [
        LLMTextDelta(pts=start + i * interval, response_id="b", text=p) for i, p in enumerate(pieces)
    ]
    end = start + len(pieces) * interval
    frames.append(LLMResponseEnded(pts=end, response_id="b", text=text))
    chunk_at = frames[first_chunk_index(pieces)].pts
    probe = FirstAudio()
    ctx = SessionContext(clock=RealClock())
    await run_session([ListSource(frames, tail=0.0), tts, probe], ctx)
    if probe.at is None:
        raise RuntimeError(f"no audio for {text!r}")
    return probe.at - chunk_at, probe.at - start


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "p50_ms": round(1000 * statistics.median(ordered), 1),
        "p95_ms": round(1000 * p95, 1),
        "n": len(ordered),
    }


def streaming(make_stage: Any, texts: list[str], runs: int, interval: float) -> dict[str, Any]:
    after_chunk, after_token = [], []
    for _ in range(runs):
        for text in texts:
            a, b = anyio.run(stream_once, make_stage(), text, interval)
            after_chunk.append(a)
            after_token.append(b)
    return {
        "first_audio_after_first_chunk": percentiles(after_chunk),
        "first_audio_after_first_token": percentiles(after_token),
    }


def rtf(engine: TTSEngine, texts: list[str]) -> dict[str, Any]:
    synth = audio = 0.0
    for text in texts:
        spoken = normalize_for_speech(speakable_text(text))
        t0 = time.perf_counter()
        samples = engine.synthesize(spoken)
        synth += time.perf_counter() - t0
        audio += samples.size / engine.sample_rate
    return {"rtf": round(synth / audio, 4), "audio_s": round(audio, 2), "synthesis_s": round(synth, 3)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def through_server(engine: str, voice: str, texts: list[str], runs: int, interval: float) -> dict[str, Any]:
    import httpx

    from cascade.tts.openai_speech import OpenAISpeechOptions, OpenAISpeechTTS

    port = free_port()
    code = "from cascade.cli import app; app()"
    cmd = [sys.executable, "-c", code, "tts", "serve", "--engine", engine, "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        options = OpenAISpeechOptions(base_url=base + "/v1", voice=voice, model=engine)
        return streaming(lambda: OpenAISpeechTTS(options), texts, runs, interval)
    finally:
        proc.terminate()
        proc.wait(10)


def engines(names: list[str]) -> dict[str, tuple[TTSEngine, str]]:
    out: dict[str, tuple[TTSEngine, str]] = {}
    for name in names:
        if name == "hibari":
            from cascade.tts.hibari import HibariEngine

            out[name] = (HibariEngine(), "heart")
        elif name == "piper":
            try:
                from cascade.tts.piper import PiperEngine

                engine = PiperEngine()
            except Exception as exc:  # the optional extra is missing
                print(f"skipping piper: {exc}", file=sys.stderr)
                continue
            out[name] = (engine, "joe")
    return out


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--manifest", type=Path, help="JSONL with one {'text': ...} per line")
    parser.add_argument("--engines", default="hibari,piper")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--token-interval", type=float, default=0.033)
    parser.add_argument("--no-server", action="store_true", help="skip the speech-server measurement")
    args = parser.parse_args()
    texts = load_manifest(args.manifest)
    report: dict[str, Any] = {
        "benchmark": "tts",
        "machine": machine(),
        "replies": len(texts),
        "runs": args.runs,
        "token_interval_s": args.token_interval,
        "engines": {},
    }
    for name, (engine, voice) in engines(args.engines.split(",")).items():
        t0 = time.perf_counter()
        engine.warm_up()
        result: dict[str, Any] = {"warm_up_s": round(time.perf_counter() - t0, 3)}
        result["stage"] = streaming(lambda e=engine: EngineTTS(e), texts, args.runs, args.token_interval)
        result.update(rtf(engine, texts))
        if not args.no_server:
            result["server"] = through_server(name, voice, texts, args.runs, args.token_interval)
        report["engines"][name] = result
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
