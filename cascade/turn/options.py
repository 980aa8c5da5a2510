"""Typed, documented turn-taking options (tune behaviour without subclassing).

All times are seconds. Defaults suit a phone or browser call with the Silero VAD reporting speech
ends after about 0.2 s of silence.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


UNFINISHED_TEXT_PROBABILITY = 0.003
"""The clearly-unfinished threshold for a text model that states none."""


class EndpointingOptions(_Options):
    """When the caller's turn ends, counted from the end of their speech (the VAD's speech end)."""

    min_delay: float = Field(default=0.15, ge=0.0)
    """Silence needed when audio model and transcript both say the turn is complete."""
    max_delay: float = Field(default=2.5, gt=0.0)
    """Silence needed when the words are clearly unfinished (a number or an email half said,
    "... and the"); the upper bound whatever the models say."""
    uncertain_delay: float = Field(default=0.6, ge=0.0)
    """Silence needed when the turn is in doubt (the audio model hears the caller going on, the
    last word is unsure, the text model finds an end unlikely): the shortest such wait. The reply
    is prepared meanwhile and dropped unheard if the caller goes on."""
    doubtful_max_delay: float | None = Field(default=None, ge=0.0)
    """The longest wait for a turn in doubt but not clearly unfinished (the stronger the doubt,
    the closer to this; mild doubt waits about ``uncertain_delay``). ``None``: ``max_delay``. On
    the held-out test set a lower bound bought no delay percentile and cost heard cut-ins (1.6 s:
    +5.6 points, see ``benchmarks/turn_curve.py``), so by default only the strongest doubt waits
    as long as clearly unfinished words."""
    complete_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    """Smart Turn probability at or above which the audio says "complete"."""
    confident_threshold: float = Field(default=0.9, ge=0.0, le=1.0)
    """Probability so high that an unfinished-looking transcript is overruled (ASR lags speech)."""
    use_transcript_cues: bool = True
    """Let trailing "and/the", unfinished numbers, emails and spelling hold the turn open."""
    unfinished_text_probability: float | None = Field(default=None, ge=0.0, le=1.0)
    """Text model probability (that the final transcript ends the caller's message) below which
    the words are clearly unfinished: the turn waits ``max_delay`` whatever the audio model says.
    ``None``: the text model's own calibration (its ``unfinished_below``: 0.01 for the served chat
    model, 0.003 for SmolLM2, each chosen on the dev set), else :data:`UNFINISHED_TEXT_PROBABILITY`."""
    doubtful_text_probability: float = Field(default=0.03, ge=0.0, le=1.0)
    """Below this (and above ``unfinished_text_probability``) the words may go on: whatever the
    audio model hears, the turn waits at least from ``uncertain_delay`` (just below this) up to
    ``doubtful_max_delay`` (near ``unfinished_text_probability``)."""
    unsure_last_word: float = Field(default=0.5, ge=0.0, le=1.0)
    """Recognizer probability of the final transcript's last word below which the turn waits
    ``uncertain_delay`` even when the audio model hears an end. Inside a turn the last word
    before a pause is often cut off or run into the next one ("your message has been
    successful-"); at a turn's end it is rarely unsure (Whisper tiny.en on our labelled sets:
    below 0.5 for a quarter of the finals at mid-turn pauses, 1 in 40 at turn ends)."""
    text_model_min_words: int = Field(default=2, ge=1)
    """Shorter transcripts are not given to the text model (a small model misreads one-word turns
    such as "thanks" or "what" as unfinished)."""
    final_transcript_timeout: float = Field(default=2.0, ge=0.0)
    """How long after deciding to wait for the ASR's final text before using the partial (a
    speculative reply stays held meanwhile: a recognizer slowed by a busy CPU must not let a
    guessed text stand)."""
    pre_speech: float = Field(default=0.5, ge=0.0)
    """Audio kept before the turn's first speech for the audio model."""
    patience_step: float = Field(default=0.3, ge=0.0)
    """Added to ``min_delay`` for the rest of the call each time the caller goes on before hearing
    the reply, within ``uncertain_delay`` of the turn being taken (it was taken at a pause inside
    it): a caller who pauses after finished-sounding clauses is cut into once, not at every such
    pause. Never beyond ``uncertain_delay``."""

    @property
    def doubt_bound(self) -> float:
        """The longest wait in doubt (``doubtful_max_delay``, or ``max_delay`` when unset)."""
        return self.max_delay if self.doubtful_max_delay is None else self.doubtful_max_delay

    @model_validator(mode="after")
    def _ordered(self) -> EndpointingOptions:
        if not self.min_delay <= self.uncertain_delay <= self.doubt_bound <= self.max_delay:
            raise ValueError(
                f"endpointing delays must satisfy min_delay ({self.min_delay}) <= uncertain_delay "
                f"({self.uncertain_delay}) <= doubtful_max_delay ({self.doubt_bound}) "
                f"<= max_delay ({self.max_delay})"
            )
        low = self.unfinished_text_probability
        if low is not None and low > self.doubtful_text_probability:
            raise ValueError(
                f"unfinished_text_probability ({self.unfinished_text_probability}) must not exceed "
                f"doubtful_text_probability ({self.doubtful_text_probability})"
            )
        return self


