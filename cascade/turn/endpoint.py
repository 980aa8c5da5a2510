"""The end-of-turn rule: how much silence to wait, given the audio model and the transcript.

``decide`` combines the Smart Turn probability (``None`` when no audio model runs) with the
transcript cues and the text model into a delay after the caller's speech end. Doubt does not
mean silence: only what is clearly unfinished waits ``max_delay``; a turn in doubt is taken after
``uncertain_delay`` (0.6 s) when the doubt is mild, up to ``doubtful_max_delay`` when it is strong,
and its reply is prepared meanwhile (dropped unheard if the caller goes on).

* clearly unfinished, ``max_delay``: dictation in progress (a phone number with too few digits,
  an email without its domain, a name being spelled), final text ending with "and/the" or a cut
  mark ("...", "-", ","), or final text the text model reads as clearly unfinished ("could you
  tell me whether the"); an unfinished-looking *partial* is overruled by a very confident audio
  model, because partials lag the audio;
* complete by audio and nothing in doubt: ``min_delay`` (answer fast);
* in doubt, from ``uncertain_delay`` up to ``doubtful_max_delay``: the final text ends on a word
  that often goes on ("for", "at", "could") under a very confident audio model; the text model
  finds an end unlikely but not ruled out (longer the less likely, on a log scale: its
  probabilities span decades); the recognizer is unsure of the last word (a word cut off by the
  pause: common inside a turn, rare at its end); the audio model hears the caller going on
  (longer the surer it is); no audio model and no cue;
* audio unsure (not clearly incomplete) but the transcript ends with a question: halfway to
  ``uncertain_delay``; a question mark on audio that clearly goes on ("he might have been
  made?") is the recognizer's guess at a rising voice mid-sentence.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict

from cascade.turn.cues import TranscriptCue
from cascade.turn.options import UNFINISHED_TEXT_PROBABILITY, EndpointingOptions

_DICTATION = frozenset({"phone_number", "email", "spelling", "unfinished_number", "value_announced"})


class EndpointDecision(BaseModel):
    """How long to wait after speech end, and why."""

    model_config = ConfigDict(frozen=True)

    delay: float
    reason: str
    may_be_over: bool
    """False only when the words are clearly unfinished: otherwise a reply is worth preparing
    while waiting (held until the turn is taken, dropped unheard if the caller goes on)."""


def decide(
    probability: float | None,
    cue: TranscriptCue,
    opts: EndpointingOptions,
    text_probability: float | None = None,
    *,
    last_word_probability: float | None = None,
) -> EndpointDecision:
    """The silence to wait after the caller's speech end before taking the turn.

    ``probability`` is the audio model's, ``text_probability`` the text model's for the *final*
    transcript (``None``: no model, or the text is still a partial, which lags the audio);
    ``last_word_probability`` the recognizer's for the final transcript's last word (``None``:
    not final, or no word probabilities).
    """
    p = probability
    incomplete_cue = opts.use_transcript_cues and cue.state == "incomplete"
    # a very confident audio model overrules an unfinished-looking *partial* (it lags the audio)
    # and weak trailing words ("than he was"); never dictation, never "and/the/um" in final text
    weak = cue.reason == "trailing_word_weak"
    confident = p is not None and p >= opts.confident_threshold
    overruled = (not cue.final or weak) and confident and cue.reason not in _DICTATION
    if incomplete_cue and not overruled and not (weak and cue.final):
        return EndpointDecision(delay=opts.max_delay, reason=f"cue:{cue.reason}", may_be_over=False)
    if text_probability is not None and text_probability < unfinished_below(opts):
        return EndpointDecision(delay=opts.max_delay, reason="text:unfinished", may_be_over=False)
    # from here on the turn may be over: the wait is bounded and the reply is prepared meanwhile
    if incomplete_cue and cue.final and weak:
        # "... a table for." may go on or not ("what is it for"): a confident audio model
        # shortens the wait, but the reply waits for a longer silence than a clean ending
        delay = opts.uncertain_delay if confident else opts.doubt_bound
        return EndpointDecision(delay=delay, reason="cue:trailing_word_weak", may_be_over=True)
    text_wait = (
        _doubtful_text_delay(text_probability, opts)
        if text_probability is not None and text_probability < opts.doubtful_text_probability
        else None
    )
    unsure_word = (
        opts.use_transcript_cues
        and last_word_probability is not None
        and last_word_probability < opts.unsure_last_word
    )
    doubtful = text_wait is not None or unsure_word
    if doubtful and (p is None or p >= opts.complete_threshold):
        if text_wait is not None:
            return EndpointDecision(delay=text_wait, reason="text:doubtful", may_be_over=True)
        return EndpointDecision(delay=opts.uncertain_delay, reason="asr:unsure_last_word", may_be_over=True)
    if p is None:
        if opts.use_transcript_cues and cue.state == "complete":
            return EndpointDecision(delay=opts.min_delay, reason=f"cue:{cue.reason}", may_be_over=True)
        return EndpointDecision(delay=opts.uncertain_delay, reason="silence", may_be_over=True)
    if p >= opts.complete_threshold:
        return EndpointDecision(delay=opts.min_delay, reason="audio:complete", may_be_over=True)
    audio_unsure = p >= opts.complete_threshold / 2
    if opts.use_transcript_cues and cue.state == "complete" and not doubtful and audio_unsure:
        delay = (opts.min_delay + opts.uncertain_delay) / 2
        return EndpointDecision(delay=delay, reason=f"cue:{cue.reason}", may_be_over=True)
    doubt = 1.0 - p / max(opts.complete_threshold, 1e-6)
    delay = opts.uncertain_delay + (opts.doubt_bound - opts.uncertain_delay) * doubt
    if text_wait is not None and text_wait > delay:
        # both models say the caller may go on: wait as long as the surer of them asks
        return EndpointDecision(delay=text_wait, reason="text:doubtful", may_be_over=True)
    return EndpointDecision(delay=delay, reason="audio:incomplete", may_be_over=True)


def _doubtful_text_delay(text_probability: float, opts: EndpointingOptions) -> float:
    """``doubtful_max_delay`` at ``unfinished_text_probability``, down to ``uncertain_delay`` at
    ``doubtful_text_probability``, log-linear in between."""
    low, high = max(unfinished_below(opts), 1e-9), opts.doubtful_text_probability
    if high <= low:  # no doubtful band (the rule never asks then)
        return opts.uncertain_delay
    share = math.log(max(text_probability, low) / low) / math.log(high / low)
    return opts.doubt_bound - (opts.doubt_bound - opts.uncertain_delay) * min(share, 1.0)


def unfinished_below(opts: EndpointingOptions) -> float:
    """The text probability below which words are clearly unfinished (the option, or the default
    for a text model that states no calibration)."""
    low = opts.unfinished_text_probability
    return UNFINISHED_TEXT_PROBABILITY if low is None else low


def calibrated(opts: EndpointingOptions, text_model: object) -> EndpointingOptions:
    """``opts`` with the text model's own clearly-unfinished threshold (its ``unfinished_below``)
    where the option leaves it to the model."""
    own = getattr(text_model, "unfinished_below", None)
    if opts.unfinished_text_probability is not None or not isinstance(own, float):
        return opts
    return opts.model_copy(update={"unfinished_text_probability": min(own, opts.doubtful_text_probability)})
