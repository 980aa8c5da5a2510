"""Streaming ASR benchmark: SileroVAD + WhisperASR in real time vs faster-whisper offline.

    python benchmarks/build_asr_manifest.py --out /tmp/asr-bench
    python benchmarks/asr.py --manifest /tmp/asr-bench/manifest.jsonl --models tiny.en base

The default manifest (30 files, 164 s, 410 words) is quick, but too small to tell a WER
difference of one point from chance: between two selections of prompts the streaming-minus-
offline gap moved by two points (one word is 0.24 points there, and a small model's guess at a
short prompt's last word flips with a tenth of a second more or less audio around it).
Judge a WER change on ``--asterisk 90`` (100 files, 411 s, 984 words; about 20 minutes for
both models).

Each manifest line is ``{"wav": path relative to the manifest, "text": reference}``. Every file
is streamed at real speed (0.5 s of silence before, 1.2 s after, 20 ms frames at the file's own
rate, so 8 kHz telephone prompts stay 8 kHz) through ``SileroVAD`` and ``WhisperASR`` with
default options, and transcribed offline by the same model with faster-whisper's ``transcribe``
(same beam size, language and prompt). Prints JSON per model:

* ``wer_streaming`` / ``wer_offline`` -- corpus WER (jiwer) of the joined final transcripts and
  of the offline transcript. Normalization: lower case; "mr./mrs./dr." spelled out; hyphens
  become spaces; punctuation other than apostrophes removed; digits spelled out as words.
* ``rtf_streaming`` -- decode time spent by the streaming stage / audio duration (its CPU load);
  ``rtf_offline`` -- offline transcription time / audio duration.
* ``finalize_latency_p50/p95`` -- from the VAD's ``SpeechStopped`` leaving the VAD to the
  ``FinalTranscript`` (what the ASR adds to voice-to-voice latency);
  ``speech_end_to_final_p50/p95`` -- from the audio time speech ended (includes the VAD's
  ``min_silence``).
* ``partial_lag_p50`` -- from a word's end in the audio to the first transcript that carries it
  as committed (a partial's ``committed`` prefix, or the final).
* ``loop_stall_max_ms`` -- the longest the event loop was late waking a 5 ms sleeper while
  streaming; ``idle_process_stall_max_ms`` -- the same for an idle separate process meanwhile
  (the machine's own scheduling hiccups); ``loop_stall_max_ms_not_shared`` -- the longest loop
  stall the idle process did not share (:mod:`loop_stalls`).
"""

from __future__ import annotations

import argparse
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import jiwer
import numpy as np
import soundfile
from loop_stalls import LoopStalls, Stall, idle_process_stalls, longest_ms, unshared
from machine_info import describe_machine as machine

from cascade.agent.agent import freeze_loaded_objects
from cascade.asr import StreamingOptions, WhisperASR, WhisperEngine, WhisperOptions
from cascade.audio import load_audio
from cascade.clock import RealClock
from cascade.frames import FinalTranscript, Frame, PartialTranscript, SpeechStopped, UserAudioFrame
from cascade.metrics import MetricsCollector
from cascade.pipeline import run_session
from cascade.session import SessionContext
from cascade.stage import Stage
from cascade.transport import Source
from cascade.tts.normalize import number_to_words
from cascade.vad import SileroVAD, VADOptions

LEAD, TAIL = 0.5, 1.2

_ABBREVIATIONS = {"mr": "mister", "mrs": "missus", "dr": "doctor", "st": "saint"}


def normalize(text: str) -> str:
    """The WER text normalization described in the module docstring."""
    text = text.lower().replace("-", " ")
    text = re.sub(r"\b(mr|mrs|dr|st)\.", lambda m: _ABBREVIATIONS[m.group(1)], text)
    text = re.sub(r"\d+", lambda m: " " + number_to_words(int(m.group())) + " ", text)
    text = re.sub(r"[^a-z' ]+", " ", text)
    return " ".join(w.strip("'") for w in text.split() if w.strip("'"))


