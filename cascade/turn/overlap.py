"""Caller speech over the bot: is it an interruption, a backchannel, a cough or the bot's own echo?

:class:`BargeIn` owns one :class:`Overlap` at a time (the caller's speech while the bot speaks,
or while its reply is on the way) and judges it frame by frame and transcript by transcript:

* audio: energy that is not the bot's echo (:class:`~cascade.turn.echo.EchoGate` compares the
  caller's envelope with what was played) adds up as speech; once there is some, the bot's audio
  pauses (``pause_on_speech``); speech longer than ``min_duration`` (``paused_min_duration``
  while paused, ``backchannel_max_duration`` for an "mm-hmm") interrupts;
* words: ``min_words`` recognized words that are neither a backchannel, a hum nor the bot's own
  words echoed back interrupt at once -- words recognized with low probability only when the
  caller said nothing else (a lone "Stop." or "Wait.", which a recognizer without context is unsure
  of); a final transcript without such words lets a paused reply go on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from cascade.audio import ENVELOPE_HOP, envelope_db
from cascade.frames import FinalTranscript, PartialTranscript, UserAudioFrame
from cascade.turn.caller import CallerAudio
from cascade.turn.cues import is_backchannel, words
from cascade.turn.echo import EchoGate, EchoVerdict, is_echo_text
from cascade.turn.heard import BotPlayback
from cascade.turn.options import TurnOptions

_SILENCE_DB = -55.0
_PAUSE_BELOW_PEAK_DB = 25.0
_HUM = re.compile(r"[mh]+")
"""A token spelled only with m and h ("m", "hmm", "mhm"): how a recognizer writes humming."""


@dataclass
class Overlap:
    """Caller speech while the bot speaks (or while its reply is on the way)."""

    start: float
    response_id: str
    speech: float = 0.0
    """Non-echo speech accumulated, seconds."""
    voiced: bool = False
    """Some of the audio was the caller's (not echo): else its words are the bot's, misheard."""
    peak_db: float = -120.0
    """Loudest caller frame so far (frames far below it are pauses, not speech)."""
    text: str = ""
    final_text: str = ""
    sure_text: str = ""
    """``text`` without the words recognized with low probability."""
    sure_final: str = ""
    lone_word: str = ""
    """The caller's whole speech so far when final transcripts made it one word said alone, kept
    whatever its probability if at least ``lone_word_probability``."""
    closed_at: float | None = None
    """When the caller stopped (a cough, a backchannel or echo -- unless words follow)."""
    interrupted: bool = False
    paused: bool = False
    """The bot's audio is held while this speech is judged (``pause_on_speech``)."""

    @property
    def sure_said(self) -> str:
        """What the caller surely said over the bot so far (finals, then the latest partial)."""
        return (self.sure_final + " " + self.sure_text).strip() or self.lone_word


AudioStep = Literal["echo", "unsure", "quiet", "speech", "interrupt"]
"""What one caller frame did to the overlap: not counted (the bot's echo, can't tell, too quiet),
counted as speech (the first of it pauses the bot: ``Overlap.paused``), or made the overlap an
interruption."""


