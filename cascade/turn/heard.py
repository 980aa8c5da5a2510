"""What the caller heard of the bot, as the playout sink reports it on the priority lane.

The sink says when a reply starts and ends (``BotSpeechStarted``/``BotSpeechEnded``, with the words
heard and the rest an interrupted reply was going to say) and what each chunk it played carried
(``BotAudioPlayed``: its words and energy envelope). :class:`BotPlayback` keeps the recent part of
that, on the session timeline, for the turn decider: the echo check compares the caller's audio
with the energy played, and the words recognized with the words played; a false interruption is
answered with the unheard rest.
"""

from __future__ import annotations

from collections import OrderedDict, deque

import numpy as np

from cascade.audio import ENVELOPE_HOP, FLOOR_DB
from cascade.frames import BotAudioPlayed, BotSpeechEnded, BotSpeechStarted

BACKCHANNEL_PREFIX = "backchannel-"
"""Response ids of the short acknowledgements the turn-taker says itself."""
_KEEP_RESPONSES = 4


class BotPlayback:
    """The bot's recent playback: which reply plays, its words and the energy the caller heard."""

    def __init__(self, keep_seconds: float = 10.0) -> None:
        self.plays_audio = False
        """The session plays the bot's audio (else replies count as heard when written)."""
        self.playing: str | None = None
        """The response being played now."""
        self.last_words = ""
        """What the caller heard of the bot's last reply (backchannels aside)."""
        self._keep_hops = round(keep_seconds / ENVELOPE_HOP)
        self._levels: dict[int, float] = {}
        self._hops: deque[int] = deque()
        self._next_hop: int | None = None
        """The hop right after the last one played (where the next chunk starts, give or take
        the output clock's jitter)."""
        self._played: OrderedDict[str, str] = OrderedDict()
        self._unheard: OrderedDict[str, str] = OrderedDict()

    # --- the sink's reports --------------------------------------------------------------------

    def started(self, frame: BotSpeechStarted) -> None:
        """A reply began playing."""
        self.playing = frame.response_id

    def played(self, frame: BotAudioPlayed) -> None:
        """A chunk of a reply went out: keep its words and its energy per hop."""
        if frame.text:
            _remember(self._played, frame.response_id, self._played.get(frame.response_id, "") + frame.text)
        first = round(frame.pts / ENVELOPE_HOP)
        if self._next_hop is not None and abs(first - self._next_hop) <= 1:
            first = self._next_hop  # a chunk a little early or late still follows the last one
        if frame.envelope:
            self._next_hop = first + len(frame.envelope)
        for i, level in enumerate(frame.envelope):
            if first + i not in self._levels:
                self._hops.append(first + i)
            self._levels[first + i] = level
        while len(self._hops) > self._keep_hops:
            self._levels.pop(self._hops.popleft(), None)

    def ended(self, frame: BotSpeechEnded) -> None:
        """A reply stopped playing (to its end, or interrupted)."""
        _remember(self._unheard, frame.response_id, frame.unheard_text)
        if not frame.response_id.startswith(BACKCHANNEL_PREFIX) and frame.heard_text.strip():
            self.last_words = frame.heard_text
        if self.playing == frame.response_id:
            self.playing = None

    # --- questions the decider asks --------------------------------------------------------------

    @property
    def busy(self) -> bool:
        """The bot is playing something (a reply or a backchannel)."""
        return self.playing is not None

    def played_text(self, response_id: str) -> str:
        """The words of ``response_id`` played so far."""
        return self._played.get(response_id, "")

    def unheard_rest(self, response_id: str) -> str:
        """What an interrupted reply was going to say after what the caller heard."""
        return self._unheard.get(response_id, "")

    def envelope(self, t0: float, t1: float) -> np.ndarray:
        """Played bot energy (dB per ``ENVELOPE_HOP``) over session times ``[t0, t1)``."""
        count = max(0, round((t1 - t0) / ENVELOPE_HOP))
        hops = np.round((t0 + np.arange(count) * ENVELOPE_HOP) / ENVELOPE_HOP).astype(np.int64)
        return np.array([self._levels.get(int(h), FLOOR_DB) for h in hops], np.float32)


def _remember(texts: OrderedDict[str, str], response_id: str, text: str) -> None:
    texts[response_id] = text
    texts.move_to_end(response_id)
    while len(texts) > _KEEP_RESPONSES:
        texts.popitem(last=False)