class InterruptionOptions(_Options):
    """Barge-in: when caller speech over the bot stops the bot."""

    enabled: bool = True
    """False: the bot always finishes what it says."""
    pause_on_speech: bool = True
    """Yield at the first caller speech over the bot that is not echo, before knowing what it is:
    the bot's audio is ducked (``duck_db``) at once and paused (kept, not dropped) if the speech
    is still being judged ``duck_for`` later. Words or long speech then turn it into an
    interruption; a backchannel, a cough or silence lets the reply go on -- at full level again
    without a gap when it was only ducked, from the very sample where it paused otherwise. A reply
    that has not started yet when the caller speaks again after their turn was taken waits, from
    the first sound the VAD hears as possible speech (``SpeechOnset``): their words make it stale
    (dropped unheard), a sound without words lets it play."""
    duck_db: float = Field(default=-15.0, le=0.0)
    """Gain of the bot's audio while caller speech over it is judged (``pause_on_speech``): low
    enough that the caller hears the bot give way, loud enough that its words go on being heard."""
    duck_for: float = Field(default=0.8, ge=0.0)
    """With ``pause_on_speech``: how long the bot's audio plays on ducked before it pauses, if the
    caller's speech has neither interrupted nor been let go by then. Backchannels are judged within
    this (no audible gap); 0 pauses at once, as a hard stop."""
    min_duration: float = Field(default=0.3, ge=0.0)
    """Speech over the bot needed to interrupt without words (coughs and clicks are shorter)
    when the bot is not paused (``pause_on_speech`` off)."""
    paused_min_duration: float = Field(default=1.0, ge=0.0)
    """With ``pause_on_speech``: speech without recognized words that turns the duck (or pause)
    into an interruption (the bot has already given way, so this waits out backchannels like
    "mm-hmm")."""
    pause_timeout: float = Field(default=0.5, ge=0.0)
    """With ``pause_on_speech``: silence after speech that did not interrupt before the paused
    reply goes on (sooner once its transcript arrives without interrupting words)."""
    min_words: int = Field(default=1, ge=1)
    """Recognized words (not backchannels, not the bot's own echo) that interrupt at once."""
    min_word_probability: float = Field(default=0.5, ge=0.0, le=1.0)
    """Words recognized over the bot below this probability do not interrupt by themselves
    (recognition of overlapped or wordless sounds is shaky: a "mm-hmm" comes out as "Mom");
    the speech can still interrupt by its duration."""
    lone_word_probability: float = Field(default=0.2, ge=0.0, le=1.0)
    """A word said alone over the bot (the caller's whole speech there is one recognized word,
    "Stop.", "Wait.", "No.") interrupts from this probability on, below ``min_word_probability``:
    a recognizer without context is unsure of lone words (Whisper tiny.en gave commands said
    alone 0.1-0.6). Backchannels and hums never interrupt as words."""
    backchannel_max_duration: float = Field(default=1.2, ge=0.0)
    """Speech recognized as a backchannel ("mm-hmm", "yeah") interrupts only beyond this."""
    resume_false_interruption: bool = True
    """After an interruption by a sound without words, say the unheard rest of the reply."""
    false_interruption_timeout: float = Field(default=1.0, ge=0.0)
    """Silence after the interrupting sound with no words recognized before the bot resumes."""


class EchoOptions(_Options):
    """The bot's own voice leaking back on lines without echo cancellation."""

    enabled: bool = True
    """Ignore caller audio that follows the bot's playout and transcripts that repeat its words."""
    correlation: float = Field(default=0.75, ge=0.0, le=1.0)
    """Envelope correlation with the playout above which caller audio counts as echo."""
    max_delay: float = Field(default=0.5, ge=0.0)
    """Largest echo path delay searched (playout to caller input)."""
    window: float = Field(default=0.6, gt=0.0)
    """Length of the compared envelopes."""
    double_talk_db: float = Field(default=6.0, gt=0.0)
    """Caller energy this far above the predicted echo means the caller is talking over the bot."""
    max_return_db: float = 6.0
    """Caller energy that follows the playout's shape but is this much louder than the playout
    (dB) is the caller, not echo: a line returns the bot's voice quieter, or barely louder."""


class BackchannelOptions(_Options):
    """Short acknowledgements said by the agent at pauses in a long caller turn."""

    enabled: bool = False
    """Off by default: many applications prefer a silent listener."""
    phrases: tuple[str, ...] = ("Mm-hmm.", "Okay.", "I see.", "Right.")
    """Said in rotation."""
    min_turn_duration: float = Field(default=4.0, ge=0.0)
    """The caller must have been talking this long in the current turn."""
    min_pause: float = Field(default=0.5, ge=0.0)
    """Silence of a mid-turn pause before acknowledging (never over the caller's speech)."""
    min_interval: float = Field(default=8.0, ge=0.0)
    """At most one acknowledgement per this many seconds (the rate)."""


class PreemptiveOptions(_Options):
    """Start the reply before the final transcript when the turn is very likely over."""

    enabled: bool = True
    """Emit ``EndOfTurn(preemptive=True)`` on the stable partial text."""
    min_probability: float = Field(default=0.5, ge=0.0, le=1.0)
    """Smart Turn probability needed to prepare a reply at a pause before the VAD has heard the
    caller stop (after the stop, every turn that is not clearly unfinished gets one)."""
    speculate_after: float = Field(default=0.15, ge=0.0)
    """Silence after the caller's speech end at which the reply to a likely-complete turn starts
    being prepared, even when the turn is taken only later (a final text ending on a word that
    often goes on waits ``EndpointingOptions.uncertain_delay``). Its audio is held until the turn
    is taken and its text confirmed; it is discarded if the caller goes on."""


class TurnOptions(_Options):
    """Everything the :class:`~cascade.turn.taker.TurnTaker` can be tuned with."""

    endpointing: EndpointingOptions = EndpointingOptions()
    interruption: InterruptionOptions = InterruptionOptions()
    echo: EchoOptions = EchoOptions()
    backchannel: BackchannelOptions = BackchannelOptions()
    preemptive: PreemptiveOptions = PreemptiveOptions()
    buffer_seconds: float = Field(default=10.0, ge=8.5)
    """Caller audio kept for the audio model (it reads the last 8 s of a turn)."""
