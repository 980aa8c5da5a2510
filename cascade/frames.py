"""Typed frames: the only things stages exchange.

Every frame is a small immutable pydantic model carrying

* ``pts`` -- the session audio time (seconds since the session started) the frame refers to, so
  every latency in the system is measured on one clock, and
* ``generation`` -- the interruption generation it belongs to. A barge-in bumps the session's
  generation; frames of the bot's reply (``droppable = True``) from an older generation are dropped
  wherever they are found.

Audio is always signed 16-bit little-endian PCM (``s16le``), interleaved when stereo.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:  # numpy is imported where audio is first read, not with the frames
    import numpy as np

SAMPLE_RATES = (8000, 16000, 22050, 24000, 32000, 44100, 48000)
"""Sample rates accepted on audio frames."""


class Frame(BaseModel):
    """Base class of every frame."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pts: float = 0.0
    """Session audio time in seconds that this frame refers to."""
    generation: int = 0
    """Interruption generation this frame belongs to."""

    droppable: ClassVar[bool] = False
    """True for frames of the bot's reply: dropped when their generation is stale."""
    sticky: ClassVar[bool] = False
    """True for broadcast events that state a fact of the whole session: kept and delivered to
    stages that start listening after the broadcast."""

    @property
    def kind(self) -> str:
        """The frame's type name, as used in logs and event streams."""
        return type(self).__name__


# --- audio -------------------------------------------------------------------------------------


class AudioFrame(Frame):
    """A chunk of PCM audio (s16le, interleaved)."""

    pcm: bytes
    sample_rate: int = 16000
    channels: int = 1
    sample_format: Literal["s16le"] = "s16le"

    @model_validator(mode="after")
    def _check_layout(self) -> AudioFrame:
        if self.sample_rate not in SAMPLE_RATES:
            raise ValueError(f"unsupported sample rate {self.sample_rate} Hz; use one of {SAMPLE_RATES}")
        if self.channels not in (1, 2):
            raise ValueError(f"unsupported channel count {self.channels}; use 1 or 2")
        if len(self.pcm) % (2 * self.channels):
            raise ValueError(
                f"{len(self.pcm)} bytes is not a whole number of {self.channels}-channel s16le samples"
            )
        return self

    @property
    def num_samples(self) -> int:
        """Samples per channel."""
        return len(self.pcm) // (2 * self.channels)

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.num_samples / self.sample_rate

    @property
    def end(self) -> float:
        """Session time at which this chunk ends."""
        return self.pts + self.duration

    def samples(self) -> np.ndarray:
        """The audio as an int16 array, shape (n,) for mono or (n, channels)."""
        import numpy as np

        data = np.frombuffer(self.pcm, dtype="<i2")
        return data if self.channels == 1 else data.reshape(-1, self.channels)

    def floats(self) -> np.ndarray:
        """Mono float32 samples in [-1, 1] (channels averaged)."""
        import numpy as np

        data = self.samples().astype(np.float32) / 32768.0
        return data if data.ndim == 1 else data.mean(axis=1)


class UserAudioFrame(AudioFrame):
    """Audio from the caller, as the transport received it (already at the pipeline's rate)."""


class BotAudioFrame(AudioFrame):
    """Synthesized bot speech on its way to the caller.

    ``text`` is the part of the reply this chunk speaks (estimated from durations when the engine
    gives no alignment), so the transport can report exactly what the caller heard.
    """

    droppable: ClassVar[bool] = True
    response_id: str = ""
    text: str = ""
    last: bool = False
    """True on the final frame of a response (may carry no samples)."""


# --- caller side ---------------------------------------------------------------------------------


class SpeechStarted(Frame):
    """VAD: the caller started speaking at ``pts``."""

    probability: float = 1.0


class SpeechOnset(Frame):
    """VAD: the caller's audio sounds like speech since ``pts``, not yet for the VAD's
    ``min_speech``: a ``SpeechStarted`` follows by the audio time ``confirm_by`` if it goes on,
    nothing if it was a click or a breath. Lets the bot hold a reply it was about to start."""

    confirm_by: float = 0.0


class SpeechStopped(Frame):
    """VAD: the caller stopped speaking at ``pts`` (after the VAD's minimum silence)."""

    speech_start: float = 0.0


class SpeechPaused(Frame):
    """VAD: the caller has been quiet since ``pts`` for the VAD's ``pause_silence``, less than its
    ``min_silence``; a ``SpeechStopped`` with the same ``pts`` or a ``SpeechResumed`` follows.
    Lets the turn-taker prepare for the end of the turn before the stop is confirmed."""


class SpeechResumed(Frame):
    """VAD: the caller spoke again (at ``pts``) after a ``SpeechPaused``, within one segment."""


class SpeechProbabilities(Frame):
    """VAD: the speech probability of each model window that the next ``UserAudioFrame`` completes.

    Sent just before that audio frame; ``pts`` is the first window's start, window ``i`` ends at
    ``ends[i]`` and the next one starts there. Lets a later stage that schedules work by the
    caller's speech (the ASR's decodes) use the VAD's model instead of running its own."""

    ends: tuple[float, ...] = ()
    probabilities: tuple[float, ...] = ()


