"""Per-turn latency timelines on the session clock, with an observer API.

A turn's timeline is a set of marks, all in session seconds::

    user_speech_end -> end_of_turn -> final_transcript -> llm_first_token
                    -> first_tts_audio -> first_audio_out

Voice-to-voice latency is ``first_audio_out - user_speech_end``. Stages call
:meth:`MetricsCollector.mark`; observers (logs, Prometheus, OpenTelemetry, tests) receive each
timeline when it is finished.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel

TurnEvent = Literal[
    "user_speech_end",
    "end_of_turn",
    "final_transcript",
    "llm_first_token",
    "first_tts_audio",
    "first_audio_out",
]
TURN_EVENTS: tuple[TurnEvent, ...] = (
    "user_speech_end",
    "end_of_turn",
    "final_transcript",
    "llm_first_token",
    "first_tts_audio",
    "first_audio_out",
)
_LATEST_WINS = frozenset({"user_speech_end", "final_transcript"})
_REPLY_MARKS = ("end_of_turn", "llm_first_token", "first_tts_audio", "first_audio_out")

log = logging.getLogger("cascade.metrics")


class TurnTimeline(BaseModel):
    """The marks of one caller turn and the bot's answer, in session seconds."""

    turn: int
    user_speech_end: float | None = None
    end_of_turn: float | None = None
    final_transcript: float | None = None
    llm_first_token: float | None = None
    first_tts_audio: float | None = None
    first_audio_out: float | None = None
    interrupted: bool = False
    preemptive_wasted: int = 0
    """Speculative LLM generations started for this turn and thrown away."""

    @property
    def voice_to_voice(self) -> float | None:
        """Caller speech end to first bot audio out of the transport, in seconds."""
        if self.user_speech_end is None or self.first_audio_out is None:
            return None
        return self.first_audio_out - self.user_speech_end

    def deltas(self) -> dict[str, float]:
        """Each mark relative to ``user_speech_end`` (only marks that were set)."""
        if self.user_speech_end is None:
            return {}
        base = self.user_speech_end
        marks = {name: getattr(self, name) for name in TURN_EVENTS[1:]}
        return {name: value - base for name, value in marks.items() if value is not None}

    def summary(self) -> dict[str, object]:
        """A JSON-friendly dict of marks, deltas and voice-to-voice latency."""
        return {
            **self.model_dump(),
            "voice_to_voice": self.voice_to_voice,
            "deltas": self.deltas(),
        }


TurnObserver = Callable[[TurnTimeline], None]


class MetricsCollector:
    """Collects marks into turn timelines and notifies observers when a turn is finished.

    A new turn begins with the first ``user_speech_end`` after the current turn's
    ``end_of_turn``; a turn is finished when its first audio goes out, when it is interrupted, or
    when the next turn begins.
    """

    def __init__(self) -> None:
        self.timelines: list[TurnTimeline] = []
        self._observers: list[TurnObserver] = []
        self._current: TurnTimeline | None = None
        self._finished: set[int] = set()

    def subscribe(self, observer: TurnObserver) -> Callable[[], None]:
        """Call ``observer`` with each finished timeline; returns an unsubscribe function."""
        self._observers.append(observer)
        return lambda: self._observers.remove(observer)

    @property
    def current(self) -> TurnTimeline | None:
        """The turn being measured now."""
        return self._current

    def mark(self, event: TurnEvent, t: float) -> None:
        """Record that ``event`` happened at session time ``t``."""
        turn = self._current
        if turn is None or (event == "user_speech_end" and turn.end_of_turn is not None):
            if turn is not None:
                self._finish(turn)
            turn = TurnTimeline(turn=len(self.timelines))
            self.timelines.append(turn)
            self._current = turn
        if (event in _LATEST_WINS and turn.end_of_turn is None) or getattr(turn, event) is None:
            setattr(turn, event, t)
        if event == "first_audio_out":
            self._finish(turn)

    def retract_end_of_turn(self) -> None:
        """The end of the current turn was taken back (its final text shows the caller may go on)."""
        if self._current is not None:
            self._current.end_of_turn = None

    def mark_interrupted(self) -> None:
        """An interrupt: the current turn's answer was cut off if any of it had been played."""
        if self._current is not None and self._current.first_audio_out is not None:
            self._current.interrupted = True

    def count_wasted_generation(self) -> None:
        """A speculative (preemptive) LLM generation was discarded.

        If none of it was played, the turn goes on: its reply-side marks are cleared so the reply
        that follows is measured from the same caller speech end.
        """
        turn = self._current
        if turn is None:
            turn = self._current = TurnTimeline(turn=len(self.timelines))
            self.timelines.append(turn)
        turn.preemptive_wasted += 1
        if turn.first_audio_out is None:
            for mark in _REPLY_MARKS:
                setattr(turn, mark, None)

    def close(self) -> None:
        """Finish the open turn (end of session)."""
        if self._current is not None:
            self._finish(self._current)

    def _finish(self, turn: TurnTimeline) -> None:
        if turn.turn in self._finished:
            return
        self._finished.add(turn.turn)
        for observer in list(self._observers):
            try:
                observer(turn)
            except Exception:  # an observer must never break the session
                log.exception("metrics observer %r failed", observer)
