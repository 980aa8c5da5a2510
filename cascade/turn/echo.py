"""Echo of the bot's own voice in the caller's audio, told apart by what the bot is playing.

Two independent tests, both cheap:

* audio: the caller's energy envelope follows the played envelope, delayed by the echo path
  (correlation of dB envelopes over a short window, searching the delay). A filtered, quieter
  copy still correlates; a caller talking over the bot does not.
* text: the words recognized during playback are (almost) all words the bot is saying.
"""

from __future__ import annotations

from collections import Counter, deque
from difflib import SequenceMatcher
from typing import Literal

import numpy as np

from cascade.audio import FLOOR_DB
from cascade.numbers import number_to_words
from cascade.turn.cues import words

_MIN_SPREAD_DB = 3.0
_LAG_SLACK = 2
"""Hops the echo delay may drift either way from the one learned (a jitter buffer adapting)."""
_LAG_VOTES = 25
"""The echo delay is the one most often matched among this many recent matches (speech envelopes
also match at a wrong delay now and then)."""

EchoVerdict = Literal["echo", "caller", "unsure"]


def best_lag(caller: np.ndarray, played: np.ndarray) -> tuple[float, int]:
    """Best correlation of the ``caller`` envelope with ``played`` delayed by 0 .. N hops.

    ``played`` covers the same span as ``caller`` plus ``N = len(played) - len(caller)`` hops
    before it. Returns ``(correlation, lag)``; the correlation is 0 when either envelope is too
    flat to tell (e.g. the bot is silent).
    """
    n = len(caller)
    lags = len(played) - n
    if n < 5 or lags < 0 or np.ptp(caller) < _MIN_SPREAD_DB:
        return 0.0, 0
    c = caller - caller.mean()
    c_norm = float(np.sqrt(np.sum(c * c)))
    best, best_at = 0.0, 0
    for lag in range(lags + 1):
        seg = played[lags - lag : lags - lag + n]
        if np.ptp(seg) < _MIN_SPREAD_DB:
            continue
        s = seg - seg.mean()
        denom = c_norm * float(np.sqrt(np.sum(s * s)))
        if denom > 0 and float(np.sum(c * s)) / denom > best:
            best, best_at = float(np.sum(c * s)) / denom, lag
    return best, best_at


def echo_correlation(caller: np.ndarray, played: np.ndarray) -> float:
    """The correlation part of :func:`best_lag`."""
    return best_lag(caller, played)[0]


class EchoGate:
    """Per-frame echo decision: correlation to learn the echo path, level to catch double talk.

    While the caller's envelope follows the played one (correlation above ``correlation``), the
    gate learns the echo return loss (caller dB minus played dB) and the delay. Afterwards a frame
    is echo when its energy is explained by the played audio through that path (whose delay may
    drift a few hops, as a jitter buffer adapts): a caller talking
    over the bot adds ``double_talk_db`` or more above the predicted echo. Energy that follows the
    playout's shape but is more than ``max_return_db`` louder than it is not an echo (a line returns
    the bot quieter, or barely louder): the caller happens to rise as the bot falls (e.g. ducked).
    """

    def __init__(
        self, correlation: float, double_talk_db: float = 6.0, recent: int = 5, max_return_db: float = 6.0
    ) -> None:
        self.correlation = correlation
        self.double_talk_db = double_talk_db
        self.recent = recent
        self.max_return_db = max_return_db
        self.loss_db: float | None = None
        """Learned echo return loss (negative: the echo is quieter than the playout)."""
        self.lag = 0
        self._lags: deque[int] = deque(maxlen=_LAG_VOTES)

    def classify(self, caller: np.ndarray, played: np.ndarray, *, learn: bool = True) -> EchoVerdict:
        """Is the end of ``caller`` the bot's echo, the caller, or can't we tell?

        Arrays as for :func:`best_lag`: dB envelopes, ``played`` longer by the delays searched.
        ``learn=False`` while the caller is known to talk over the bot (double talk): the echo path
        is neither learned nor guessed then, only the one learned before is used (a correlation of
        the caller's speech with the playout is then chance, e.g. the bot ducking as they speak).
        """
        n = len(caller)
        lags = len(played) - n
        if n < self.recent or lags < 0 or (not learn and self.loss_db is None):
            return "caller"
        if played[n - self.recent :].max() < FLOOR_DB + 20.0:
            return "caller"  # nothing was played that could echo into the latest frames
        excess = self._excess(caller, played, lags)
        if excess is not None and excess >= self.double_talk_db:
            return "caller"
        corr, lag = best_lag(caller, played)
        if corr < self.correlation:
            return "caller" if excess is None else "unsure"
        seg = played[lags - lag : lags - lag + n]
        active = seg > FLOOR_DB + 20.0
        loss = float(np.median(caller[active] - seg[active])) if active.sum() >= 5 else None
        if loss is not None and loss > self.max_return_db:
            return "caller"
        if learn and loss is not None and (excess is None or excess < self.double_talk_db / 2):
            self.loss_db = loss if self.loss_db is None else 0.8 * self.loss_db + 0.2 * loss
            self._lags.append(lag)
            self.lag = Counter(self._lags).most_common(1)[0][0]
        return "echo"

    def _excess(self, caller: np.ndarray, played: np.ndarray, lags: int) -> float | None:
        """How far the latest caller frames rise above the echo predicted from the playout (at the
        delay, within ``_LAG_SLACK`` hops of the one learned, that explains them best)."""
        if self.loss_db is None:
            return None
        n = len(caller)
        recent = caller[-self.recent :]
        best: float | None = None
        for lag in range(max(0, self.lag - _LAG_SLACK), min(lags, self.lag + _LAG_SLACK) + 1):
            end = lags - lag + n
            predicted = np.full(self.recent, FLOOR_DB, np.float32)
            for i in range(self.recent):
                lo, hi = max(0, end - self.recent + i - 1), min(len(played), end - self.recent + i + 2)
                if hi > lo:
                    predicted[i] = played[lo:hi].max()
            excess = float(np.mean(recent - (predicted + self.loss_db)))
            best = excess if best is None else min(best, excess)
        return best


_SPELLING = 0.8
"""Similarity (difflib ratio) at which a recognized word is a played one spelled otherwise or cut
short ("harbor" for "harbour", "bake" for "bakery")."""


def _spoken(token: str) -> list[str]:
    """A recognized token as the bot's text would spell it (a recognizer writes "6" for "six")."""
    if not token.isdigit() or len(token) > 2:
        return [token]
    return number_to_words(int(token)).replace("-", " ").split()


def is_echo_text(heard: str, playing: str, *, overlap: float = 0.65) -> bool:
    """True when the recognized ``heard`` words are mostly words of the bot's ``playing`` text.

    Echo comes back through a phone line and is recognized with errors ("thanks for coming" for
    "thanks for calling"): numbers are compared as words, spelling variants count, and a third of
    the words may be wrong.
    """
    got = [spelled for token in words(heard) for spelled in _spoken(token)]
    if not got:
        return False
    said = set(words(playing))
    if not said:
        return False
    matched = sum(
        w in said or any(SequenceMatcher(None, w, s).ratio() >= _SPELLING for s in said) for w in got
    )
    return matched / len(got) >= overlap
