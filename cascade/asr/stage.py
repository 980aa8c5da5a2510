"""WhisperASR: streaming faster-whisper between the VAD and the turn-taker.

Frames in: caller audio (any rate) and the VAD's ``SpeechStarted``/``SpeechStopped`` (a
:class:`~cascade.turn.vad.SileroVAD` must come earlier in the chain). All three are forwarded
unchanged, at once. Frames out, per speech segment (one ``SpeechStarted``..``SpeechStopped`` pair):

* zero or more :class:`~cascade.frames.PartialTranscript` while the caller speaks: ``text`` is the
  current guess, ``committed`` a prefix of it that never changes again (each partial's
  ``committed`` extends the previous one's), ``words`` the words of ``text`` with session times;
* exactly one :class:`~cascade.frames.FinalTranscript` after the segment's ``SpeechStopped``
  (``text`` may be empty for a noise that is not speech). Its text starts with the last committed
  text, its words carry session times and probabilities, ``confidence`` is ``exp`` of the mean
  token log-probability. The session metric ``final_transcript`` is marked when it is emitted.

Transcripts are emitted with ``pts`` = the session time they became available, in segment order.

Latency design: one Whisper decode costs about the same whatever the audio length (the encoder
always sees 30 s), so the final must not wait for a decode started at ``SpeechStopped``. The stage
watches the audio with its own Silero instance and starts a decode as soon as the caller has been
quiet for ``speculation_silence``; when the VAD then confirms the stop (``min_silence`` later),
that decode is usually done and becomes the final. Partials are decoded every
``partial_interval`` of new speech, words two consecutive decodes agree on are committed
(:mod:`cascade.asr.agreement`), and past ``trim_after`` seconds committed audio is cut off the
front so only the tail is re-decoded, with the committed text as prompt.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field

import anyio

from cascade.asr.agreement import LocalAgreement, join
from cascade.asr.engine import Hypothesis, WhisperEngine
from cascade.asr.options import StreamingOptions, WhisperOptions
from cascade.asr.timeline import AudioTimeline
from cascade.frames import (
    ErrorFrame,
    FinalTranscript,
    Frame,
    PartialTranscript,
    SpeechStarted,
    SpeechStopped,
    UserAudioFrame,
    Word,
)
from cascade.stage import Stage
from cascade.turn.vad import SileroModel, StreamingVAD

log = logging.getLogger("cascade.asr")

_IDLE_KEEP = 2.0
"""Audio kept while nobody speaks (covers the VAD's confirmation delay, padding and pre-roll)."""
_WINDOW = 0.04
"""A little more than one Silero window: speech this recent means the caller is speaking now."""
_PROMPT_CHARS = 200
_FORCE_TRIM = 25.0
"""Audio in one decode window past which pending words are committed so it can be trimmed."""


@dataclass
class ASRStats:
    """Counters for benchmarks and diagnostics."""

    decodes: int = 0
    decode_seconds: list[float] = field(default_factory=list)
    finals: int = 0
    speculative_finals: int = 0
    """Finals whose decode was already done (or running) when the VAD confirmed the stop."""
    errors: int = 0


@dataclass
class _Segment:
    start: float
    generation: int
    agreement: LocalAgreement = field(default_factory=LocalAgreement)
    stop: float | None = None
    window_start: float = 0.0
    """Start of the audio re-decoded each time (moves forward when committed audio is trimmed)."""
    prompt: str = ""
    decoded_until: float = 0.0
    latest: Hypothesis | None = None
    last_text: str = ""

    def __post_init__(self) -> None:
        self.window_start = self.decoded_until = self.start


class WhisperASR(Stage):
    """Streaming Whisper recognizer stage (see the module docstring for its exact behaviour).

    >>> Pipeline([SileroVAD(), WhisperASR(WhisperOptions(model="base")), TurnTaker(), ...])
    """

    inputs = (UserAudioFrame, SpeechStarted, SpeechStopped)
    requires = (SpeechStarted, SpeechStopped)
    outputs = (PartialTranscript, FinalTranscript, ErrorFrame)

    def __init__(
        self,
        options: WhisperOptions | None = None,
        *,
        streaming: StreamingOptions | None = None,
        engine: WhisperEngine | None = None,
        name: str | None = None,
    ) -> None:
        """Configure the recognizer; the model loads when the session starts.

        ``engine`` shares an already loaded :class:`WhisperEngine` (its options win).
        """
        super().__init__(name=name)
        self.engine = engine or WhisperEngine(options)
        self.options = self.engine.options
        self.streaming = streaming or StreamingOptions()
        self.stats = ASRStats()
        self._segments: deque[_Segment] = deque()
        self._audio = AudioTimeline()
        self._speech_vad: StreamingVAD | None = None
        self._last_speech = float("-inf")
        self._changed = anyio.Event()
        self._progress = anyio.Event()
        self._limiter: anyio.CapacityLimiter | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the model (off the event loop; shared per process) and start the decoder."""
        await self.engine.load()
        self._limiter = anyio.CapacityLimiter(self.options.max_concurrent)
        self._speech_vad = StreamingVAD(SileroModel())
        self.spawn(self._decoder, service=True)

    async def finish(self) -> None:
        """End of stream: close an open segment and wait for every final transcript."""
        if self._segments and self._segments[-1].stop is None:
            self._segments[-1].stop = self._audio.end
        while self._segments:
            self._progress = anyio.Event()
            self._changed.set()
            await self._progress.wait()

    # --- input -------------------------------------------------------------------------------

    async def process(self, frame: Frame) -> None:
        """Forward the frame and record it; decoding happens in the decoder task."""
        await self.emit(frame)
        if isinstance(frame, UserAudioFrame):
            self._on_audio(frame)
        elif isinstance(frame, SpeechStarted):
            self._open(max(self._audio.start, frame.pts - self.streaming.pre_roll), frame.generation)
        elif isinstance(frame, SpeechStopped):
            open_segment = self._segments[-1] if self._segments else None
            if open_segment is None or open_segment.stop is not None:
                open_segment = self._open(frame.speech_start, frame.generation)
            open_segment.stop = frame.pts
            open_segment.generation = frame.generation
        self._changed.set()

    def _open(self, start: float, generation: int) -> _Segment:
        if self._segments and self._segments[-1].stop is None:
            self._segments[-1].stop = start  # a start without a stop: close the old segment
        segment = _Segment(start=start, generation=generation)
        self._segments.append(segment)
        return segment

    def _on_audio(self, frame: UserAudioFrame) -> None:
        self._audio.append(frame)
        assert self._speech_vad is not None
        samples = frame.samples()
        if samples.ndim == 2:
            samples = samples.mean(axis=1).astype(samples.dtype)
        threshold = self.streaming.speech_threshold
        for _, end, prob in self._speech_vad.push(samples, frame.sample_rate, frame.pts):
            if prob >= threshold:
                self._last_speech = end
        if self._segments:
            self._segments[-1].generation = frame.generation
            keep_from = self._segments[0].window_start
        else:
            keep_from = self._audio.end - _IDLE_KEEP
        self._audio.drop_before(keep_from)

    # --- decoding ----------------------------------------------------------------------------

    async def _decoder(self) -> None:
        """Decode and emit, one decode at a time, oldest segment first."""
        while True:
            changed = self._changed = anyio.Event()
            if not self._segments:
                self._progress.set()
                await changed.wait()
                continue
            segment = self._segments[0]
            if segment.stop is not None:
                await self._finalize(segment)
                self._segments.popleft()
                self._progress.set()
            elif self._due(segment):
                await self._partial(segment)
            else:
                await changed.wait()

    def _due(self, segment: _Segment) -> bool:
        """Whether an open segment has new speech worth a decode now."""
        opts = self.streaming
        speech_end = max(self._last_speech, segment.start)
        if segment.decoded_until >= speech_end + opts.speculation_silence:
            return False  # the last decode already saw all speech and the pause after it
        now = self._audio.end
        if now >= speech_end + opts.speculation_silence:
            return True  # the caller went quiet: decode now, this is likely the final
        # partials only while speech goes on: a pause may be starting, and the CPU must be free
        # for the speculative final decode when it does
        speaking = self._last_speech >= now - _WINDOW
        return speaking and now - segment.decoded_until >= opts.partial_interval

    async def _decode(self, segment: _Segment, until: float) -> Hypothesis | None:
        audio = self._audio.slice(segment.window_start, until)
        segment.decoded_until = until
        if audio.size == 0:
            return None
        try:
            hypothesis = await self.engine.decode(
                audio, offset=segment.window_start, prompt=segment.prompt, limiter=self._limiter
            )
        except Exception as exc:
            self.stats.errors += 1
            log.exception("decode failed")
            await self.emit(
                ErrorFrame(
                    pts=self.clock.now(),
                    generation=segment.generation,
                    stage=self.name,
                    message=f"speech recognition failed for this utterance: {type(exc).__name__}: {exc}",
                )
            )
            return None
        self.stats.decodes += 1
        self.stats.decode_seconds.append(hypothesis.seconds)
        segment.latest = hypothesis
        return hypothesis

    async def _partial(self, segment: _Segment) -> None:
        hypothesis = await self._decode(segment, self._audio.end)
        if hypothesis is None or (segment.stop is not None and self._covers(segment, hypothesis)):
            return  # the final follows at once; a partial now would only delay it
        segment.agreement.update(hypothesis.words)
        agreement = segment.agreement
        words = [*agreement.committed, *agreement.pending]
        text = join(words)
        if text and text != segment.last_text:
            segment.last_text = text
            await self.emit(
                PartialTranscript(
                    pts=self.clock.now(),
                    generation=segment.generation,
                    text=text,
                    committed=join(agreement.committed),
                    words=tuple(words),
                )
            )
        self._maybe_trim(segment, hypothesis.audio_end)

    def _covers(self, segment: _Segment, hypothesis: Hypothesis) -> bool:
        assert segment.stop is not None
        return hypothesis.audio_end >= segment.stop + self.streaming.final_margin

    async def _finalize(self, segment: _Segment) -> None:
        hypothesis = segment.latest
        if hypothesis is not None and self._covers(segment, hypothesis):
            self.stats.speculative_finals += 1
        else:
            assert segment.stop is not None
            until = min(self._audio.end, segment.stop + max(self.streaming.final_margin, 0.2))
            hypothesis = await self._decode(segment, max(until, segment.decoded_until))
        words: list[Word] = segment.agreement.finalize(hypothesis.words if hypothesis else ())
        now = self.clock.now()
        self.stats.finals += 1
        self.ctx.metrics.mark("final_transcript", now)
        await self.emit(
            FinalTranscript(
                pts=now,
                generation=segment.generation,
                text=join(words),
                words=tuple(words),
                confidence=hypothesis.confidence if hypothesis and words else 0.0,
                language=hypothesis.language if hypothesis else (self.options.language or "en"),
            )
        )

    def _maybe_trim(self, segment: _Segment, decoded_end: float) -> None:
        """Cut committed audio off the front once the re-decoded window grows too long."""
        opts = self.streaming
        if decoded_end - segment.window_start <= opts.trim_after:
            return
        agreement = segment.agreement
        if decoded_end - segment.window_start > _FORCE_TRIM:
            agreement.force_commit(decoded_end - opts.trim_after / 2)
        if not agreement.committed or agreement.committed_end <= segment.window_start:
            return
        cut = max(segment.window_start, agreement.committed_end - opts.keep_context)
        before = [w for w in agreement.committed if w.end <= cut]
        segment.window_start = cut
        segment.prompt = join(before)[-_PROMPT_CHARS:]
        log.debug("trimmed segment window to %.2f", cut)
