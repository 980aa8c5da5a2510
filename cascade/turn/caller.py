"""The caller's side of the turn: their recent audio, and what they said in the turn being judged."""

from __future__ import annotations

from collections import deque

import numpy as np

from cascade.frames import FinalTranscript, UserAudioFrame
from cascade.turn.cues import TranscriptCue, is_backchannel, transcript_cues, words
from cascade.turn.features import SAMPLE_RATE


class CallerAudio:
    """The last ``seconds`` of the caller's audio: what Smart Turn hears, and the echo check's input."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._frames: deque[UserAudioFrame] = deque()
        self._duration = 0.0

    def add(self, frame: UserAudioFrame) -> None:
        """Keep a frame; forget what falls out of the window."""
        self._frames.append(frame)
        self._duration += frame.duration
        while self._frames and self._duration - self._frames[0].duration > self.seconds:
            self._duration -= self._frames.popleft().duration

    def between(self, t0: float, t1: float) -> tuple[np.ndarray, int]:
        """Caller audio (float, mono) between session times, at its own rate."""
        if not self._frames:
            return np.zeros(0, np.float32), SAMPLE_RATE
        rate = self._frames[-1].sample_rate
        inside = [f for f in self._frames if f.end > t0 and f.pts < t1]
        if not inside:
            return np.zeros(0, np.float32), rate
        audio = np.concatenate([f.floats() for f in inside])
        skip = max(0, round((t0 - inside[0].pts) * rate))
        return audio[skip : skip + max(0, round((t1 - max(t0, inside[0].pts)) * rate))], rate


def normalize(text: str) -> str:
    """The words of ``text``, lower-case and single-spaced (to compare transcripts)."""
    return " ".join(words(text))


class CallerTurn:
    """The words and timing of the caller's turn being judged, and of the last turn taken."""

    def __init__(self) -> None:
        self.speaking = False
        self.start: float | None = None
        """When the turn's first speech began."""
        self.finals: list[str] = []
        self.partial = ""
        self.final_since_stop = False
        """The recognizer finalized the speech since the caller last stopped."""
        self.segment_heard = False
        """Some transcript of the latest speech segment arrived (the text is worth speculating on)."""
        self.last_word_probability: float | None = None
        """The recognizer's probability for the last word of the turn's latest final text."""
        self.carried = ""
        """The words of a turn whose reply the caller spoke over before hearing any of it: read
        before this turn's (the text model and the cues judge the caller's message as a whole)."""
        self.text_verdict: tuple[str, float | None] = ("", None)
        """The text model's probability for the turn's final text (and that text)."""
        self.unplayed = ""
        """The words of the last turn taken, until its reply starts playing."""
        self.taken_at = -1e9
        """When the last turn with words was taken."""
        self.interrupted: str | None = None
        """The reply this turn interrupted (said on if the turn turns out to have no words)."""

    # --- what was said ---------------------------------------------------------------------------

    def text(self) -> str:
        """The turn's transcript: its final segments, then the latest partial."""
        return " ".join(t for t in [*self.finals, self.partial] if t.strip()).strip()

    def reading_text(self) -> str:
        """The turn's words as the models read them: after those of an unanswered turn it goes on."""
        return " ".join(t for t in (self.carried, self.text()) if t).strip()

    def has_words(self) -> bool:
        """The turn said something (after a barge-in, a backchannel does not count)."""
        text = self.text()
        return bool(words(text)) and not (self.interrupted is not None and is_backchannel(text))

    def cues(self) -> TranscriptCue:
        """Transcript cues on the words; final once the recognizer finalized the latest segment."""
        final = self.final_since_stop and not self.speaking and not self.partial.strip()
        return transcript_cues(self.reading_text(), final=final)

    # --- what happens ----------------------------------------------------------------------------

    def speech_started(self, pts: float) -> None:
        """A speech segment begins (the turn begins with the first)."""
        self.speaking = True
        self.segment_heard = False
        self.partial = ""
        if self.start is None:
            self.start = pts

    def speech_stopped(self) -> None:
        """The segment ended; its final transcript is due."""
        self.speaking = False
        self.final_since_stop = False

    def add_final(self, frame: FinalTranscript) -> None:
        """A segment's final transcript."""
        self.finals.append(frame.text)
        if frame.text.strip():
            self.last_word_probability = frame.words[-1].probability if frame.words else None
        self.partial = ""
        self.final_since_stop = not self.speaking

    def restart(self, start: float, final_text: str, partial: str, *, interrupted: str) -> None:
        """The turn is the caller's speech from ``start`` over ``interrupted`` (a barge-in)."""
        self.interrupted = interrupted
        self.start = start
        self.finals = [final_text] if final_text else []
        self.last_word_probability = None
        self.partial = partial

    def taken(self, now: float) -> None:
        """The turn was answered (or dropped): remember its words until the reply plays."""
        if self.has_words():
            self.unplayed = self.reading_text()
            self.taken_at = now
        self.forget()

    def forget(self) -> None:
        """Start afresh: the next speech begins a new turn."""
        self.start = None
        self.finals = []
        self.last_word_probability = None
        self.partial = ""
        self.final_since_stop = False
        self.carried = ""
