"""One Whisper decode of a stretch of audio, blocking or off the event loop, with word timings."""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import anyio
import numpy as np

from cascade.asr.agreement import drop_loops, drop_unplaced_tail, join
from cascade.asr.models import LoadedModel, WhisperModelError, load_model
from cascade.asr.options import WhisperOptions
from cascade.asr.window import (
    FRAMES_PER_SECOND,
    FULL_FRAMES,
    MARGIN,
    WindowDone,
    frames_for,
    looks_looped,
    max_tokens,
    window_frames,
)
from cascade.audio import AudioFormatError, load_audio
from cascade.frames import Word
from cascade.stage import run_sync_cancellable

log = logging.getLogger("cascade.asr")

SAMPLE_RATE = 16000
"""Whisper's input rate."""
_UNHEARD = 1.0
"""Audio after a decode's last word past which its words are taken to have missed speech: a
short-window decode that looped is redone at 30 s (the loop took the place of the last words),
and one whose text ended early has the rest decoded."""


@dataclass(frozen=True)
class Hypothesis:
    """The result of one decode."""

    words: tuple[Word, ...]
    """Recognized words with session-time spans (the audio's ``offset`` added)."""
    confidence: float
    """``exp`` of the mean token log-probability (0..1; 0 when nothing was recognized)."""
    language: str
    audio_end: float
    """Session time at which the decoded audio ended."""
    seconds: float
    """Wall time the decode took."""

    @property
    def text(self) -> str:
        """The words joined by spaces."""
        return " ".join(w.text for w in self.words)


def check_audio(audio: np.ndarray) -> np.ndarray:
    """Validate mono 16 kHz audio for Whisper and return it as float32 in [-1, 1].

    Raises :class:`~cascade.audio.AudioFormatError` saying what is wrong and what to pass instead.
    """
    if not isinstance(audio, np.ndarray):
        raise AudioFormatError(f"audio must be a numpy array, got {type(audio).__name__}")
    if audio.ndim != 1:
        raise AudioFormatError(
            f"audio must be mono, shape (samples,), got shape {audio.shape}; average the channels first"
        )
    if audio.size == 0:
        raise AudioFormatError("audio is empty: pass at least some 16 kHz samples")
    if audio.dtype == np.int16:
        return audio.astype(np.float32) / 32768.0
    if audio.dtype not in (np.float32, np.float64):
        raise AudioFormatError(f"audio must be int16 or float32 samples, got dtype {audio.dtype}")
    data = audio.astype(np.float32, copy=False)
    if not np.isfinite(data).all():
        raise AudioFormatError("audio contains NaN or infinite samples")
    peak = float(np.abs(data).max())
    if peak > 2.0:
        raise AudioFormatError(
            f"float audio must lie in [-1, 1] but peaks at {peak:.0f}; int16 values stored as floats? "
            "divide by 32768"
        )
    return data


