"""The shared TTS stage: streamed LLM text in, small frames of bot audio out, as early as possible.

:class:`TTSStage` handles :class:`~cascade.frames.LLMTextDelta`,
:class:`~cascade.frames.LLMResponseEnded` and :class:`~cascade.frames.TextToSpeak`. Text is cut
into chunks by a :class:`~cascade.tts.chunker.SentenceChunker`; each chunk is synthesized as soon
as it is complete (an engine subclass provides :meth:`TTSStage.synthesize`), resampled to the
pipeline rate and sent on in ``frame_ms`` frames. Every frame's ``text`` is the part of the reply
it speaks — estimated from durations (:mod:`cascade.tts.spans`), since no engine here reports word
alignment — so the transport can tell what the caller actually heard. The last frame of a
response has ``last=True``; the :class:`~cascade.frames.LLMResponseEnded` is forwarded after it.

The stage is interruptible: a barge-in cancels the synthesis and the frame loop of the old
generation at the next frame, and :meth:`TTSStage.on_interrupt` forgets the half-received reply.
An engine failure on one chunk is reported as an :class:`~cascade.frames.ErrorFrame` and the reply
goes on with the next chunk; the session survives.
"""

from __future__ import annotations

import itertools
import logging
from abc import abstractmethod
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from cascade.audio import StreamResampler, to_int16
from cascade.frames import (
    SAMPLE_RATES,
    BotAudioFrame,
    ErrorFrame,
    Frame,
    Interrupt,
    LLMResponseEnded,
    LLMTextDelta,
    TextToSpeak,
)
from cascade.stage import FrameTypes, Stage, run_sync_cancellable
from cascade.tts.chunker import ChunkerOptions, SentenceChunker, chunk_ending
from cascade.tts.engine import TTSEngine
from cascade.tts.normalize import normalize_for_speech
from cascade.tts.silence import SilenceTrimmer
from cascade.tts.spans import SpanAllocator

log = logging.getLogger("cascade.tts")


class TTSOptions(BaseModel):
    """Options shared by every TTS stage."""

    model_config = ConfigDict(extra="forbid")

    sample_rate: int = 16000
    """Output rate: the pipeline's / transport's rate (audio is resampled to it)."""
    frame_ms: int = Field(default=20, ge=5, le=200)
    """Length of each emitted audio frame in milliseconds (an interrupt stops within one)."""
    voice: str | None = None
    """Voice name (``None``: the engine's default voice)."""
    speed: float = Field(default=1.0, ge=0.25, le=4.0)
    """Speaking rate (1.0 is the voice's natural pace)."""
    normalize: bool = True
    """Rewrite numbers, money, times, dates, phone numbers, emails and URLs as words before
    synthesis (:func:`~cascade.tts.normalize.normalize_for_speech`)."""
    chunker: ChunkerOptions = Field(default_factory=ChunkerOptions)
    """How text is cut into chunks."""
    trim_silence: bool = True
    """Cut the silence the engine puts before and after each chunk (hibari: ~0.3 s each side,
    which delays the first word and leaves gaps inside sentences), and pause after a chunk by
    its punctuation instead."""
    sentence_pause: float = Field(default=0.3, ge=0.0, le=2.0)
    """Silence after a chunk ending a sentence (with ``trim_silence``)."""
    clause_pause: float = Field(default=0.15, ge=0.0, le=2.0)
    """Silence after a chunk ending at a comma, semicolon, colon or dash (with ``trim_silence``);
    a chunk cut inside a clause gets none."""
    refill_ahead: float = Field(default=0.4, ge=0.0)
    """When a reply's audio sent so far will have played out within this many seconds, the next
    chunk is cut at the words written so far (``refill_min_words`` at least) instead of at the
    sentence end, so the voice goes on while the LLM writes the rest (0: always wait)."""
    refill_min_words: int = Field(default=3, ge=1)
    """Fewest words cut early to refill the audio."""

    @field_validator("sample_rate")
    @classmethod
    def _known_rate(cls, value: int) -> int:
        if value not in SAMPLE_RATES:
            raise ValueError(f"sample_rate {value} Hz is not supported; use one of {SAMPLE_RATES}")
        return value


