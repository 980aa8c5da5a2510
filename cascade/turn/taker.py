"""TurnTaker: decides when the caller's turn ends and when the caller takes the floor from the bot.

Placed after the VAD and the ASR::

    turn = TurnTaker(TurnOptions(...))
    Pipeline([SileroVAD(), WhisperASR(), turn, ChatLLM(...), HibariTTS(), turn.playback_monitor()])

It reads caller audio (a rolling buffer for the Smart Turn model), VAD events and transcripts (each
final one read by the text end-of-turn model, after the bot's last words), and follows the bot's
playback (``BotSpeechStarted``/``BotSpeechEnded``). Everything it reads is forwarded. It emits

* ``EndOfTurn(text=<the turn's transcript>)`` when the caller is done: after a short silence when
  audio model, text model and transcript cues agree the turn is complete, after a long one while
  the caller is mid-sentence or dictating, never later than ``max_delay`` (see
  :mod:`cascade.turn.endpoint`);
* ``EndOfTurn(preemptive=True)`` on the stable partial text as soon as the end is likely -- at
  the first transcript after the VAD's ``SpeechPaused`` (0.06 s of quiet, before the stop is
  confirmed) when Smart Turn already hears a complete turn there; if the caller goes on, or the
  final text differs, the speculative reply is discarded with an interrupt and counted as
  wasted; if it matches, it is kept (no second EndOfTurn);
* an interrupt (``barge-in``) when the caller talks over the bot -- real words, or speech longer
  than ``min_duration`` that is neither a backchannel ("mm-hmm") nor the bot's own echo -- or
  says words before the reply to their last turn started playing (the turn was taken at a pause
  inside it: the reply is stale, and the new words are read as going on from the old ones);
* ``TextToSpeak`` with the unheard rest of the interrupted reply after a false interruption (a
  sound with no words), and short acknowledgements at pauses in long turns (backchannels).

The optional :class:`~cascade.turn.playback.BotPlaybackMonitor` (after the TTS) tells it what
the bot is saying: needed to resume after false interruptions and to recognize echo.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import anyio
import numpy as np
from anyio.abc import TaskGroup

from cascade.audio import resample
from cascade.frames import (
    PREEMPTIVE_DISCARDED,
    BotSpeechEnded,
    BotSpeechStarted,
    EndOfTurn,
    FinalTranscript,
    Frame,
    PartialTranscript,
    SpeechOnset,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    SpeechStopped,
    TextToSpeak,
    UserAudioFrame,
)
from cascade.stage import Stage, run_sync_cancellable
from cascade.turn.cues import TranscriptCue, is_backchannel, transcript_cues, words
from cascade.turn.echo import ENVELOPE_HOP, EchoGate, EchoVerdict, envelope_db, is_echo_text
from cascade.turn.endpoint import EndpointDecision, decide
from cascade.turn.features import SAMPLE_RATE
from cascade.turn.options import TurnOptions
from cascade.turn.playback import BotPlaybackMonitor, PlaybackLog

log = logging.getLogger("cascade.turn")

TurnModel = Callable[[np.ndarray], float]
"""An audio end-of-turn model: 16 kHz float audio of the turn so far -> P(turn complete)."""
TextTurnModel = Callable[[str, str], "float | None"]
"""A text end-of-turn model: (the turn's transcript, the bot's last words before it) -> P(the
caller's message ends there)."""

BACKCHANNEL_PREFIX = "backchannel-"
_SILENCE_DB = -55.0
_PAUSE_BELOW_PEAK_DB = 25.0
RESUME_SUFFIX = "-resume"
PAUSE_HOLD = "barge-in-pause"
"""The playback hold taken while caller speech over the bot is not yet known to interrupt."""
SPECULATIVE_HOLD = "speculative"
"""The playback hold on a preemptive reply until its turn is confirmed."""
RESUMED_HOLD = "caller-resumed"
"""The playback hold on a reply not yet played while the caller, who spoke again, is judged."""
_ONSET_GRACE = 0.1
"""Time after a ``SpeechOnset``'s ``confirm_by`` for the VAD's ``SpeechStarted`` to arrive."""


@dataclass
class _Overlap:
    """Caller speech while the bot speaks (or while its reply is on the way)."""

    start: float
    response_id: str
    speech: float = 0.0
    """Non-echo speech accumulated, seconds."""
    peak_db: float = -120.0
    """Loudest caller frame so far (frames far below it are pauses, not speech)."""
    text: str = ""
    final_text: str = ""
    sure_text: str = ""
    """``text`` without the words recognized with low probability."""
    sure_final: str = ""
    closed_at: float | None = None
    interrupted: bool = False
    paused: bool = False
    """The bot's audio is held while this speech is judged (``pause_on_speech``)."""

    @property
    def sure_said(self) -> str:
        """What the caller surely said over the bot so far (finals, then the latest partial)."""
        return (self.sure_final + " " + self.sure_text).strip()


@dataclass
class _Pending:
    """A caller turn that went silent: waiting for its end (or for the final transcript)."""

    speech_end: float
    probability: float | None
    decision: EndpointDecision
    deadline: float
    speculate_at: float
    """When a reply to a likely-complete turn may start being prepared (held until it is taken)."""
    decided_at: float | None = None
    preemptive_text: str | None = None
    barge_in: bool = False
    """The turn started by interrupting the bot (a false interruption if no words come)."""


def _normalize(text: str) -> str:
    return " ".join(words(text))


class TurnTaker(Stage):
    """End-of-turn detection, barge-in, false-interruption resume, backchannels, preemptive replies.

    ``model`` is the audio end-of-turn model: ``"smart-turn"`` (default, the prepared Smart Turn
    v3.2), any callable ``(audio_16k_float) -> probability``, or ``None`` for VAD + transcript
    only. ``text_model`` reads the final transcript: ``"smollm2-135m"`` (default, the prepared
    :class:`~cascade.turn.text_turn.TextTurnDetector`), any callable ``(text, bot_said) -> probability``,
    or ``None``. ``offload`` runs the models in a worker thread (keep it off in virtual-time tests).
    """

    inputs = (
        UserAudioFrame,
        SpeechOnset,
        SpeechStarted,
        SpeechStopped,
        SpeechPaused,
        SpeechResumed,
        PartialTranscript,
        FinalTranscript,
    )
    requires = (SpeechStarted, SpeechStopped)
    outputs = (EndOfTurn, TextToSpeak)
    events = (BotSpeechStarted, BotSpeechEnded)

    def __init__(
        self,
        options: TurnOptions | None = None,
        *,
        model: TurnModel | Literal["smart-turn"] | None = "smart-turn",
        text_model: TextTurnModel | Literal["smollm2-135m"] | None = "smollm2-135m",
        offload: bool = True,
        playback: PlaybackLog | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(name=name or "TurnTaker")
        self.options = options or TurnOptions()
        if model == "smart-turn":
            from cascade.turn.smart_turn import SmartTurnDetector

            self.model: TurnModel | None = SmartTurnDetector()
        else:
            self.model = model
        if text_model == "smollm2-135m":
            from cascade.turn.text_turn import TextTurnDetector

            self.text_model: TextTurnModel | None = TextTurnDetector()
        else:
            self.text_model = text_model
        self.offload = offload
        self.playback = playback or PlaybackLog()
        self._limiter = anyio.CapacityLimiter(1)
        self._reset_session_state()

    def playback_monitor(self) -> BotPlaybackMonitor:
        """The pass-through stage to put after the TTS so this turn-taker knows what is played."""
        return BotPlaybackMonitor(self.playback)

    def _reset_session_state(self) -> None:
        self._audio: deque[UserAudioFrame] = deque()
        self._audio_seconds = 0.0
        self._speaking = False
        self._segment_start: float | None = None
        self._turn_start: float | None = None
        self._finals: list[str] = []
        self._partial = ""
        self._final_since_stop = False
        self._text_verdict: tuple[str, float | None] = ("", None)
        """The text model's probability for the turn's final text (and that text)."""
        self._last_word_probability: float | None = None
        """The recognizer's probability for the last word of the turn's latest final text."""
        self._unplayed_turn = ""
        """The words of the last turn taken, until its reply starts playing."""
        self._taken_at = -1e9
        """When the last turn with words was taken."""
        self._carried = ""
        """The words of a turn whose reply the caller spoke over before hearing any of it: read
        before this turn's (the text model and the cues judge the caller's message as a whole)."""
        self._endpointing = self.options.endpointing
        """The endpointing options in force: ``min_delay`` grows each time this caller went on
        after the turn was taken (``patience_step``)."""
        self._bot_said = ""
        """What the caller heard of the bot's last reply (the text model's context)."""
        self._segment_heard = False
        """Some transcript of the latest speech segment arrived (the text is worth speculating on)."""
        self._pending: _Pending | None = None
        self._early: _Pending | None = None
        """A pause inside the caller's speech (``SpeechPaused``) that likely ends the turn: its reply
        may be prepared on the next transcript, before the VAD confirms the stop."""
        self._overlap: _Overlap | None = None
        self._bot_response: str | None = None
        self._reply_in_flight = False
        self._onset_until: float | None = None
        """The held reply plays at this time unless the VAD confirms the onset as speech."""
        self._last_heard: dict[str, str] = {}
        self._resume_for: str | None = None
        self._backchannel_at: float | None = None
        self._last_backchannel = -1e9
        self._backchannels = itertools.count()
        self._wake = anyio.Event()
        echo = self.options.echo
        self._echo_gate = EchoGate(echo.correlation, echo.double_talk_db)
        self.stats: dict[str, int] = {
            "end_of_turn": 0,
            "barge_in": 0,
            "false_interruption": 0,
            "resumed": 0,
            "ignored_overlap": 0,
            "echo_frames": 0,
            "preemptive": 0,
            "preemptive_wasted": 0,
            "early_end": 0,
            "backchannel": 0,
            "paused": 0,
            "pause_resumed": 0,
        }
        """Counters for tests, logs and benchmarks."""

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the end-of-turn models and start the timer."""
        self._reset_session_state()
        for model in (self.model, self.text_model):
            load = getattr(model, "load", None)
            if not callable(load):
                continue
            if self.offload:
                await run_sync_cancellable(load, limiter=self._limiter)
            else:
                load()
        self.spawn(self._timer, service=True)

    async def finish(self) -> None:
        """End of stream: a turn that went silent ends now."""
        pending = self._pending
        if pending is not None and pending.decided_at is None and not self._speaking:
            await self._end_turn(pending, reason="end_of_stream")
        elif pending is not None and pending.decided_at is not None and pending.preemptive_text is None:
            await self._emit_end_of_turn(pending, self._turn_text(), preemptive=False)
        # a speculative reply still held stands, and a paused one goes on: let them play out
        self.ctx.release_playback(SPECULATIVE_HOLD)
        self.ctx.release_playback(PAUSE_HOLD)
        self._release_for_caller()

    # --- frames ----------------------------------------------------------------------------

    async def process(self, frame: Frame) -> None:
        """Forward the frame and update the turn state."""
        await self.emit(frame)
        if isinstance(frame, UserAudioFrame):
            self._keep_audio(frame)
            if self._overlap is not None and self._speaking:
                self._check_overlap_audio(frame)
        elif isinstance(frame, SpeechOnset):
            self._on_speech_onset(frame)
        elif isinstance(frame, SpeechStarted):
            await self._on_speech_started(frame)
        elif isinstance(frame, SpeechStopped):
            await self._on_speech_stopped(frame)
        elif isinstance(frame, SpeechPaused):
            await self._on_speech_paused(frame)
        elif isinstance(frame, SpeechResumed):
            self._on_speech_resumed()
        elif isinstance(frame, PartialTranscript | FinalTranscript):
            await self._on_transcript(frame)
        self._wake.set()

    async def on_event(self, frame: Frame) -> None:
        """Follow the bot's playback."""
        if isinstance(frame, BotSpeechStarted):
            self._bot_response = frame.response_id
            if not frame.response_id.startswith(BACKCHANNEL_PREFIX):
                self._reply_in_flight = False
                self._unplayed_turn = ""
                if self._speaking and self._overlap is None and self.options.interruption.enabled:
                    # the caller spoke again after the turn was taken (the VAD reports speech
                    # late): the reply starts over them and is judged like speech over the bot
                    self._overlap = _Overlap(start=frame.pts, response_id=frame.response_id)
        elif isinstance(frame, BotSpeechEnded):
            self._last_heard[frame.response_id] = frame.heard_text
            if not frame.response_id.startswith(BACKCHANNEL_PREFIX) and frame.heard_text.strip():
                self._bot_said = frame.heard_text
            if self._bot_response == frame.response_id:
                self._bot_response = None
        self._wake.set()

    # --- caller audio ----------------------------------------------------------------------

    def _keep_audio(self, frame: UserAudioFrame) -> None:
        self._audio.append(frame)
        self._audio_seconds += frame.duration
        while self._audio and self._audio_seconds - self._audio[0].duration > self.options.buffer_seconds:
            self._audio_seconds -= self._audio.popleft().duration

    def _audio_between(self, t0: float, t1: float) -> tuple[np.ndarray, int]:
        """Caller audio (float, mono) between session times, at its own rate."""
        if not self._audio:
            return np.zeros(0, np.float32), SAMPLE_RATE
        rate = self._audio[-1].sample_rate
        parts = [f.floats() for f in self._audio if f.end > t0 and f.pts < t1]
        if not parts:
            return np.zeros(0, np.float32), rate
        first = next(f for f in self._audio if f.end > t0 and f.pts < t1)
        audio = np.concatenate(parts)
        skip = max(0, round((t0 - first.pts) * rate))
        return audio[skip : skip + max(0, round((t1 - max(t0, first.pts)) * rate))], rate

    async def _turn_probability(self, until: float) -> float | None:
        if self.model is None or self._turn_start is None:
            return None
        start = max(self._turn_start - self.options.endpointing.pre_speech, until - 8.0)
        audio, rate = self._audio_between(start, until)
        if len(audio) < rate // 10:
            return None
        audio = resample(audio, rate, SAMPLE_RATE)
        if self.offload:
            return await run_sync_cancellable(self.model, audio, limiter=self._limiter)
        return self.model(audio)

    # --- VAD events ------------------------------------------------------------------------

    def _bot_busy(self) -> bool:
        return self._bot_response is not None

    def _reply_may_wait(self) -> bool:
        """A reply to the caller's last turn is on its way and has not started playing."""
        unplayed = self._bot_response is None and self._reply_in_flight
        return unplayed and self.options.interruption.pause_on_speech

    def _on_speech_onset(self, frame: SpeechOnset) -> None:
        """The caller may be starting to speak: a reply about to play waits until the VAD knows."""
        if self._reply_may_wait() and not self._held_for_caller():
            self._hold_for_caller()
            self._onset_until = frame.confirm_by + _ONSET_GRACE

    async def _on_speech_started(self, frame: SpeechStarted) -> None:
        self._onset_until = None  # judged as speech from here
        self._speaking = True
        self._segment_start = frame.pts
        self._segment_heard = False
        self._partial = ""
        self._backchannel_at = None
        if self._turn_start is None:
            self._turn_start = frame.pts
        pending = self._pending
        if pending is not None:
            # the caller goes on: the pause was inside the turn
            self._pending = None
            if pending.preemptive_text is not None:
                self._discard_preemptive("caller-continued")
                return
        bot = self._bot_response
        if self._reply_may_wait():
            self._hold_for_caller()
        if bot is not None and bot.startswith(BACKCHANNEL_PREFIX):
            self.interrupt("backchannel-yield")  # never talk over the caller
        elif bot is not None and self.options.interruption.enabled:
            overlap = self._overlap
            if overlap is not None and overlap.closed_at is not None and overlap.response_id == bot:
                overlap.closed_at = None  # more speech soon after: one overlap, its speech adds up
            elif overlap is None or overlap.closed_at is not None:
                # counted from here: the VAD already required its own minimum before reporting
                self._overlap = _Overlap(start=frame.pts, response_id=bot)

    async def _on_speech_paused(self, frame: SpeechPaused) -> None:
        """The caller paused: judge the turn now, so its reply can start on the next transcript."""
        early = self._early
        if early is not None and early.preemptive_text is not None:
            early.speech_end = frame.pts  # a reply is prepared already; its text is checked on
            return
        self._early = None
        if not self.options.preemptive.enabled or self._overlap is not None or self._bot_busy():
            return
        self._early = await self._judge(frame.pts, speculate_at=frame.pts)

    def _on_speech_resumed(self) -> None:
        """Speech after a pause: a reply prepared in it stands while the words stay the same (a
        breath or the end of a drawn-out word resumes the speech without changing the text)."""
        if self._early is not None and self._early.preemptive_text is None:
            self._early = None

    def _keep_early(self, pending: _Pending) -> None:
        """The stop is confirmed: a reply prepared in a pause before it becomes ``pending``'s."""
        early, self._early = self._early, None
        if early is not None and early.preemptive_text is not None:
            pending.preemptive_text = early.preemptive_text

    async def _speculate_early(self) -> None:
        """A transcript during a pause: prepare the reply on it if the turn is likely over, or
        drop a prepared one if the words went on."""
        early = self._early
        if early is None or not self._speaking:
            return
        if early.preemptive_text is not None:
            if _normalize(self._turn_text()) != _normalize(early.preemptive_text):
                self._early = None
                self._discard_preemptive("caller-continued")
            return
        early.decision = self._decide(early.probability)
        if self._may_speculate(early):
            await self._speculate(early)

    async def _on_speech_stopped(self, frame: SpeechStopped) -> None:
        self._speaking = False
        self._final_since_stop = False
        overlap = self._overlap
        if overlap is not None and not overlap.interrupted:
            overlap.closed_at = frame.pts  # a cough, a backchannel or echo -- unless words follow
            return
        barge_in = overlap is not None and overlap.interrupted
        if barge_in:
            self._overlap = None
        speculate_at = frame.pts + self.options.preemptive.speculate_after
        pending = await self._judge(frame.pts, speculate_at=speculate_at)
        pending.barge_in = barge_in
        if barge_in and not self._has_words():
            pending.deadline = frame.pts + self.options.interruption.false_interruption_timeout
        self._keep_early(pending)
        self._pending = pending
        self._schedule_backchannel(frame.pts, pending.decision)
        log.debug("speech end %.2f: p=%s -> %s", frame.pts, pending.probability, pending.decision)

    async def _judge(self, speech_end: float, *, speculate_at: float) -> _Pending:
        """The turn as it stands at a silence after ``speech_end``: audio model and transcript
        cues decide how long to wait before taking it."""
        probability = await self._turn_probability(self.clock.now())
        decision = self._decide(probability)
        return _Pending(
            speech_end=speech_end,
            probability=probability,
            decision=decision,
            deadline=speech_end + decision.delay,
            speculate_at=speculate_at,
        )

    # --- transcripts -----------------------------------------------------------------------

    def _hold_for_caller(self) -> None:
        """The caller speaks again after their turn was taken, before its reply plays: the reply
        waits until their words (it is stale) or a sound without words (it plays) say which."""
        self.ctx.hold_playback(RESUMED_HOLD)

    def _held_for_caller(self) -> bool:
        return self.ctx.holds_playback(RESUMED_HOLD)  # (an interrupt, the stale reply's, drops it)

    def _release_for_caller(self) -> None:
        self._onset_until = None
        self.ctx.release_playback(RESUMED_HOLD)

    def _drop_stale_reply(self) -> None:
        """The caller speaks again before the reply to their last turn plays: the reply is stale,
        and what they say now goes on from that turn's words."""
        self._reply_in_flight = False
        self._carried = self._unplayed_turn if self.ctx.plays_audio else ""
        went_on = None if self._turn_start is None else self._turn_start - self._taken_at
        if self._carried and went_on is not None and went_on <= self._endpointing.uncertain_delay:
            self._be_more_patient()  # a pause inside the turn, not a new question to a slow bot
        self.interrupt("barge-in")

    def _be_more_patient(self) -> None:
        """The turn was taken at a pause inside it: wait longer at this caller's next pauses."""
        opts = self._endpointing
        longer = min(opts.min_delay + opts.patience_step, opts.uncertain_delay)
        self._endpointing = opts.model_copy(update={"min_delay": longer})
        self.stats["early_end"] += 1
        log.debug("the caller went on after the turn was taken: min_delay %.2f s", longer)

    def _decide(self, probability: float | None) -> EndpointDecision:
        cue = self._cues()
        text, text_probability = self._text_verdict
        final_text = cue.final and text == self._reading_text()
        return decide(
            probability,
            cue,
            self._endpointing,
            text_probability if final_text else None,
            last_word_probability=self._last_word_probability if cue.final else None,
        )

    async def _read_final_text(self) -> None:
        """The text model's verdict on the turn's transcript, now that a segment is final."""
        text = self._reading_text()
        if self.text_model is None or self._text_verdict[0] == text:
            return
        p = None
        if len(words(text)) >= self.options.endpointing.text_model_min_words:
            if self.offload:
                p = await run_sync_cancellable(self.text_model, text, self._bot_said, limiter=self._limiter)
            else:
                p = self.text_model(text, self._bot_said)
        self._text_verdict = (text, p)

    def _cues(self) -> TranscriptCue:
        # the text is final once the recognizer finalized the latest speech segment
        final = self._final_since_stop and not self._speaking and not self._partial.strip()
        return transcript_cues(self._reading_text(), final=final)

    def _turn_text(self) -> str:
        return " ".join(t for t in [*self._finals, self._partial] if t.strip()).strip()

    def _reading_text(self) -> str:
        """The turn's words as the models read them: after those of an unanswered turn it goes on."""
        return " ".join(t for t in (self._carried, self._turn_text()) if t).strip()

    def _has_words(self) -> bool:
        text = self._turn_text()
        return bool(words(text)) and not (self._resume_for is not None and is_backchannel(text))

    async def _on_transcript(self, frame: PartialTranscript | FinalTranscript) -> None:
        final = isinstance(frame, FinalTranscript)
        overlap = self._overlap
        if overlap is not None and not overlap.interrupted:
            sure = self._sure_text(frame)
            if final:
                overlap.final_text = (overlap.final_text + " " + frame.text).strip()
                overlap.sure_final = (overlap.sure_final + " " + sure).strip()
                overlap.text = overlap.sure_text = ""
            else:
                overlap.text, overlap.sure_text = frame.text, sure
            said = overlap.sure_said
            if self._real_words(said, overlap.response_id) >= self.options.interruption.min_words:
                self._barge_in(overlap, "words")
                if overlap.closed_at is not None:
                    await self._on_speech_stopped(SpeechStopped(pts=overlap.closed_at))
                    self._final_since_stop = final
            elif final and overlap.closed_at is not None:
                self._end_pause()  # the speech over the bot was said and it does not interrupt
            return
        self._segment_heard = True
        # (a reply prepared in the current pause is checked against its words instead)
        again = self._speaking or self._held_for_caller()  # words said after the turn was taken
        stale = self._reply_in_flight and again and self._early is None
        if stale and self._real_words(frame.text, None):
            self._drop_stale_reply()
        if final:
            self._finals.append(frame.text)
            if frame.text.strip():
                self._last_word_probability = frame.words[-1].probability if frame.words else None
            self._partial = ""
            self._final_since_stop = not self._speaking
            if self._final_since_stop and not self._has_words():
                self._release_for_caller()  # a cough or a breath: the reply plays now
            await self._read_final_text()
        else:
            self._partial = frame.text
        pending = self._pending
        if pending is None:
            await self._speculate_early()
            return
        if pending.barge_in and not self._has_words():
            if final and self._final_since_stop and pending.decided_at is None:
                await self._end_turn(pending, reason="false_interruption")  # no words: resume now
            return
        if pending.decided_at is None:
            self._redecide(pending)
            self._review_speculation(pending)
        elif final and self._final_since_stop:
            await self._final_after_decision(pending)

    def _redecide(self, pending: _Pending) -> None:
        """New transcript while waiting: the cues may shorten or lengthen the wait."""
        pending.decision = self._decide(pending.probability)
        pending.deadline = pending.speech_end + pending.decision.delay
        self._wake.set()

    def _sure_text(self, frame: PartialTranscript | FinalTranscript) -> str:
        """The transcript without its low-probability words (all of it when words are not given)."""
        if not frame.words:
            return frame.text
        least = self.options.interruption.min_word_probability
        return " ".join(w.text.strip() for w in frame.words if w.probability >= least)

    def _real_words(self, text: str, response_id: str | None) -> int:
        """Words that can interrupt: not a backchannel, not the bot's own words echoed back."""
        if not text.strip() or is_backchannel(text):
            return 0
        playing = self.playback.text(response_id) if response_id else ""
        if self.options.echo.enabled and is_echo_text(text, playing):
            return 0
        return len(words(text))

    # --- barge-in --------------------------------------------------------------------------

    def _check_overlap_audio(self, frame: UserAudioFrame) -> None:
        overlap = self._overlap
        if overlap is None or overlap.interrupted or overlap.closed_at is not None:
            return
        verdict = self._echo_verdict(frame.end)
        if verdict != "caller":
            self.stats["echo_frames"] += 1
            if verdict == "echo":  # echo tails and blips must not add up to an interruption
                overlap.speech = max(0.0, overlap.speech - frame.duration / 2)
            return
        level = float(envelope_db(frame.floats(), frame.sample_rate).max(initial=-120.0))
        overlap.peak_db = max(overlap.peak_db, level)
        if level < max(_SILENCE_DB, overlap.peak_db - _PAUSE_BELOW_PEAK_DB):
            return  # a pause (or the silence the VAD waits for before reporting the stop)
        overlap.speech += frame.duration
        opts = self.options.interruption
        if opts.pause_on_speech and not overlap.paused:
            self._start_pause(overlap)
        said = overlap.sure_said
        if said and is_backchannel(said):
            limit = opts.backchannel_max_duration
        else:
            limit = opts.paused_min_duration if overlap.paused else opts.min_duration
        if overlap.speech >= limit:
            self._barge_in(overlap, "duration")

    def _echo_verdict(self, now: float) -> EchoVerdict:
        opts = self.options.echo
        if not opts.enabled or not self.playback.attached:
            return "caller"
        caller, rate = self._audio_between(now - opts.window, now)
        caller_env = envelope_db(caller, rate)
        played = self.playback.envelope(now - len(caller_env) * ENVELOPE_HOP - opts.max_delay, now)
        return self._echo_gate.classify(caller_env, played)

    def _barge_in(self, overlap: _Overlap, why: str) -> None:
        overlap.interrupted = True
        self._turn_start = overlap.start
        self._finals = [overlap.final_text] if overlap.final_text else []
        self._last_word_probability = None
        self._partial = overlap.text
        self.stats["barge_in"] += 1
        self._resume_for = overlap.response_id
        log.debug("barge-in (%s) at %.2f", why, self.clock.now())
        self.interrupt("barge-in")
        self._reply_in_flight = False

    def _discard_preemptive(self, why: str) -> None:
        self.stats["preemptive_wasted"] += 1
        self.ctx.metrics.count_wasted_generation()
        self._reply_in_flight = False
        self.interrupt(f"{PREEMPTIVE_DISCARDED}:{why}")

    def _start_pause(self, overlap: _Overlap) -> None:
        """Hold the bot's audio while the caller's speech over it is judged."""
        overlap.paused = True
        self.stats["paused"] += 1
        self.ctx.hold_playback(PAUSE_HOLD)
        self.playback.pause(self.clock.now())
        log.debug("bot paused for caller speech at %.2f", self.clock.now())

    def _end_pause(self) -> None:
        """Let a reply paused for caller speech go on (the speech did not interrupt it)."""
        overlap = self._overlap
        if overlap is not None and overlap.paused and not overlap.interrupted:
            overlap.paused = False
            self.stats["pause_resumed"] += 1
            self.ctx.release_playback(PAUSE_HOLD)
            self.playback.resume(self.clock.now())
            log.debug("bot goes on after a pause at %.2f", self.clock.now())

    # --- timers ----------------------------------------------------------------------------

    def _next_deadline(self) -> float | None:
        times = []
        if self._pending is not None and not self._speaking:
            p = self._pending
            if p.decided_at is None:
                times.append(p.deadline)
                if self._may_speculate(p):
                    times.append(p.speculate_at)
            else:
                times.append(p.decided_at + self.options.endpointing.final_transcript_timeout)
        if self._backchannel_at is not None:
            times.append(self._backchannel_at)
        if self._onset_until is not None:
            times.append(self._onset_until)
        overlap = self._overlap
        if overlap is not None and overlap.closed_at is not None:
            times.append(overlap.closed_at + self.options.endpointing.final_transcript_timeout)
            if overlap.paused:
                times.append(overlap.closed_at + self.options.interruption.pause_timeout)
        return min(times) if times else None

    async def _timer(self) -> None:
        while True:
            self._wake = anyio.Event()
            deadline = self._next_deadline()
            if deadline is None:
                await self._wake.wait()
                continue
            if self.clock.now() < deadline:
                async with anyio.create_task_group() as tg:

                    async def sleeper(tg: TaskGroup = tg, until: float = deadline) -> None:
                        await self.clock.sleep_until(until)
                        tg.cancel_scope.cancel()

                    async def waker(tg: TaskGroup = tg) -> None:
                        await self._wake.wait()
                        tg.cancel_scope.cancel()

                    tg.start_soon(sleeper)
                    tg.start_soon(waker)
            if self.clock.now() >= deadline:
                await self._fire(self.clock.now())

    async def _fire(self, now: float) -> None:
        if self._backchannel_at is not None and now >= self._backchannel_at:
            await self._say_backchannel()
        if self._onset_until is not None and now >= self._onset_until:
            self._release_for_caller()  # a click or a breath, not speech
        overlap = self._overlap
        wait = self.options.endpointing.final_transcript_timeout
        closed_at = overlap.closed_at if overlap is not None else None
        if closed_at is not None and now >= closed_at + min(wait, self.options.interruption.pause_timeout):
            self._end_pause()
        if overlap is not None and closed_at is not None and now >= closed_at + wait:
            self.stats["ignored_overlap"] += 1
            self._overlap = None
            if not self._pending:
                self._forget_turn()
        pending = self._pending
        if pending is None or self._speaking:
            return
        if pending.decided_at is None:
            if now >= pending.deadline:
                await self._end_turn(pending, reason=pending.decision.reason)
            elif now >= pending.speculate_at and self._may_speculate(pending):
                await self._speculate(pending)
        elif now >= pending.decided_at + wait:
            if pending.preemptive_text is None:
                await self._emit_end_of_turn(pending, self._turn_text(), preemptive=False)
            else:
                self.ctx.release_playback(SPECULATIVE_HOLD)
                self._close_turn()  # no final came: the preemptive text stands

    # --- ending turns ----------------------------------------------------------------------

    async def _end_turn(self, pending: _Pending, *, reason: str) -> None:
        """The silence is long enough: answer, or resume after a false interruption."""
        self._backchannel_at = None
        text = self._turn_text()
        if not self._has_words():
            wait = (
                self.options.interruption.false_interruption_timeout
                if pending.barge_in
                else self.options.endpointing.final_transcript_timeout
            )
            transcript_due = pending.speech_end + wait
            if not self._final_since_stop and self.clock.now() < transcript_due and reason != "end_of_stream":
                pending.deadline = transcript_due  # the recognizer may still deliver the words
                return
            if pending.barge_in:
                await self._resume()
            self._close_turn()
            return
        pending.decided_at = self.clock.now()
        self._resume_for = None
        if reason == "end_of_stream":
            pending.decision = pending.decision.model_copy(update={"reason": reason})
        if self._final_since_stop or reason == "end_of_stream":
            if pending.preemptive_text is None:
                await self._emit_end_of_turn(pending, text, preemptive=False)
            else:
                self._mark(pending)
                await self._final_after_decision(pending)  # keep the prepared reply or correct it
            return
        if self._may_speculate(pending):
            await self._speculate(pending)
        if pending.preemptive_text is not None:
            self._mark(pending)  # the turn is taken; the reply plays once the final text confirms it

    def _may_speculate(self, pending: _Pending) -> bool:
        """A reply may be prepared now on the text so far: the turn is very likely over."""
        opts = self.options.preemptive
        prob = pending.probability
        return (
            opts.enabled
            and pending.preemptive_text is None
            and pending.decision.likely_complete
            and (prob is None or prob >= opts.min_probability)
            and self._segment_heard
            and self._has_words()
            and not self._turn_text().rstrip().endswith("-")  # a word the recognizer has not finished
        )

    async def _speculate(self, pending: _Pending) -> None:
        """Start the reply on the text so far; its audio is held until the turn is confirmed."""
        text = self._turn_text()
        pending.preemptive_text = text
        self.stats["preemptive"] += 1
        self._reply_in_flight = True
        self.ctx.metrics.mark("user_speech_end", pending.speech_end)
        self.ctx.hold_playback(SPECULATIVE_HOLD)
        await self.emit(self._end_of_turn_frame(pending, text, preemptive=True))

    def _review_speculation(self, pending: _Pending) -> None:
        """New transcript before the turn is taken: a prepared reply to other words is dropped."""
        spoken = pending.preemptive_text
        if spoken is None or pending.decided_at is not None:
            return
        changed = self._final_since_stop and _normalize(self._turn_text()) != _normalize(spoken)
        if changed or not pending.decision.likely_complete:
            pending.preemptive_text = None
            self._discard_preemptive("text-changed" if changed else "text-incomplete")

    async def _final_after_decision(self, pending: _Pending) -> None:
        """The final transcript after the end was decided: confirm, correct or reopen the turn."""
        text = self._turn_text()
        preemptive = pending.preemptive_text
        self._redecide(pending)
        waiting = pending.deadline > self.clock.now()  # the final text shows the caller is not done
        same = preemptive is not None and _normalize(text) == _normalize(preemptive)
        if same and not waiting:
            self.ctx.release_playback(SPECULATIVE_HOLD)
            self._close_turn()  # the speculative reply answers the right text: keep it
            return
        if same and pending.decision.likely_complete:
            # the same words, but they may go on ("a table for"): the turn is taken later, and the
            # prepared reply stays prepared (and held) meanwhile
            pending.decided_at = None
            self.ctx.metrics.retract_end_of_turn()
            return
        if preemptive is not None:
            self._discard_preemptive("text-incomplete" if waiting else "text-changed")
            pending.preemptive_text = None
        if waiting:
            pending.decided_at = None
            return
        await self._emit_end_of_turn(pending, text, preemptive=False)

    def _mark(self, pending: _Pending) -> None:
        self.ctx.metrics.mark("user_speech_end", pending.speech_end)
        self.ctx.metrics.mark("end_of_turn", self.clock.now())

    async def _emit_end_of_turn(self, pending: _Pending, text: str, *, preemptive: bool) -> None:
        self._mark(pending)
        frame = self._end_of_turn_frame(pending, text, preemptive=preemptive)
        self._close_turn()
        self._reply_in_flight = True
        await self.emit(frame)

    def _end_of_turn_frame(self, pending: _Pending, text: str, *, preemptive: bool) -> EndOfTurn:
        self.stats["end_of_turn"] += 0 if preemptive else 1
        return EndOfTurn(
            pts=self.clock.now(),
            generation=self.generation,
            text=text,
            probability=1.0 if pending.probability is None else pending.probability,
            reason=pending.decision.reason,
            preemptive=preemptive,
        )

    def _close_turn(self) -> None:
        self._release_for_caller()
        if self._has_words():
            self._unplayed_turn = self._reading_text()
            self._taken_at = self.clock.now()
        self._pending = None
        self._forget_turn()

    def _forget_turn(self) -> None:
        self._turn_start = None
        self._finals = []
        self._last_word_probability = None
        self._partial = ""
        self._final_since_stop = False
        self._carried = ""

    # --- resume and backchannels -----------------------------------------------------------

    async def _resume(self) -> None:
        """False interruption: say the part of the interrupted reply the caller did not hear."""
        self.stats["false_interruption"] += 1
        response_id, self._resume_for = self._resume_for, None
        if response_id is None or not self.options.interruption.resume_false_interruption:
            return
        spoken = self.playback.text(response_id).split()
        if not spoken:
            log.info("false interruption, but no BotPlaybackMonitor reported the reply: not resuming")
            return
        heard = len(self._last_heard.get(response_id, "").split())
        rest = " ".join(spoken[heard:])
        if not rest:
            return
        self.stats["resumed"] += 1
        self._reply_in_flight = True
        await self.emit(
            TextToSpeak(
                pts=self.clock.now(),
                generation=self.generation,
                text=rest,
                response_id=response_id + RESUME_SUFFIX,
            )
        )

    def _schedule_backchannel(self, speech_end: float, decision: EndpointDecision) -> None:
        opts = self.options.backchannel
        if not opts.enabled or self._turn_start is None or self._bot_busy():
            return
        if speech_end - self._turn_start < opts.min_turn_duration or decision.delay <= opts.min_pause:
            return
        if speech_end - self._last_backchannel < opts.min_interval:
            return
        self._backchannel_at = speech_end + opts.min_pause

    async def _say_backchannel(self) -> None:
        self._backchannel_at = None
        if (
            self._speaking
            or self._bot_busy()
            or self._pending is None
            or not self.options.backchannel.phrases
        ):
            return
        phrases = self.options.backchannel.phrases
        n = next(self._backchannels)
        self._last_backchannel = self.clock.now()
        self.stats["backchannel"] += 1
        await self.emit(
            TextToSpeak(
                pts=self.clock.now(),
                generation=self.generation,
                text=phrases[n % len(phrases)],
                response_id=f"{BACKCHANNEL_PREFIX}{n}",
            )
        )