def limit_blas_threads(threads: int) -> None:
    """Let numpy's BLAS use at most ``threads`` threads, in the whole process.

    OpenBLAS runs one thread per core, and they keep spinning after each call. On a small
    machine those threads preempt the event loop while a decode runs in its worker thread:
    measured on 2 cores, event-loop stalls of 9-38 ms during a phone-menu decode with the
    default, 5-8 ms with one thread. Whisper's numpy work (log-mel features, word alignment)
    is small matrices and loses nothing.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads, user_api="blas")


class WhisperEngine:
    """A faster-whisper model (shared per process) and the decode call the streaming stage uses.

    ``transcribe`` blocks; ``decode`` runs it in a worker thread, at most ``max_concurrent`` at a
    time per model across the process, and returns at once when cancelled (the abandoned decode
    finishes in its thread and keeps its slot until then, so CPU use stays bounded).
    """

    def __init__(self, options: WhisperOptions | None = None) -> None:
        self.options = options or WhisperOptions()
        self._loaded: LoadedModel | None = None
        self._running = 0
        self._lock = threading.Lock()

    @property
    def loaded(self) -> LoadedModel:
        """The loaded model (loads it on first use, blocking)."""
        if self._loaded is None:
            loaded = load_model(self.options)
            language = self.options.language
            if not loaded.multilingual and language not in (None, "en"):
                raise WhisperModelError(
                    f"model '{self.options.model}' is English-only but language={language!r} was asked "
                    "for; use a multilingual model such as 'base' or set language='en'"
                )
            limit_blas_threads(self.options.threads)
            self._loaded = loaded
        return self._loaded

    @property
    def running(self) -> int:
        """Decodes of this engine whose threads are running now (abandoned ones included)."""
        return self._running

    async def load(self) -> None:
        """Load the model off the event loop."""
        await run_sync_cancellable(lambda: self.loaded)

    def transcribe(
        self,
        audio: np.ndarray,
        *,
        offset: float = 0.0,
        prompt: str | None = None,
        full_window: bool = False,
    ) -> Hypothesis:
        """Decode ``audio`` (mono 16 kHz, int16 or float32); word times get ``offset`` added.

        ``prompt`` is text that precedes the audio (joined after ``initial_prompt``). The encoder
        sees the window :attr:`WhisperOptions.min_window` asks for, or 30 s with ``full_window``
        (faster-whisper's own decode). A short-window decode that looks like a repetition loop
        keeps its words without the repeated phrase (:func:`~cascade.asr.agreement.drop_loops`)
        when that removes the loop and the words still reach the audio's end, and is redone with
        30 s otherwise. A decode whose text ends more than a second before its audio, where
        faster-whisper would go on in a next window, has the rest decoded after it.
        """
        samples = check_audio(audio)
        loaded = self.loaded
        seconds = len(samples) / SAMPLE_RATE
        frames = FULL_FRAMES if full_window else frames_for(seconds, self.options.min_window)
        # one bounded window when the audio fits in it; faster-whisper's own decode otherwise
        single = not full_window and seconds + MARGIN <= FULL_FRAMES / FRAMES_PER_SECOND
        with loaded.gate:
            with self._lock:
                self._running += 1
            started = time.perf_counter()
            try:
                segments, language, cut = self._run(samples, prompt, frames, single)
                hypothesis = self._hypothesis(segments, language, offset, seconds, 0.0)
                heard = hypothesis.words[-1].end if hypothesis.words else offset
                if frames < FULL_FRAMES and looks_looped(" ".join(s.text for s in segments), seconds):
                    words = tuple(drop_loops(hypothesis.words))
                    # the loop may have taken the place of the audio's last words
                    heard = words[-1].end if words else offset
                    if hypothesis.audio_end - heard > _UNHEARD or looks_looped(join(words), seconds):
                        log.debug("short-window decode looped; decoding again with 30 s")
                        segments, language, _ = self._run(samples, prompt, FULL_FRAMES, single)
                        hypothesis = self._hypothesis(segments, language, offset, seconds, 0.0)
                    else:
                        hypothesis = replace(hypothesis, words=words)
                elif cut and hypothesis.audio_end - heard > _UNHEARD:
                    # Whisper ended its text early; faster-whisper would decode the rest next
                    hypothesis = self._decode_rest(samples, prompt, hypothesis, heard)
            finally:
                with self._lock:
                    self._running -= 1
        return replace(hypothesis, seconds=time.perf_counter() - started)

    def _decode_rest(
        self, samples: np.ndarray, prompt: str | None, hypothesis: Hypothesis, heard: float
    ) -> Hypothesis:
        """``hypothesis`` and the words of the audio after ``heard`` (its last word's end),
        decoded on their own with the text so far as prompt (what faster-whisper's next window
        would do)."""
        skip = round((heard - hypothesis.audio_end) * SAMPLE_RATE) + len(samples)
        rest = samples[max(0, skip) :]
        seconds = len(rest) / SAMPLE_RATE
        text = " ".join(p for p in (prompt, hypothesis.text) if p)
        segments, _, _ = self._run(rest, text, frames_for(seconds, self.options.min_window), True)
        more = self._hypothesis(segments, hypothesis.language, heard, seconds, 0.0)
        log.debug("decode ended %.1f s before its audio; decoded the rest", hypothesis.audio_end - heard)
        return replace(hypothesis, words=hypothesis.words + more.words)

    def _run(
        self, samples: np.ndarray, prompt: str | None, frames: int, single: bool
    ) -> tuple[list[Any], str, bool]:
        """One faster-whisper decode with an encoder window of ``frames``; with ``single``, one
        window only and a generation budget for the audio's length (see :mod:`cascade.asr.window`).

        Returns the segments, the language, and whether faster-whisper wanted a next window.
        """
        loaded = self.loaded
        opts = self.options
        full_prompt = " ".join(p for p in (opts.initial_prompt, prompt) if p) or None
        segments: list[Any] = []
        with window_frames(frames, single=single):
            generator, info = loaded.model.transcribe(
                samples,
                language=opts.language if loaded.multilingual else None,
                beam_size=opts.beam_size,
                initial_prompt=full_prompt,
                hotwords=opts.hotwords,
                word_timestamps=True,
                condition_on_previous_text=False,
                temperature=0.0,
                vad_filter=False,
                max_new_tokens=max_tokens(len(samples) / SAMPLE_RATE) if single else None,
            )
            cut = False
            try:
                segments.extend(generator)
            except WindowDone:  # the first window saw all the audio
                cut = True
        return segments, str(info.language), cut

    @staticmethod
    def _hypothesis(
        segments: list[Any], language: str, offset: float, seconds: float, took: float
    ) -> Hypothesis:
        words: list[Word] = []
        logprob, tokens = 0.0, 0
        for segment in segments:
            logprob += segment.avg_logprob * len(segment.tokens)
            tokens += len(segment.tokens)
            for w in segment.words or ():
                text = w.word.strip()
                if text:
                    words.append(
                        Word(
                            text=text,
                            start=round(offset + w.start, 3),
                            end=round(offset + w.end, 3),
                            probability=round(float(w.probability), 4),
                        )
                    )
        return Hypothesis(
            words=tuple(drop_unplaced_tail(words)),
            confidence=math.exp(logprob / tokens) if tokens else 0.0,
            language=language,
            audio_end=offset + seconds,
            seconds=took,
        )

    async def decode(
        self,
        audio: np.ndarray,
        *,
        offset: float = 0.0,
        prompt: str | None = None,
        limiter: anyio.CapacityLimiter | None = None,
    ) -> Hypothesis:
        """:meth:`transcribe` in a worker thread (from ``limiter``); cancellable at any time.

        On cancellation this returns at once; the thread finishes its decode in the background
        holding the model's gate, so later decodes wait for it rather than overload the CPU.
        """
        return await run_sync_cancellable(
            lambda: self.transcribe(audio, offset=offset, prompt=prompt), limiter=limiter
        )

    def transcribe_file(self, path: str | Path, *, full_window: bool = False) -> Hypothesis:
        """Decode a whole audio file (any format and rate :func:`~cascade.audio.load_audio` reads)."""
        return self.transcribe(load_audio(path, SAMPLE_RATE), full_window=full_window)