class TTSStage(Stage):
    """Base class of the TTS stages (see the module docstring). Subclasses implement
    :attr:`source_rate` and :meth:`synthesize`, and may load engines in :meth:`start`."""

    inputs: FrameTypes = (LLMTextDelta, LLMResponseEnded, TextToSpeak)
    outputs: FrameTypes = (BotAudioFrame, LLMResponseEnded, ErrorFrame)
    interruptible = True
    whole_chunks: ClassVar[bool] = False
    """True if :meth:`synthesize` yields each chunk's audio in one piece: word spans are then laid
    out over the real duration instead of an estimate."""

    def __init__(self, options: TTSOptions | None = None, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self.options = options or TTSOptions()
        self._chunker = SentenceChunker(self.options.chunker)
        self._current: tuple[int, str] | None = None
        self._got_text = False
        self._sent_until: float | None = None
        """When the current reply's audio sent so far would end, played in real time from the
        moment it was sent (``None``: none sent yet)."""
        self._marked: set[tuple[int, str]] = set()
        self._say_ids = itertools.count(1)

    @property
    @abstractmethod
    def source_rate(self) -> int:
        """Sample rate of the audio :meth:`synthesize` yields."""

    @abstractmethod
    def synthesize(self, text: str) -> AsyncGenerator[np.ndarray, None]:
        """Yield mono audio (float32 in [-1, 1] or int16) of ``text`` at :attr:`source_rate`.

        Blocking engines must run off the event loop (``run_sync_cancellable``).
        """

    # --- hooks -------------------------------------------------------------------------------

    async def process(self, frame: Frame) -> None:
        """Chunk streamed text and speak each chunk when it is complete."""
        if isinstance(frame, TextToSpeak):
            await self._say(frame)
        elif isinstance(frame, LLMTextDelta):
            await self._follow(frame.generation, frame.response_id)
            self._got_text = self._got_text or bool(frame.text)
            chunks = self._chunker.push(frame.text)
            if not chunks and self._running_dry():
                chunks = self._chunker.cut_early(self.options.refill_min_words)
            for chunk in chunks:
                await self._speak(chunk, frame.response_id, frame.generation)
        elif isinstance(frame, LLMResponseEnded):
            await self._follow(frame.generation, frame.response_id)
            chunks = [] if self._got_text else self._chunker.push(frame.text)
            for chunk in chunks + self._chunker.flush():
                await self._speak(chunk, frame.response_id, frame.generation)
            await self._end_response(frame.response_id, frame.generation)
            self._current = None
            await self.emit(frame)

    async def on_interrupt(self, frame: Interrupt) -> None:
        """Forget the interrupted reply's text (newer replies are kept)."""
        if self._current is not None and self._current[0] < frame.generation:
            self._chunker.reset()
            self._current = None

    # --- internals ---------------------------------------------------------------------------

    def _running_dry(self) -> bool:
        """The current reply's audio, played from when it was sent, is about to run out."""
        ahead = self.options.refill_ahead
        return ahead > 0 and self._sent_until is not None and self._sent_until - self.clock.now() < ahead

    async def _follow(self, generation: int, response_id: str) -> None:
        """Start tracking a response; finish an unterminated previous one of the same generation."""
        key = (generation, response_id)
        if self._current == key:
            return
        previous = self._current
        if previous is not None and previous[0] == generation:
            for chunk in self._chunker.flush():
                await self._speak(chunk, previous[1], generation)
            await self._end_response(previous[1], generation)
        self._chunker.reset()
        self._current = key
        self._got_text = False
        self._sent_until = None

    async def _say(self, frame: TextToSpeak) -> None:
        chunker = SentenceChunker(self.options.chunker)
        chunks = chunker.push(frame.text) + chunker.flush()
        if not chunks:
            await self._report(
                frame.generation, f"TextToSpeak has no speakable text ({frame.text!r}); nothing was said"
            )
            return
        response_id = frame.response_id or f"{self.name}-say-{next(self._say_ids)}"
        for chunk in chunks:
            await self._speak(chunk, response_id, frame.generation)
        await self._end_response(response_id, frame.generation)

    async def _speak(self, chunk: str, response_id: str, generation: int) -> None:
        """Synthesize one chunk and emit it frame by frame, each with the words it speaks."""
        text = chunk.strip()
        if self.options.normalize:
            text = normalize_for_speech(text)
        opts = self.options
        out_rate = opts.sample_rate
        frame_bytes = 2 * max(1, out_rate * opts.frame_ms // 1000)
        resample = StreamResampler(self.source_rate, out_rate)
        trimmer = SilenceTrimmer(self.source_rate) if opts.trim_silence else None
        spans: SpanAllocator | None = None
        buffer = bytearray()
        sent = 0
        try:
            async with aclosing(self.synthesize(text)) as pieces:
                async for piece in pieces:
                    samples = piece if piece.dtype == np.int16 else to_int16(piece)
                    if trimmer is not None:
                        samples = trimmer.push(samples)
                        if not samples.size:
                            continue
                    if spans is None:
                        duration = samples.size / self.source_rate if self.whole_chunks else None
                        spans = SpanAllocator(chunk, duration)
                    buffer += resample(samples.astype("<i2").tobytes())
                    while len(buffer) >= frame_bytes:
                        sent += frame_bytes
                        words = spans.take(sent / 2 / out_rate)
                        await self._emit_audio(bytes(buffer[:frame_bytes]), words, response_id, generation)
                        del buffer[:frame_bytes]
            if trimmer is not None:
                ending = chunk_ending(chunk)
                pause = {"sentence": opts.sentence_pause, "clause": opts.clause_pause}.get(ending, 0.0)
                buffer += resample(trimmer.end(pause).astype("<i2").tobytes())
            buffer += resample(b"", last=True)
            while len(buffer) > frame_bytes:
                sent += frame_bytes
                words = spans.take(sent / 2 / out_rate) if spans else ""
                await self._emit_audio(bytes(buffer[:frame_bytes]), words, response_id, generation)
                del buffer[:frame_bytes]
        except Exception as exc:
            log.warning("%s: synthesis of %r failed", self.name, text, exc_info=True)
            await self._report(
                generation, f"synthesis failed for {text!r} ({type(exc).__name__}: {exc}); chunk skipped"
            )
            return
        rest = (spans or SpanAllocator(chunk, 0.0)).rest()
        if buffer or rest:
            await self._emit_audio(bytes(buffer), rest, response_id, generation)

    async def _emit_audio(self, pcm: bytes, text: str, response_id: str, generation: int) -> None:
        key = (generation, response_id)
        if pcm and key not in self._marked:
            self._marked.add(key)
            self.ctx.metrics.mark("first_tts_audio", self.clock.now())
        if pcm and key == self._current:
            now = self.clock.now()
            self._sent_until = max(self._sent_until or now, now) + len(pcm) / 2 / self.options.sample_rate
        await self.emit(
            self.frame(
                BotAudioFrame,
                generation=generation,
                pcm=pcm,
                sample_rate=self.options.sample_rate,
                response_id=response_id,
                text=text,
            )
        )

    async def _end_response(self, response_id: str, generation: int) -> None:
        self._marked.discard((generation, response_id))
        await self.emit(
            self.frame(
                BotAudioFrame,
                generation=generation,
                pcm=b"",
                sample_rate=self.options.sample_rate,
                response_id=response_id,
                last=True,
            )
        )

    async def _report(self, generation: int, message: str) -> None:
        await self.emit(self.frame(ErrorFrame, generation=generation, stage=self.name, message=message))


class EngineTTS(TTSStage):
    """A TTS stage around a local blocking :class:`~cascade.tts.engine.TTSEngine`.

    The engine is loaded and warmed up in :meth:`start` (an unknown voice fails the start with a
    message listing the voices); each chunk is synthesized in a worker thread that an interrupt
    abandons at once. Pass the same engine to several stages to share its model.
    """

    whole_chunks = True

    def __init__(
        self, engine: TTSEngine, options: TTSOptions | None = None, *, name: str | None = None
    ) -> None:
        super().__init__(options, name=name)
        self.engine = engine

    @property
    def source_rate(self) -> int:
        """The engine's native sample rate."""
        return self.engine.sample_rate

    async def start(self) -> None:
        """Check the voice, load the engine and synthesize once (off the event loop)."""
        self.engine.check_voice(self.options.voice)
        await run_sync_cancellable(self.engine.warm_up)

    async def synthesize(self, text: str) -> AsyncGenerator[np.ndarray, None]:
        """The chunk's audio in one piece, synthesized in a worker thread."""
        yield await run_sync_cancellable(self.engine.synthesize, text, self.options.voice, self.options.speed)
