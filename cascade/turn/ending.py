"""The end of the caller's turn: when to take it, and the reply prepared before it is taken.

:class:`TurnEnding` owns the caller's turn (:class:`~cascade.turn.caller.CallerTurn`, their recent
audio) and the wait for its end (:class:`~cascade.turn.waiting.Waiting`). It hears the caller's
speech stop and pause and reads the transcripts; at a silence it asks the audio model and the
transcript how long to wait, reads each final transcript with the text model, prepares the reply
early when the end is likely (``EndTurn(preemptive=True)``, its audio held), and confirms,
corrects or throws that reply away as the words come. Its methods return the actions to take;
the :class:`~cascade.turn.decider.TurnDecider` joins them with the bot's side.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from cascade.audio import resample
from cascade.frames import PREEMPTIVE_DISCARDED, FinalTranscript, PartialTranscript
from cascade.turn import actions as act
from cascade.turn.backchannel import Backchannels
from cascade.turn.caller import CallerAudio, CallerTurn, normalize
from cascade.turn.cues import words
from cascade.turn.endpoint import calibrated
from cascade.turn.features import SAMPLE_RATE
from cascade.turn.options import TurnOptions
from cascade.turn.stats import TurnStats
from cascade.turn.waiting import Endpointer, Waiting, may_speculate

log = logging.getLogger("cascade.turn")

TurnModel = Callable[[np.ndarray], float]
"""An audio end-of-turn model: 16 kHz float audio of the turn so far -> P(turn complete)."""
TextTurnModel = Callable[[str, str], "float | None"]
"""A text end-of-turn model: (the turn's transcript, the bot's last words before it) -> P(the
caller's message ends there)."""

SPECULATIVE_HOLD = "speculative"
"""The playback hold on a preemptive reply until its turn is confirmed."""
RESUMED_HOLD = "caller-resumed"
"""The playback hold on a reply not yet played while the caller, who spoke again, is judged."""

Resume = Callable[[str], list[act.Action]]
"""Says the unheard rest of the reply ``response_id`` after a false interruption."""


class TurnEnding:
    """The caller's turn and the wait for its end (see the module docstring)."""

    def __init__(
        self,
        options: TurnOptions,
        stats: TurnStats,
        resume: Resume,
        *,
        turn_model: TurnModel | None = None,
        text_model: TextTurnModel | None = None,
    ) -> None:
        self.options = options
        self.stats = stats
        self.turn_model = turn_model
        self.text_model = text_model
        self.caller = CallerTurn()
        self.audio = CallerAudio(options.buffer_seconds)
        self.endpointer = Endpointer(calibrated(options.endpointing, text_model))
        self.backchannels = Backchannels(options.backchannel)
        self.pending: Waiting | None = None
        """The caller went quiet: the wait for the end of their turn."""
        self.early: Waiting | None = None
        """A pause inside the caller's speech (``SpeechPaused``) that likely ends the turn: its reply
        may be prepared on the next transcript, before the VAD confirms the stop."""
        self._resume = resume
        self._now = 0.0
        self._out: list[act.Action] = []

    # --- the caller's voice ----------------------------------------------------------------------

    def speech_started(self, pts: float, now: float) -> list[act.Action]:
        """The caller speaks (again): a reply prepared for the pause before is thrown away."""
        self._begin(now)
        self.caller.speech_started(pts)
        self.backchannels.cancel()
        pending, self.pending = self.pending, None
        if pending is not None and pending.preemptive_text is not None:
            self._discard("caller-continued")  # the pause was inside the turn
        return self._out

    def speech_paused(self, pts: float, now: float, *, may_prepare: bool) -> None:
        """The caller paused: judge the turn now, so its reply can start on the next transcript."""
        self._now = now
        early = self.early
        if early is not None and early.preemptive_text is not None:
            early.speech_end = pts  # a reply is prepared already; its text is checked on
            return
        self.early = self._judge(pts, speculate_at=pts) if may_prepare else None

    def speech_resumed(self) -> None:
        """Speech after a pause: a reply prepared in it stands while the words stay the same."""
        if self.early is not None and self.early.preemptive_text is None:
            self.early = None

    def stopped(self, pts: float, now: float, *, barge_in: bool, bot_busy: bool) -> None:
        """The caller stopped at ``pts`` (``barge_in``: their speech had interrupted the bot;
        ``bot_busy``: the bot is playing something)."""
        self._now = now
        self.caller.speech_stopped()
        pending = self._judge(pts, speculate_at=pts + self.options.preemptive.speculate_after)
        pending.barge_in = barge_in
        if barge_in and not self.caller.has_words():
            pending.deadline = pts + self.options.interruption.false_interruption_timeout
        early, self.early = self.early, None
        if early is not None and early.preemptive_text is not None:
            pending.preemptive_text = early.preemptive_text  # prepared in a pause before the stop
        self.pending = pending
        if not bot_busy:
            self.backchannels.schedule(self.caller.start, pts, pending.decision.delay)
        log.debug("speech end %.2f: p=%s -> %s", pts, pending.probability, pending.decision)

    def _judge(self, speech_end: float, *, speculate_at: float) -> Waiting:
        """The turn as it stands at a silence after ``speech_end``."""
        return self.endpointer.wait(
            speech_end, self._turn_probability(), self.caller, speculate_at=speculate_at
        )

    def _turn_probability(self) -> float | None:
        start = self.caller.start
        if self.turn_model is None or start is None:
            return None
        until = self._now
        audio, rate = self.audio.between(max(start - self.options.endpointing.pre_speech, until - 8.0), until)
        if len(audio) < rate // 10:
            return None
        return self.turn_model(resample(audio, rate, SAMPLE_RATE))

    # --- the words ---------------------------------------------------------------------------------

    def transcript(
        self, frame: PartialTranscript | FinalTranscript, now: float, *, bot_said: str
    ) -> list[act.Action]:
        """A transcript of the caller's turn (``bot_said``: what they heard the bot say last)."""
        self._begin(now)
        caller = self.caller
        final = isinstance(frame, FinalTranscript)
        if isinstance(frame, FinalTranscript):
            caller.add_final(frame)
            if caller.final_since_stop and not caller.has_words():
                self._do(act.Release(RESUMED_HOLD))  # a cough or a breath: the reply plays now
            self._read_final_text(bot_said)
        else:
            caller.partial = frame.text
        pending = self.pending
        if pending is None:
            self._speculate_early()
        elif pending.barge_in and not caller.has_words():
            if final and caller.final_since_stop and pending.decided_at is None:
                self._end_turn(pending, reason="false_interruption")  # no words: resume now
        elif pending.decided_at is None:
            self.endpointer.redecide(pending, caller)
            self._review_speculation(pending)
        elif final and caller.final_since_stop:
            self._final_after_decision(pending)
        return self._out

    def _read_final_text(self, bot_said: str) -> None:
        """The text model's verdict on the turn's transcript, now that a segment is final."""
        text = self.caller.reading_text()
        if self.text_model is None or self.caller.text_verdict[0] == text:
            return
        p = None
        if len(words(text)) >= self.options.endpointing.text_model_min_words:
            p = self.text_model(text, bot_said)
        self.caller.text_verdict = (text, p)

    # --- time ----------------------------------------------------------------------------------------

    def deadlines(self) -> list[float]:
        """When :meth:`tick` (or :meth:`backchannel`) has something to do."""
        times = [] if self.backchannels.due is None else [self.backchannels.due]
        pending = self.pending
        if pending is None or self.caller.speaking:
            return times
        if pending.decided_at is not None:
            return [*times, pending.decided_at + self.options.endpointing.final_transcript_timeout]
        return [*times, pending.deadline, *([pending.speculate_at] if self._may_speculate(pending) else [])]

    def backchannel(self, now: float, *, bot_busy: bool) -> list[act.Action]:
        """Time passed: an acknowledgement due now is said if the caller is still silent."""
        self._begin(now)
        due = self.backchannels.due
        if due is None or now < due:
            return self._out
        if self.caller.speaking or bot_busy or self.pending is None:
            self.backchannels.cancel()
            return self._out
        said = self.backchannels.take(now)
        if said is not None:
            self.stats.backchannel += 1
            self._do(act.Say(*said))
        return self._out

    def tick(self, now: float) -> list[act.Action]:
        """Time passed: take the turn, start its reply early, or give up waiting for the final text."""
        self._begin(now)
        pending = self.pending
        if pending is None or self.caller.speaking:
            return self._out
        if pending.decided_at is None:
            if now >= pending.deadline:
                self._end_turn(pending, reason=pending.decision.reason)
            elif now >= pending.speculate_at and self._may_speculate(pending):
                self._speculate(pending)
        elif now >= pending.decided_at + self.options.endpointing.final_transcript_timeout:
            if pending.preemptive_text is None:
                self._emit_end_of_turn(pending, self.caller.text(), preemptive=False)
            else:
                self._do(act.Release(SPECULATIVE_HOLD))
                self._close_turn()  # no final came: the preemptive text stands
        return self._out

    def end_of_stream(self, now: float) -> list[act.Action]:
        """No more input: a turn that went silent ends now."""
        self._begin(now)
        pending = self.pending
        if pending is not None and pending.decided_at is None and not self.caller.speaking:
            self._end_turn(pending, reason="end_of_stream")
        elif pending is not None and pending.decided_at is not None and pending.preemptive_text is None:
            self._emit_end_of_turn(pending, self.caller.text(), preemptive=False)
        return self._out

    # --- taking the turn -----------------------------------------------------------------------------

    def _end_turn(self, pending: Waiting, *, reason: str) -> None:
        """The silence is long enough: answer, or resume after a false interruption."""
        self.backchannels.cancel()
        caller = self.caller
        if not caller.has_words():
            wait = (
                self.options.interruption.false_interruption_timeout
                if pending.barge_in
                else self.options.endpointing.final_transcript_timeout
            )
            transcript_due = pending.speech_end + wait
            if not caller.final_since_stop and self._now < transcript_due and reason != "end_of_stream":
                pending.deadline = transcript_due  # the recognizer may still deliver the words
                return
            if pending.barge_in:
                self.stats.false_interruption += 1
                interrupted, caller.interrupted = caller.interrupted, None
                if interrupted is not None:
                    self._out += self._resume(interrupted)
            self._close_turn()
            return
        pending.decided_at = self._now
        caller.interrupted = None
        if reason == "end_of_stream":
            pending.decision = pending.decision.model_copy(update={"reason": reason})
        if caller.final_since_stop or reason == "end_of_stream":
            if pending.preemptive_text is None:
                self._emit_end_of_turn(pending, caller.text(), preemptive=False)
            else:
                self._mark(pending)
                self._final_after_decision(pending)  # keep the prepared reply or correct it
            return
        if self._may_speculate(pending):
            self._speculate(pending)
        if pending.preemptive_text is not None:
            self._mark(pending)  # the turn is taken; the reply plays once the final text confirms it

    def _final_after_decision(self, pending: Waiting) -> None:
        """The final transcript after the end was decided: confirm, correct or reopen the turn."""
        text = self.caller.text()
        preemptive = pending.preemptive_text
        self.endpointer.redecide(pending, self.caller)
        waiting = pending.deadline > self._now  # the final text shows the caller is not done
        same = preemptive is not None and normalize(text) == normalize(preemptive)
        if same and not waiting:
            self._do(act.Release(SPECULATIVE_HOLD))
            self._close_turn()  # the speculative reply answers the right text: keep it
            return
        if same and pending.decision.may_be_over:
            # the same words, but they may go on ("a table for"): the turn is taken later, and the
            # prepared reply stays prepared (and held) meanwhile
            pending.decided_at = None
            self._do(act.RetractEndOfTurn())
            return
        if preemptive is not None:
            self._discard("text-incomplete" if waiting else "text-changed")
            pending.preemptive_text = None
        if waiting:
            pending.decided_at = None
            return
        self._emit_end_of_turn(pending, text, preemptive=False)

    def _mark(self, pending: Waiting) -> None:
        self._do(act.Mark("user_speech_end", pending.speech_end))
        self._do(act.Mark("end_of_turn", self._now))

    def _emit_end_of_turn(self, pending: Waiting, text: str, *, preemptive: bool) -> None:
        self._mark(pending)
        end = self._end_turn_action(pending, text, preemptive=preemptive)
        self._close_turn()
        self._do(end)

    def _end_turn_action(self, pending: Waiting, text: str, *, preemptive: bool) -> act.EndTurn:
        self.stats.end_of_turn += 0 if preemptive else 1
        probability = 1.0 if pending.probability is None else pending.probability
        return act.EndTurn(text, probability, pending.decision.reason, preemptive)

    def _close_turn(self) -> None:
        self._do(act.Release(RESUMED_HOLD))
        self.caller.taken(self._now)
        self.pending = None

    # --- the reply prepared early --------------------------------------------------------------------

    def _may_speculate(self, pending: Waiting) -> bool:
        return may_speculate(pending, self.caller, self.options.preemptive)

    def _speculate(self, pending: Waiting) -> None:
        """Start the reply on the text so far; its audio is held until the turn is confirmed."""
        text = self.caller.text()
        pending.preemptive_text = text
        self.stats.preemptive += 1
        self._do(act.Mark("user_speech_end", pending.speech_end))
        self._do(act.Hold(SPECULATIVE_HOLD))
        self._do(self._end_turn_action(pending, text, preemptive=True))

    def _speculate_early(self) -> None:
        """A transcript during a pause: prepare the reply on it if the turn is likely over, or
        drop a prepared one if the words went on."""
        early = self.early
        if early is None or not self.caller.speaking:
            return
        if early.preemptive_text is not None:
            if normalize(self.caller.text()) != normalize(early.preemptive_text):
                self.early = None
                self._discard("caller-continued")
            return
        early.decision = self.endpointer.decision(early.probability, self.caller)
        if may_speculate(early, self.caller, self.options.preemptive, in_speech=True):
            self._speculate(early)

    def _review_speculation(self, pending: Waiting) -> None:
        """New transcript before the turn is taken: a prepared reply to other words is dropped."""
        spoken = pending.preemptive_text
        if spoken is None or pending.decided_at is not None:
            return
        changed = self.caller.final_since_stop and normalize(self.caller.text()) != normalize(spoken)
        if changed or not pending.decision.may_be_over:
            pending.preemptive_text = None
            self._discard("text-changed" if changed else "text-incomplete")

    def _discard(self, why: str) -> None:
        """Throw the prepared reply away (it was never heard)."""
        self.stats.preemptive_wasted += 1
        self._do(act.CountWasted())
        self._do(act.Interrupt(f"{PREEMPTIVE_DISCARDED}:{why}", drops_reply=True))

    # --- plumbing ------------------------------------------------------------------------------------

    def _begin(self, now: float) -> None:
        self._now, self._out = now, []

    def _do(self, action: act.Action) -> None:
        self._out.append(action)