def percentile(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (0..1), or None without values."""
    if not values:
        return None
    return round(float(np.quantile(np.asarray(values), q)), 4)


class PacedSource(Source):
    """Feeds int16 audio as 20 ms frames at real speed."""

    outputs = (UserAudioFrame,)

    def __init__(self, audio: np.ndarray, rate: int) -> None:
        super().__init__(name="PacedSource")
        self.audio, self.rate = audio, rate

    async def produce(self) -> None:
        """Emit the frames on the clock."""
        step = self.rate // 50
        for i in range(0, len(self.audio) - step + 1, step):
            await self.clock.sleep_until(i / self.rate)
            frame = UserAudioFrame(
                pts=i / self.rate, pcm=self.audio[i : i + step].tobytes(), sample_rate=self.rate
            )
            await self.emit(frame)


class Recorder(Stage):
    """Records each non-audio frame with its arrival time."""

    inputs = (Frame,)

    def __init__(self, log: list[tuple[float, Frame]]) -> None:
        super().__init__(name="Recorder")
        self.log = log

    async def process(self, frame: Frame) -> None:
        """Record (audio is dropped here: nothing is downstream)."""
        if not isinstance(frame, UserAudioFrame):
            self.log.append((self.clock.now(), frame))


@dataclass
class StreamResult:
    """What one streamed file produced."""

    text: str = ""
    finalize: list[float] = field(default_factory=list)
    speech_end_to_final: list[float] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)
    decode_seconds: float = 0.0
    stalls: LoopStalls = field(default_factory=LoopStalls)
    span: tuple[float, float] = (0.0, 0.0)
    """Monotonic time the stream started and ended."""
    speculative: int = 0
    finals: int = 0
    transcripts: list[tuple[float, PartialTranscript | FinalTranscript]] = field(default_factory=list)
    """Partial and final transcripts with the session time each was emitted."""


async def stream_file(
    engine: WhisperEngine,
    audio: np.ndarray,
    rate: int,
    streaming: StreamingOptions | None = None,
    vad: VADOptions | None = None,
) -> StreamResult:
    """Stream one recording through VAD + ASR in real time and measure it."""
    log: list[tuple[float, Frame]] = []
    asr = WhisperASR(engine=engine, streaming=streaming)
    ctx = SessionContext(clock=RealClock(), metrics=MetricsCollector())
    result = StreamResult()

    began = time.monotonic()
    async with anyio.create_task_group() as tg:
        tg.start_soon(result.stalls.watch)
        await run_session([PacedSource(audio, rate), SileroVAD(vad), asr, Recorder(log)], ctx)
        tg.cancel_scope.cancel()
    result.span = (began, time.monotonic())
    result.decode_seconds = sum(asr.stats.decode_seconds)
    result.speculative, result.finals = asr.stats.speculative_finals, asr.stats.finals
    stops = [(t, f) for t, f in log if isinstance(f, SpeechStopped)]
    finals = [(t, f) for t, f in log if isinstance(f, FinalTranscript)]
    partials = [(t, f) for t, f in log if isinstance(f, PartialTranscript)]
    result.transcripts = [(t, f) for t, f in log if isinstance(f, PartialTranscript | FinalTranscript)]
    for (stop_at, stop), (final_at, _) in zip(stops, finals, strict=False):
        assert isinstance(stop, SpeechStopped)
        result.finalize.append(final_at - stop_at)
        result.speech_end_to_final.append(final_at - stop.pts)
    result.text = " ".join(f.text for _, f in finals if isinstance(f, FinalTranscript))
    for final_at, final in finals:
        assert isinstance(final, FinalTranscript)
        seg_partials = [(t, p) for t, p in partials if isinstance(p, PartialTranscript) and t <= final_at]
        for index, word in enumerate(final.words):
            seen = final_at
            for t, p in seg_partials:
                if (
                    len(p.committed.split()) > index
                    and p.words[index].start <= word.end
                    and p.words[index].end >= word.start
                ):
                    seen = t
                    break
            result.lags.append(seen - word.end)
        partials = [(t, p) for t, p in partials if t > final_at]
    return result


async def bench_model(
    model: str,
    items: list[dict[str, Any]],
    base: Path,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """All figures for one model (with ``--details``, also every file's transcripts)."""
    engine = WhisperEngine(WhisperOptions(model=model, **json.loads(args.whisper)))
    streaming = StreamingOptions(**json.loads(args.streaming))
    load_started = time.perf_counter()
    await engine.load()
    load_seconds = time.perf_counter() - load_started
    await anyio.to_thread.run_sync(SileroVAD().load)  # as VoiceAgent.prepare does
    freeze_loaded_objects()  # likewise
    refs, offline_hyps, stream_hyps = [], [], []
    audio_seconds = offline_seconds = decode_seconds = 0.0
    finalize, end_to_final, lags = [], [], []
    stalls: list[Stall] = []
    spans: list[tuple[float, float]] = []
    speculative = finals = 0
    per_file: list[dict[str, Any]] = []
    with idle_process_stalls() as idle:
        for item in items:
            path = base / item["wav"]
            rate = int(soundfile.info(str(path)).samplerate)
            rate = rate if rate in (8000, 16000) else 16000
            refs.append(normalize(item["text"]))
            audio16 = load_audio(path, 16000)
            audio_seconds += len(audio16) / 16000
            started = time.perf_counter()
            offline_hyps.append(normalize(engine.transcribe(audio16, full_window=True).text))
            offline_seconds += time.perf_counter() - started
            audio = load_audio(path, rate)
            padded = np.concatenate(
                [np.zeros(int(LEAD * rate), np.int16), audio, np.zeros(int(TAIL * rate), np.int16)]
            )
            result = await stream_file(engine, padded, rate, streaming)
            stream_hyps.append(normalize(result.text))
            decode_seconds += result.decode_seconds
            finalize += result.finalize
            end_to_final += result.speech_end_to_final
            lags += result.lags
            stalls += result.stalls.stalls
            spans.append(result.span)
            speculative += result.speculative
            finals += result.finals
            per_file.append(
                {
                    "wav": item["wav"],
                    "reference": refs[-1],
                    "offline": offline_hyps[-1],
                    "streaming": stream_hyps[-1],
                    "finals": result.finals,
                    "finalize": [round(x, 3) for x in result.finalize],
                    "loop_stall_max_ms": longest_ms(result.stalls.stalls),
                }
            )
    # the idle process's stalls while a file streamed (the offline decodes between keep it busy)
    idle = [h for h in idle if any(t0 <= h[0] <= t1 for t0, t1 in spans)]
    own = unshared(stalls, idle)
    summary = {
        "model": model,
        "files": len(items),
        "audio_seconds": round(audio_seconds, 2),
        "model_load_seconds": round(load_seconds, 2),
        "wer_streaming": round(jiwer.wer(refs, [h or "-" for h in stream_hyps]), 4),
        "wer_offline": round(jiwer.wer(refs, [h or "-" for h in offline_hyps]), 4),
        "rtf_streaming": round(decode_seconds / audio_seconds, 4),
        "rtf_offline": round(offline_seconds / audio_seconds, 4),
        "finalize_latency_p50": percentile(finalize, 0.5),
        "finalize_latency_p95": percentile(finalize, 0.95),
        "speech_end_to_final_p50": percentile(end_to_final, 0.5),
        "speech_end_to_final_p95": percentile(end_to_final, 0.95),
        "partial_lag_p50": percentile(lags, 0.5),
        "partial_lag_p95": percentile(lags, 0.95),
        "finals": finals,
        "speculative_finals": speculative,
        "loop_stall_max_ms": longest_ms(stalls),
        "idle_process_stall_max_ms": longest_ms(idle),
        "loop_stall_max_ms_not_shared": longest_ms(own),
    }
    return {**summary, "files_detail": per_file} if args.details else summary


async def main_async(args: argparse.Namespace) -> None:
    """Run every model and print one JSON document."""
    manifest = Path(args.manifest)
    lines = manifest.read_text().splitlines()  # noqa: ASYNC240 - once, before anything is timed
    items = [json.loads(line) for line in lines if line.strip()]
    if args.limit:
        items = items[: args.limit]
    results = [await bench_model(model, items, manifest.parent, args) for model in args.models]
    report = {
        "benchmark": "asr",
        "manifest": str(manifest),
        "machine": machine(),
        "options": {
            "whisper": WhisperOptions(**json.loads(args.whisper)).model_dump(),
            "vad": "VADOptions() defaults",
            "streaming": StreamingOptions(**json.loads(args.streaming)).model_dump(),
        },
        "normalization": "lower case; mr/mrs/dr/st. spelled out; hyphens to spaces; punctuation "
        "except apostrophes removed; digits spelled out as English words",
        "results": results,
    }
    print(json.dumps(report, indent=2))


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description="Streaming ASR benchmark (prints JSON).")
    parser.add_argument("--manifest", required=True, help="JSONL of {wav, text}")
    parser.add_argument("--models", nargs="+", default=["tiny.en", "base"])
    parser.add_argument("--limit", type=int, default=0, help="only the first N files")
    parser.add_argument("--details", action="store_true", help="also print every file's transcripts")
    parser.add_argument(
        "--whisper", default="{}", help="WhisperOptions overrides as JSON, e.g. '{\"min_window\": null}'"
    )
    parser.add_argument(
        "--streaming", default="{}", help="StreamingOptions overrides as JSON, e.g. '{\"context\": 0}'"
    )
    anyio.run(main_async, parser.parse_args())


if __name__ == "__main__":
    main()
