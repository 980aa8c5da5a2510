"""The wait for the end of the caller's turn, and the reply prepared while waiting.

When the caller goes quiet, :class:`Endpointer` decides how long to wait
(:func:`cascade.turn.endpoint.decide` on the audio model's probability and the transcript), and
the :class:`Waiting` it returns holds that decision until the turn is taken or the caller goes on.
A reply may start early on the text so far (:func:`may_speculate`); its text is kept on the wait,
so it can be confirmed, corrected or thrown away when the final transcript comes.
"""

from __future__ import annotations

from dataclasses import dataclass

from cascade.turn.caller import CallerTurn
from cascade.turn.endpoint import EndpointDecision, decide
from cascade.turn.options import EndpointingOptions, PreemptiveOptions


@dataclass
class Waiting:
    """A caller turn that went silent: waiting for its end (or for the final transcript)."""

    speech_end: float
    probability: float | None
    decision: EndpointDecision
    deadline: float
    speculate_at: float
    """When a reply to a likely-complete turn may start being prepared (held until it is taken)."""
    decided_at: float | None = None
    preemptive_text: str | None = None
    """The text a reply is being prepared on (``EndOfTurn(preemptive=True)`` was sent)."""
    barge_in: bool = False
    """The turn started by interrupting the bot (a false interruption if no words come)."""


class Endpointer:
    """The end-of-turn rule with the options in force for this caller."""

    def __init__(self, options: EndpointingOptions) -> None:
        self.options = options
        """In force: ``min_delay`` grows each time this caller went on after the turn was taken
        (``patience_step``)."""

    def decision(self, probability: float | None, caller: CallerTurn) -> EndpointDecision:
        """How long to wait, given the audio model and the turn's words as they stand."""
        cue = caller.cues()
        text, text_probability = caller.text_verdict
        final_text = cue.final and text == caller.reading_text()
        return decide(
            probability,
            cue,
            self.options,
            text_probability if final_text else None,
            last_word_probability=caller.last_word_probability if cue.final else None,
        )

    def wait(
        self, speech_end: float, probability: float | None, caller: CallerTurn, *, speculate_at: float
    ) -> Waiting:
        """The wait after the caller went quiet at ``speech_end``."""
        decision = self.decision(probability, caller)
        return Waiting(
            speech_end=speech_end,
            probability=probability,
            decision=decision,
            deadline=speech_end + decision.delay,
            speculate_at=speculate_at,
        )

    def redecide(self, waiting: Waiting, caller: CallerTurn) -> None:
        """New transcript while waiting: the cues may shorten or lengthen the wait."""
        waiting.decision = self.decision(waiting.probability, caller)
        waiting.deadline = waiting.speech_end + waiting.decision.delay

    def be_more_patient(self) -> float:
        """The turn was taken at a pause inside it: wait longer at this caller's next pauses.
        Returns the new quick wait."""
        opts = self.options
        longer = min(opts.min_delay + opts.patience_step, opts.uncertain_delay)
        self.options = opts.model_copy(update={"min_delay": longer})
        return longer


def may_speculate(
    waiting: Waiting, caller: CallerTurn, options: PreemptiveOptions, *, in_speech: bool = False
) -> bool:
    """A reply may be prepared now on the text so far: the turn may be over. At a pause
    ``in_speech`` (the VAD has not heard the caller stop) the audio model must also find the turn
    likely complete; after the stop, any turn that is not clearly unfinished gets its reply
    prepared, so that a doubtful end is answered without a long silence."""
    prob = waiting.probability
    return (
        options.enabled
        and waiting.preemptive_text is None
        and waiting.decision.may_be_over
        and (not in_speech or prob is None or prob >= options.min_probability)
        and caller.segment_heard
        and caller.has_words()
        and not caller.text().rstrip().endswith("-")  # a word the recognizer has not finished
    )
