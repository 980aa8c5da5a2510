"""WhisperASR: streaming faster-whisper between the VAD and the turn-taker.

Frames in: caller audio (any rate), the VAD's ``SpeechStarted``/``SpeechStopped`` and its
``SpeechProbabilities`` (a :class:`~cascade.vad.SileroVAD` must come earlier in the chain).
Audio, starts and stops are forwarded unchanged, at once; the probabilities are used up here.
Frames out, per speech segment (one ``SpeechStarted``..``SpeechStopped`` pair):

* zero or more :class:`~cascade.frames.PartialTranscript` while the caller speaks: ``text`` is the
  current guess, ``committed`` a prefix of it that never changes again (each partial's
  ``committed`` extends the previous one's), ``words`` the words of ``text`` with session times;
* exactly one :class:`~cascade.frames.FinalTranscript` after the segment's ``SpeechStopped``
  (``text`` may be empty for a noise that is not speech). Its text starts with the last committed
  text, its words carry session times and probabilities, ``confidence`` is ``exp`` of the mean
  token log-probability. The session metric ``final_transcript`` is marked when it is emitted.

Transcripts are emitted with ``pts`` = the session time they became available, in segment order.

Latency design: the final must not wait for a decode started at ``SpeechStopped``. The stage
watches the VAD's per-window speech probabilities and starts a decode as soon as the caller has
been quiet for ``speculation_silence``; when the VAD then confirms the stop (``min_silence`` later),
that decode is usually done and becomes the final. Whisper pads every input to 30 s; here each
decode's encoder sees a window only a little longer than the audio (:mod:`cascade.asr.window`,
``WhisperOptions.min_window``), which makes a decode of a few seconds of speech 3-4x cheaper, so
the speculative decode is mostly done before the stop is confirmed and a partial decode running
when the caller stops delays the final little.

Partials are decoded every ``partial_interval`` of new speech (and at every short pause, the
speculative decodes that did not become finals). Words two decodes at least ``commit_gap`` of
audio apart, each of at least ``min_commit_audio``, agree on are committed
(:mod:`cascade.asr.agreement`); past ``trim_after`` seconds committed audio is cut off the front
so only the tail is re-decoded, with the committed text as prompt. The finals of segments that
ended shortly before (``StreamingOptions.context``) precede that prompt, so a sentence the VAD
cut at its pauses is still decoded as one text; the audio of the previous segments' last words
(``StreamingOptions.audio_context``) is decoded again in front of the segment, so its first
words are heard in context, and the hypothesis words that say those words again are found by
aligning them with the previous finals (text, then time) and dropped, as are words that end
before the segment's audio starts. A phrase Whisper says twice
in a row (a decoding loop) is kept once; words copying the previous final's last words are
dropped. Final words starting after the VAD's speech end (Whisper's "Thank you." in trailing
silence) are dropped.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from dataclasses import dataclass, field

import anyio

from cascade.asr.agreement import join
from cascade.asr.engine import Hypothesis, WhisperEngine
from cascade.asr.options import StreamingOptions, WhisperOptions
from cascade.asr.segment import Segment, last_chars
from cascade.asr.timeline import AudioTimeline
from cascade.frames import (
    ErrorFrame,
    FinalTranscript,
    Frame,
    PartialTranscript,
    SpeechProbabilities,
    SpeechStarted,
    SpeechStopped,
    UserAudioFrame,
    Word,
)
from cascade.stage import Stage

log = logging.getLogger("cascade.asr")

_IDLE_KEEP = 2.0
"""Audio kept while nobody speaks (covers the VAD's confirmation delay, padding and pre-roll)."""
_WINDOW = 0.04
"""A little more than one Silero window: speech this recent means the caller is speaking now."""
_AFTER_SPEECH = 0.15
"""Final words starting this long after the VAD's speech end are dropped: Whisper invents text
("Thank you.") in the silence a decode ends with."""


@dataclass
class ASRStats:
    """Counters for benchmarks and diagnostics."""

    decodes: int = 0
    decode_seconds: list[float] = field(default_factory=list)
    finals: int = 0
    speculative_finals: int = 0
    """Finals whose decode was already done (or running) when the VAD confirmed the stop."""
    errors: int = 0


class WhisperASR(Stage):
    """Streaming Whisper recognizer stage (see the module docstring for its exact behaviour).

    A recorded question in 20 ms frames, in real time (decodes run in worker threads): partials
    while the caller speaks, each extending the text committed before, then one final:

    >>> import anyio
    >>> from cascade.asr import WhisperASR
    >>> from cascade.audio import load_audio
    >>> from cascade.clock import RealClock
    >>> from cascade.frames import FinalTranscript, PartialTranscript, UserAudioFrame
    >>> from cascade.testing import run_stages
    >>> from cascade.vad import SileroVAD
    >>> audio = load_audio("examples/question.wav", 16000)
    >>> frames = [
    ...     UserAudioFrame(pts=i / 16000, pcm=audio[i : i + 320].tobytes(), sample_rate=16000)
    ...     for i in range(0, len(audio), 320)
    ... ]
    >>> async def transcribe():
    ...     return await run_stages([SileroVAD(), WhisperASR()], frames, clock=RealClock(), tail=0.5)
    >>> result = anyio.run(transcribe)
    >>> partials = result.of(PartialTranscript)
    >>> bool(partials) and all(p.text.startswith(p.committed) for p in partials)
    True
    >>> (final,) = result.of(FinalTranscript)
    >>> final.text
    'What are your opening hours on Saturday?'
    >>> [word.text for word in final.words]
    ['What', 'are', 'your', 'opening', 'hours', 'on', 'Saturday?']
    >>> final.pts > final.words[-1].end   # after the VAD confirmed the end of speech
    True
    """

    inputs = (UserAudioFrame, SpeechProbabilities, SpeechStarted, SpeechStopped)
    requires = (SpeechStarted, SpeechStopped, SpeechProbabilities)
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
        self._segments: deque[Segment] = deque()
        self._audio = AudioTimeline()
        self._heard: SpeechProbabilities | None = None
        """The VAD's probabilities of the audio frame that comes next."""
        self._last_speech = float("-inf")
        """End of the latest window the VAD found speech-like (``speech_threshold``)."""
        self._changed = anyio.Event()
        self._progress = anyio.Event()
        self._limiter: anyio.CapacityLimiter | None = None
        self._history: deque[Word] = deque()
        """Words of recent finals: the text and audio context of the next segments."""
        self._last_stop = float("-inf")
        """Audio time the last segment's speech ended."""
        self._last_words: list[Word] = []
        """Words of the last non-empty final (a next segment's decodes may repeat the last)."""

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the model (off the event loop; shared per process) and start the decoder."""
        await self.engine.load()
        self._limiter = anyio.CapacityLimiter(self.options.max_concurrent)
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
        if isinstance(frame, SpeechProbabilities):
            # kept for the audio frame that follows: the decoder sees both or neither
            self._heard = frame
            return
        await self.emit(frame)
        if isinstance(frame, UserAudioFrame):
            self._on_audio(frame)
        elif isinstance(frame, SpeechStarted):
            # the pre-roll stops where the previous segment's speech ended: decoding the end of
            # its last word again makes Whisper guess a word at the start ("self, do to lock")
            start = max(self._audio.start, frame.pts - self.streaming.pre_roll, self._last_stop)
            self._open(min(start, frame.pts), frame.generation)
        elif isinstance(frame, SpeechStopped):
            self._last_stop = frame.pts
            open_segment = self._segments[-1] if self._segments else None
            if open_segment is None or open_segment.stop is not None:
                open_segment = self._open(frame.speech_start, frame.generation)
            open_segment.stop = frame.pts
            open_segment.generation = frame.generation
        self._changed.set()

    def _open(self, start: float, generation: int) -> Segment:
        if self._segments and self._segments[-1].stop is None:
            self._segments[-1].stop = start  # a start without a stop: close the old segment
        segment = Segment(start=start, generation=generation)
        segment.agreement.follow(self._last_words)
        self._segments.append(segment)
        return segment

    def _on_audio(self, frame: UserAudioFrame) -> None:
        self._audio.append(frame)
        heard, self._heard = self._heard, None
        if heard is not None:
            threshold = self.streaming.speech_threshold
            for end, prob in zip(heard.ends, heard.probabilities, strict=True):
                if prob >= threshold:
                    self._last_speech = end
        audio_context = self.streaming.audio_context
        if self._segments:
            self._segments[-1].generation = frame.generation
            first = self._segments[0]
            keep_from = first.window_start if first.prepared else first.start - audio_context
        else:
            keep_from = self._audio.end - _IDLE_KEEP - audio_context
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

    def _due(self, segment: Segment) -> bool:
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

    def _prepare(self, segment: Segment) -> None:
        """Start the segment's window at the previous segments' last words, if they are recent.

        Only words of at most ``audio_context`` before the segment are decoded again, from a
        little before the first of them (Whisper's word starts are a little late); their
        hypothesis words are dropped again by :meth:`~cascade.asr.segment.Segment.own`.
        """
        segment.prepared = True
        since = segment.start - self.streaming.audio_context
        again = [w for w in self._history if w.start >= since]
        if not again or self.streaming.audio_context <= 0:
            return
        earlier = [w.end for w in self._history if w.end <= again[0].start]
        start = max(again[0].start - 0.1, earlier[-1] if earlier else float("-inf"))
        segment.window_start = max(self._audio.start, min(start, segment.start))
        segment.again = tuple(w for w in again if w.start >= segment.window_start)

    async def _decode(self, segment: Segment, until: float) -> Hypothesis | None:
        if not segment.prepared:
            self._prepare(segment)
        audio = self._audio.slice(segment.window_start, until)
        segment.decoded_until = until
        if audio.size == 0:
            return None
        prompt = last_chars(" ".join(p for p in (self._context(segment), segment.prompt) if p))
        try:
            hypothesis = await self.engine.decode(
                audio, offset=segment.window_start, prompt=prompt, limiter=self._limiter
            )
        except Exception as exc:
            self.stats.errors += 1
            log.exception("decode failed")
            await self.emit(
                self.frame(
                    ErrorFrame,
                    generation=segment.generation,
                    stage=self.name,
                    message=f"speech recognition failed for this utterance: {type(exc).__name__}: {exc}",
                )
            )
            return None
        self.stats.decodes += 1
        self.stats.decode_seconds.append(hypothesis.seconds)
        hypothesis = segment.own(hypothesis)
        segment.latest = hypothesis
        return hypothesis

    def _context(self, segment: Segment) -> str:
        """Text of the finals that ended within ``context`` seconds before the segment and whose
        audio is not in the segment's window."""
        opts = self.streaming
        while self._history and self._history[0].end < segment.start - max(opts.context, opts.audio_context):
            self._history.popleft()
        since = segment.start - opts.context
        return join([w for w in self._history if w.end >= since and w.start < segment.window_start])

    async def _partial(self, segment: Segment) -> None:
        hypothesis = await self._decode(segment, self._audio.end)
        if hypothesis is None or (segment.stop is not None and self._covers(segment, hypothesis)):
            return  # the final follows at once; a partial now would only delay it
        agreement = segment.agreement
        opts = self.streaming
        if (
            hypothesis.audio_end >= segment.agreed_until + opts.commit_gap
            and hypothesis.audio_end - segment.window_start >= opts.min_commit_audio
        ):
            segment.agreed_until = hypothesis.audio_end
            agreement.update(hypothesis.words)
            words = [*agreement.committed, *agreement.pending]
        else:
            words = [*agreement.committed, *agreement.tail(hypothesis.words)]
        text = join(words)
        if text and text != segment.last_text:
            segment.last_text = text
            await self.emit(
                self.frame(
                    PartialTranscript,
                    generation=segment.generation,
                    text=text,
                    committed=join(agreement.committed),
                    words=tuple(words),
                )
            )
        segment.trim(hypothesis.audio_end, self.streaming)

    def _covers(self, segment: Segment, hypothesis: Hypothesis) -> bool:
        assert segment.stop is not None
        return hypothesis.audio_end >= segment.stop + self.streaming.final_margin

    async def _finalize(self, segment: Segment) -> None:
        hypothesis = segment.latest
        if hypothesis is not None and self._covers(segment, hypothesis):
            self.stats.speculative_finals += 1
        else:
            assert segment.stop is not None
            until = min(self._audio.end, segment.stop + max(self.streaming.final_margin, 0.2))
            hypothesis = await self._decode(segment, max(until, segment.decoded_until))
        assert segment.stop is not None
        heard = [w for w in hypothesis.words if w.start < segment.stop + _AFTER_SPEECH] if hypothesis else []
        words: list[Word] = segment.agreement.finalize(heard)
        if words:
            self._last_words = words
            for later in itertools.islice(self._segments, 1, 2):
                later.agreement.follow(words)  # its decodes start only now
            self._history.extend(words)
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