class Word(BaseModel):
    """A recognized word with its session-time span."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    text: str
    start: float
    end: float
    probability: float = 1.0


class PartialTranscript(Frame):
    """Interim recognition of the current caller turn.

    ``committed`` is a prefix of ``text`` that will not change any more.
    """

    text: str
    committed: str = ""
    words: tuple[Word, ...] = ()


class FinalTranscript(Frame):
    """Final recognition of a caller utterance."""

    text: str
    words: tuple[Word, ...] = ()
    confidence: float = 1.0
    language: str = "en"


class DTMFFrame(Frame):
    """A telephone keypad digit pressed by the caller."""

    digit: str = Field(pattern=r"^[0-9*#A-D]$")


class EndOfTurn(Frame):
    """The turn-taker decided the caller finished; the bot should answer ``text``."""

    droppable: ClassVar[bool] = True
    text: str
    probability: float = 1.0
    reason: str = ""
    preemptive: bool = False
    """True when sent speculatively before the turn surely ended (may be followed by Interrupt)."""


# --- bot side ------------------------------------------------------------------------------------


class LLMResponseStarted(Frame):
    """The LLM began a response."""

    droppable: ClassVar[bool] = True
    response_id: str


class LLMTextDelta(Frame):
    """A piece of streamed LLM text."""

    droppable: ClassVar[bool] = True
    response_id: str
    text: str


class LLMResponseEnded(Frame):
    """The LLM finished a response; ``text`` is its whole spoken text."""

    droppable: ClassVar[bool] = True
    response_id: str
    text: str = ""


class ToolCallRequest(Frame):
    """The LLM asked for a tool call."""

    droppable: ClassVar[bool] = True
    call_id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class ToolCallResult(Frame):
    """The outcome of a tool call (``is_error`` when it failed or was rejected)."""

    call_id: str
    name: str
    result: str
    is_error: bool = False


class TextToSpeak(Frame):
    """Text the bot should say as is (fillers, apologies, greetings, backchannels)."""

    droppable: ClassVar[bool] = True
    text: str
    response_id: str = ""


# --- events broadcast to every stage -------------------------------------------------------------


class BotSpeechStarted(Frame):
    """The transport started playing a response to the caller."""

    response_id: str


class BotSpeechEnded(Frame):
    """The transport stopped playing a response; ``heard_text`` is what the caller heard."""

    response_id: str
    heard_text: str
    interrupted: bool = False
    unheard_text: str = ""
    """What the response was going to say after ``heard_text``, as far as the sink had it (the
    rest of an interrupted reply, to say after a false interruption)."""


class BotAudioPlayed(Frame):
    """The sink played ``duration`` seconds of ``response_id`` from ``pts`` on: the words it began
    saying then, and the energy the caller heard (for telling the bot's echo apart)."""

    response_id: str
    duration: float
    text: str = ""
    envelope: tuple[float, ...] = ()
    """Energy in dB per ``ENVELOPE_HOP`` (:mod:`cascade.audio`), from ``pts`` on."""


class SessionPlaysAudio(Frame):
    """The session plays the bot's audio (a transport's playout sink runs): a reply is heard only
    from its :class:`BotSpeechStarted` on. Without it, a reply counts as delivered when written.

    Sticky: a stage that starts listening later still receives it.
    """

    sticky: ClassVar[bool] = True


class PlaybackHold(Frame):
    """Keep the bot's audio buffered, unplayed, until a :class:`PlaybackRelease` with the same
    ``reason`` (holds nest: a speculative reply before its turn is confirmed, a reply paused while
    the caller talks over it). An interrupt discards the audio and every hold.

    With ``duck_for`` the hold starts soft: the audio plays on, ``duck_db`` quieter, for that many
    seconds of playback, and stops only then (a release before it just restores the level)."""

    reason: str
    duck_db: float = 0.0
    duck_for: float = 0.0


class PlaybackRelease(Frame):
    """Drop the :class:`PlaybackHold` taken for ``reason``; audio plays once no hold is left."""

    reason: str


# --- control -------------------------------------------------------------------------------------


class Interrupt(Frame):
    """Barge-in: everything of generations below ``generation`` is cancelled or dropped."""

    reason: str = ""

    @property
    def discards_preemptive(self) -> bool:
        """The turn-taker took back a speculative reply: it was never heard, forget its turn."""
        return self.reason.startswith(PREEMPTIVE_DISCARDED)


PREEMPTIVE_DISCARDED = "preemptive-discarded"
"""Interrupt reason prefix (``preemptive-discarded:<why>``) for a speculative reply taken back."""


class EndOfStream(Frame):
    """No more input: stages drain what they hold, flush, and end."""


class ErrorFrame(Frame):
    """A non-fatal problem a stage reports (fatal ones end the pipeline with an exception)."""

    stage: str
    message: str


class MetricsFrame(Frame):
    """A finished turn's latency timeline (see :mod:`cascade.metrics`)."""

    timeline: dict[str, Any]