class BargeIn:
    """The overlap being judged, the echo path learned so far, and the reply to resume."""

    def __init__(self, options: TurnOptions) -> None:
        self.options = options.interruption
        self.echo = options.echo
        self.overlap: Overlap | None = None
        self.resume_for: str | None = None
        """The reply interrupted last, said on after a false interruption (a sound with no words)."""
        self._gate = EchoGate(
            self.echo.correlation, self.echo.double_talk_db, max_return_db=self.echo.max_return_db
        )

    def open(self, start: float, response_id: str) -> None:
        """The caller speaks over ``response_id`` from ``start``."""
        self.overlap = Overlap(start=start, response_id=response_id)

    def speech_started(self, pts: float, bot: str) -> None:
        """The caller starts speaking while ``bot`` plays: a new overlap, or more of the last one."""
        overlap = self.overlap
        if overlap is not None and overlap.closed_at is not None and overlap.response_id == bot:
            overlap.closed_at = None  # more speech soon after: one overlap, its speech adds up
        elif overlap is None or overlap.closed_at is not None:
            # counted from here: the VAD already required its own minimum before reporting
            self.open(pts, bot)

    def hear(self, frame: UserAudioFrame, audio: CallerAudio, playback: BotPlayback) -> AudioStep:
        """One caller frame while they speak over the bot (``audio`` already holds it)."""
        overlap = self.overlap
        assert overlap is not None and not overlap.interrupted and overlap.closed_at is None
        verdict = self._echo_verdict(frame.end, audio, playback, learn=not overlap.voiced)
        if verdict != "caller":
            if verdict == "echo":  # echo tails and blips must not add up to an interruption
                overlap.speech = max(0.0, overlap.speech - frame.duration / 2)
            return verdict
        level = float(envelope_db(frame.floats(), frame.sample_rate).max(initial=-120.0))
        overlap.peak_db = max(overlap.peak_db, level)
        if level < max(_SILENCE_DB, overlap.peak_db - _PAUSE_BELOW_PEAK_DB):
            return "quiet"  # a pause (or the silence the VAD waits for before reporting the stop)
        overlap.speech += frame.duration
        overlap.voiced = True
        if self.options.pause_on_speech:
            overlap.paused = True
        said = overlap.sure_said
        if said and is_backchannel(said):
            limit = self.options.backchannel_max_duration
        else:
            limit = self.options.paused_min_duration if overlap.paused else self.options.min_duration
        return "interrupt" if overlap.speech >= limit else "speech"

    def read(self, frame: PartialTranscript | FinalTranscript, playback: BotPlayback) -> bool:
        """A transcript of the speech over the bot: True when its words interrupt."""
        overlap = self.overlap
        assert overlap is not None
        sure = self._sure_text(frame)
        if isinstance(frame, FinalTranscript):
            overlap.final_text = (overlap.final_text + " " + frame.text).strip()
            overlap.sure_final = (overlap.sure_final + " " + sure).strip()
            overlap.text = overlap.sure_text = ""
            overlap.lone_word = self._lone_word(overlap, frame)
        else:
            overlap.text, overlap.sure_text = frame.text, sure
        if not overlap.voiced and self.echo.enabled and playback.plays_audio:
            return False  # every frame was the bot's echo: so are the words ("for coming" for "calling")
        return self.real_words(overlap.sure_said, overlap.response_id, playback) >= self.options.min_words

    def interrupted(self, overlap: Overlap) -> None:
        """The overlap interrupted its reply: say the rest if it turns out to have no words."""
        overlap.interrupted = True
        self.resume_for = overlap.response_id

    def go_on(self) -> bool:
        """The speech did not interrupt: un-pause the reply. True when it was paused."""
        overlap = self.overlap
        if overlap is not None and overlap.paused and not overlap.interrupted:
            overlap.paused = False
            return True
        return False

    def real_words(self, text: str, response_id: str | None, playback: BotPlayback) -> int:
        """Words that can interrupt: not a backchannel, not the bot's own words echoed back."""
        if not text.strip() or is_backchannel(text):
            return 0
        playing = playback.played_text(response_id) if response_id else ""
        if self.echo.enabled and is_echo_text(text, playing):
            return 0
        return sum(1 for word in words(text) if not _HUM.fullmatch(word))

    def _echo_verdict(
        self, now: float, audio: CallerAudio, playback: BotPlayback, *, learn: bool
    ) -> EchoVerdict:
        if not self.echo.enabled or not playback.plays_audio:
            return "caller"
        caller, rate = audio.between(now - self.echo.window, now)
        caller_env = envelope_db(caller, rate)
        played = playback.envelope(now - len(caller_env) * ENVELOPE_HOP - self.echo.max_delay, now)
        return self._gate.classify(caller_env, played, learn=learn)

    def _sure_text(self, frame: PartialTranscript | FinalTranscript) -> str:
        """The transcript without its low-probability words (all of it when words are not given)."""
        if not frame.words:
            return frame.text
        least = self.options.min_word_probability
        return " ".join(w.text.strip() for w in frame.words if w.probability >= least)

    def _lone_word(self, overlap: Overlap, frame: FinalTranscript) -> str:
        """The final transcripts of ``overlap`` (``frame`` the latest) as one word said alone, if
        that is all the caller said and the recognizer gave it at least ``lone_word_probability``."""
        if len(words(overlap.final_text)) != 1:
            return ""
        if frame.words and max(w.probability for w in frame.words) < self.options.lone_word_probability:
            return ""
        return overlap.final_text
