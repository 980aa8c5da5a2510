"""The turn decider: a synchronous core that says what to do about each thing that happens.

``TurnDecider.decide(event, now) -> actions`` reads one event -- a caller audio frame, a VAD
event, a transcript, a report of the bot's playback, or ``Tick`` when a deadline it announced
(:meth:`~TurnDecider.next_deadline`) has come -- and returns :mod:`~cascade.turn.actions` for
its stage to carry out. It never awaits, never touches the session and keeps no clock; tests call
it with plain values. The end-of-turn models are plain functions it is given (its stage runs a
decision that may consult one in a worker thread).

Its state lives in parts, each owning its own: :class:`~cascade.turn.ending.TurnEnding` (the
caller's turn, the wait for its end, the reply prepared early, backchannels),
:class:`~cascade.turn.overlap.BargeIn` (speech over the bot, echo) and
:class:`~cascade.turn.heard.BotPlayback` (what the caller heard). The decider keeps what joins them:
the playback holds it took, whether a reply is on its way, and the rules for a caller who speaks
while the bot does or before its reply plays.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from cascade.frames import (
    BotAudioPlayed,
    BotSpeechEnded,
    BotSpeechStarted,
    EndOfStream,
    FinalTranscript,
    Interrupt,
    PartialTranscript,
    SessionPlaysAudio,
    SpeechOnset,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    SpeechStopped,
    UserAudioFrame,
)
from cascade.turn import actions as act
from cascade.turn.ending import RESUMED_HOLD, SPECULATIVE_HOLD, TextTurnModel, TurnEnding, TurnModel
from cascade.turn.heard import BACKCHANNEL_PREFIX, BotPlayback
from cascade.turn.options import TurnOptions
from cascade.turn.overlap import BargeIn, Overlap
from cascade.turn.stats import TurnStats

log = logging.getLogger("cascade.turn")

RESUME_SUFFIX = "-resume"
PAUSE_HOLD = "barge-in-pause"
"""The playback hold taken while caller speech over the bot is not yet known to interrupt."""
ONSET_GRACE = 0.1
"""Time after a ``SpeechOnset``'s ``confirm_by`` for the VAD's ``SpeechStarted`` to arrive."""


@dataclass(frozen=True)
class Tick:
    """Time passed: the deadline from :meth:`TurnDecider.next_deadline` has come."""


Event = (
    UserAudioFrame
    | SpeechOnset
    | SpeechStarted
    | SpeechStopped
    | SpeechPaused
    | SpeechResumed
    | PartialTranscript
    | FinalTranscript
    | BotSpeechStarted
    | BotSpeechEnded
    | BotAudioPlayed
    | SessionPlaysAudio
    | Interrupt
    | EndOfStream
    | Tick
)
"""What :meth:`TurnDecider.decide` reads (an ``Interrupt`` is one started elsewhere)."""
MODEL_EVENTS = (SpeechStopped, SpeechPaused, PartialTranscript, FinalTranscript)
"""The events whose decision may consult an end-of-turn model."""


class TurnDecider:
    """End of turn, barge-in, false-interruption resume, backchannels, preemptive replies.

    >>> from cascade.frames import FinalTranscript, SpeechStarted, SpeechStopped
    >>> decider = TurnDecider()  # no audio or text model: VAD silence and transcript cues
    >>> decider.decide(SpeechStarted(pts=0.0), now=0.0)
    []
    >>> decider.decide(SpeechStopped(pts=1.2), now=1.4)  # the VAD confirms a stop 0.2 s late
    []
    >>> decider.decide(FinalTranscript(pts=1.5, text="What time do you open?"), now=1.5)
    []
    >>> decider.next_deadline() < 1.5  # a question: the quick wait is over already
    True
    >>> for action in decider.decide(Tick(), now=1.5):
    ...     print(action)
    Mark(name='user_speech_end', at=1.2)
    Mark(name='end_of_turn', at=1.5)
    EndTurn(text='What time do you open?', probability=1.0, reason='cue:question', preemptive=False)
    """

    def __init__(
        self,
        options: TurnOptions | None = None,
        *,
        turn_model: TurnModel | None = None,
        text_model: TextTurnModel | None = None,
    ) -> None:
        self.options = options or TurnOptions()
        self.stats = TurnStats()
        self.ending = TurnEnding(
            self.options, self.stats, self._resume, turn_model=turn_model, text_model=text_model
        )
        self.caller = self.ending.caller
        self.playback = BotPlayback()
        self.barge_in = BargeIn(self.options)
        self.reply_in_flight = False
        """A reply to the caller's last turn is on its way (not yet playing)."""
        self.onset_until: float | None = None
        """The reply held at a ``SpeechOnset`` plays at this time unless the VAD confirms speech."""
        self.holds: set[str] = set()
        """The playback holds this decider took that still stand."""
        self._now = 0.0
        self._actions: list[act.Action] = []

    # --- the interface -----------------------------------------------------------------------------

    def decide(self, event: Event, now: float) -> list[act.Action]:
        """What to do about ``event`` at session time ``now``."""
        self._now, self._actions = now, []
        ending = self.ending
        if isinstance(event, UserAudioFrame):
            self._on_audio(event)
        elif isinstance(event, PartialTranscript | FinalTranscript):
            self._on_transcript(event)
        elif isinstance(event, SpeechOnset):
            self._on_speech_onset(event)
        elif isinstance(event, SpeechStarted):
            self._on_speech_started(event)
        elif isinstance(event, SpeechStopped):
            self._caller_stopped(event.pts)
        elif isinstance(event, SpeechPaused):
            may_prepare = self.options.preemptive.enabled and self.barge_in.overlap is None
            ending.speech_paused(event.pts, now, may_prepare=may_prepare and not self.playback.busy)
        elif isinstance(event, SpeechResumed):
            ending.speech_resumed()
        elif isinstance(event, BotSpeechStarted | BotSpeechEnded | BotAudioPlayed | SessionPlaysAudio):
            self._on_playback(event)
        elif isinstance(event, Interrupt):
            self.holds.clear()  # an interrupt from elsewhere: the session dropped every hold
        elif isinstance(event, Tick):
            self._on_tick()
        elif isinstance(event, EndOfStream):
            self._do_all(ending.end_of_stream(now))
            # a speculative reply still held stands, and a paused one goes on: let them play out
            for reason in (SPECULATIVE_HOLD, PAUSE_HOLD, RESUMED_HOLD):
                self._do(act.Release(reason))
        return self._actions

    def next_deadline(self) -> float | None:
        """When to call :meth:`decide` with :class:`Tick` next (``None``: only on events)."""
        times = self.ending.deadlines()
        if self.onset_until is not None:
            times.append(self.onset_until)
        overlap = self.barge_in.overlap
        if overlap is not None and overlap.closed_at is not None:
            times.append(overlap.closed_at + self.options.endpointing.final_transcript_timeout)
            if overlap.paused:
                times.append(overlap.closed_at + self.options.interruption.pause_timeout)
        return min(times) if times else None

    def _on_tick(self) -> None:
        now = self._now
        self._do_all(self.ending.backchannel(now, bot_busy=self.playback.busy))
        if self.onset_until is not None and now >= self.onset_until:
            self._do(act.Release(RESUMED_HOLD))  # a click or a breath, not speech
        overlap = self.barge_in.overlap
        wait = self.options.endpointing.final_transcript_timeout
        closed_at = overlap.closed_at if overlap is not None else None
        if closed_at is not None and now >= closed_at + min(wait, self.options.interruption.pause_timeout):
            self._end_pause()
        if closed_at is not None and now >= closed_at + wait:
            self.stats.ignored_overlap += 1
            self.barge_in.overlap = None
            if self.ending.pending is None:
                self.caller.forget()
        self._do_all(self.ending.tick(now))

    # --- the bot's playback ----------------------------------------------------------------------

    def _on_playback(
        self, event: BotSpeechStarted | BotSpeechEnded | BotAudioPlayed | SessionPlaysAudio
    ) -> None:
        playback = self.playback
        if isinstance(event, BotAudioPlayed):
            playback.played(event)
        elif isinstance(event, SessionPlaysAudio):
            playback.plays_audio = True
        elif isinstance(event, BotSpeechEnded):
            playback.ended(event)
        else:
            playback.started(event)
            if event.response_id.startswith(BACKCHANNEL_PREFIX):
                return
            self.reply_in_flight = False
            self.caller.unplayed = ""
            if self.caller.speaking and self.barge_in.overlap is None and self.options.interruption.enabled:
                # the caller spoke again after the turn was taken (the VAD reports speech late):
                # the reply starts over them and is judged like speech over the bot
                self.barge_in.open(event.pts, event.response_id)

    def _reply_may_wait(self) -> bool:
        """A reply to the caller's last turn is on its way and has not started playing."""
        unplayed = self.playback.playing is None and self.reply_in_flight
        return unplayed and self.options.interruption.pause_on_speech

    def _resume(self, response_id: str) -> list[act.Action]:
        """False interruption: say the part of the interrupted reply the caller did not hear."""
        if not self.options.interruption.resume_false_interruption:
            return []
        rest = self.playback.unheard_rest(response_id)
        if not rest:
            if not self.playback.plays_audio:
                log.info("false interruption, but the session plays no audio: nothing to resume")
            return []
        self.stats.resumed += 1
        self.reply_in_flight = True
        return [act.Say(rest, response_id + RESUME_SUFFIX)]

    # --- the caller's voice --------------------------------------------------------------------------

    def _on_audio(self, frame: UserAudioFrame) -> None:
        self.ending.audio.add(frame)
        overlap = self.barge_in.overlap
        if (
            overlap is None
            or not self.caller.speaking
            or overlap.interrupted
            or overlap.closed_at is not None
        ):
            return
        was_paused = overlap.paused
        step = self.barge_in.hear(frame, self.ending.audio, self.playback)
        if step in ("echo", "unsure"):
            self.stats.echo_frames += 1
        if overlap.paused and not was_paused:
            self.stats.paused += 1
            soft = self.options.interruption  # ducked first: a backchannel leaves no gap
            self._do(act.Hold(PAUSE_HOLD, duck_db=soft.duck_db, duck_for=soft.duck_for))
            log.debug("bot paused for caller speech at %.2f", self._now)
        if step == "interrupt":
            self._interrupted_by(overlap, "duration")

    def _on_speech_onset(self, frame: SpeechOnset) -> None:
        """The caller may be starting to speak: a reply about to play waits until the VAD knows."""
        if self._reply_may_wait() and RESUMED_HOLD not in self.holds:
            self._do(act.Hold(RESUMED_HOLD))
            self.onset_until = frame.confirm_by + ONSET_GRACE

    def _on_speech_started(self, frame: SpeechStarted) -> None:
        self.onset_until = None  # judged as speech from here
        discarded = self.ending.speech_started(frame.pts, self._now)
        if discarded:
            self._do_all(discarded)  # the caller went on: the reply prepared in the pause goes
            return
        bot = self.playback.playing
        if self._reply_may_wait():
            self._do(act.Hold(RESUMED_HOLD))
        if bot is not None and bot.startswith(BACKCHANNEL_PREFIX):
            self._do(act.Interrupt("backchannel-yield", drops_reply=False))  # never talk over the caller
        elif bot is not None and self.options.interruption.enabled:
            self.barge_in.speech_started(frame.pts, bot)

    def _caller_stopped(self, pts: float) -> None:
        overlap = self.barge_in.overlap
        if overlap is not None and not overlap.interrupted:
            self.caller.speech_stopped()
            overlap.closed_at = pts  # a cough, a backchannel or echo -- unless words follow
            return
        self.barge_in.overlap = None
        self.ending.stopped(pts, self._now, barge_in=overlap is not None, bot_busy=self.playback.busy)

    def _on_transcript(self, frame: PartialTranscript | FinalTranscript) -> None:
        overlap = self.barge_in.overlap
        if overlap is not None and not overlap.interrupted:
            if self.barge_in.read(frame, self.playback):
                self._interrupted_by(overlap, "words")
                if overlap.closed_at is not None:
                    self._caller_stopped(overlap.closed_at)
                    self.caller.final_since_stop = isinstance(frame, FinalTranscript)
            elif isinstance(frame, FinalTranscript) and overlap.closed_at is not None:
                self._end_pause()  # the speech over the bot was said and it does not interrupt
            return
        self.caller.segment_heard = True
        # words said after the turn was taken (a reply prepared in the current pause is checked
        # against its words instead): the reply on its way is stale
        again = self.caller.speaking or RESUMED_HOLD in self.holds
        stale = self.reply_in_flight and again and self.ending.early is None
        if stale and self.barge_in.real_words(frame.text, None, self.playback):
            self._drop_stale_reply()
        self._do_all(self.ending.transcript(frame, self._now, bot_said=self.playback.last_words))

    # --- the caller over the bot ---------------------------------------------------------------------

    def _interrupted_by(self, overlap: Overlap, why: str) -> None:
        """Barge-in: the caller's speech over the bot is their new turn."""
        self.barge_in.interrupted(overlap)
        self.caller.restart(overlap.start, overlap.final_text, overlap.text, interrupted=overlap.response_id)
        self.stats.barge_in += 1
        log.debug("barge-in (%s) at %.2f", why, self._now)
        self._do(act.Interrupt("barge-in"))

    def _end_pause(self) -> None:
        """Let a reply paused for caller speech go on (the speech did not interrupt it)."""
        if self.barge_in.go_on():
            self.stats.pause_resumed += 1
            self._do(act.Release(PAUSE_HOLD))
            log.debug("bot goes on after a pause at %.2f", self._now)

    def _drop_stale_reply(self) -> None:
        """The caller speaks again before the reply to their last turn plays: the reply is stale,
        and what they say now goes on from that turn's words."""
        caller = self.caller
        caller.carried = caller.unplayed if self.playback.plays_audio else ""
        went_on = None if caller.start is None else caller.start - caller.taken_at
        endpointer = self.ending.endpointer
        if caller.carried and went_on is not None and went_on <= endpointer.options.uncertain_delay:
            longer = endpointer.be_more_patient()  # a pause inside the turn, not a new question
            self.stats.early_end += 1
            log.debug("the caller went on after the turn was taken: min_delay %.2f s", longer)
        self._do(act.Interrupt("barge-in"))

    # --- actions -------------------------------------------------------------------------------------

    def _do_all(self, actions: list[act.Action]) -> None:
        for action in actions:
            self._do(action)

    def _do(self, action: act.Action) -> None:
        """Keep the books every action implies, and pass it on."""
        if isinstance(action, act.Hold):
            if action.reason in self.holds:
                return
            self.holds.add(action.reason)
        elif isinstance(action, act.Release):
            if action.reason == RESUMED_HOLD:
                self.onset_until = None  # the onset timer only ever releases this hold
            if action.reason not in self.holds:
                return
            self.holds.discard(action.reason)
        elif isinstance(action, act.Interrupt):
            self.holds.clear()  # the session drops every hold
            if action.drops_reply:
                self.reply_in_flight = False
        elif isinstance(action, act.EndTurn):
            self.reply_in_flight = True
        self._actions.append(action)
