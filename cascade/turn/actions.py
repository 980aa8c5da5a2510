"""What the turn decider asks its stage to do: plain values, carried out in order.

The decider (:mod:`cascade.turn.decider`) never touches the session; it returns these. The
:class:`~cascade.turn.taker.TurnTaker` stage turns them into frames, interrupts and control events
(stamping each frame with the session time and generation when it carries it out, so a frame after
an ``Interrupt`` action belongs to the new generation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class EndTurn:
    """Emit ``EndOfTurn``: the caller's turn (``preemptive``: the likely end, reply held)."""

    text: str
    probability: float
    reason: str
    preemptive: bool = False


@dataclass(frozen=True)
class Say:
    """Emit ``TextToSpeak`` (the unheard rest of a reply, or a backchannel)."""

    text: str
    response_id: str


@dataclass(frozen=True)
class Interrupt:
    """Start a new generation in the session (barge-in, a reply taken back)."""

    reason: str
    drops_reply: bool = True
    """The reply to the caller's last turn goes with it (not so for a backchannel that yields)."""


@dataclass(frozen=True)
class Hold:
    """Keep the bot's audio buffered, unplayed, until the matching :class:`Release`; with
    ``duck_for``, first play it on ``duck_db`` quieter for that long."""

    reason: str
    duck_db: float = 0.0
    duck_for: float = 0.0


@dataclass(frozen=True)
class Release:
    """Drop the hold taken for ``reason``."""

    reason: str


@dataclass(frozen=True)
class Mark:
    """Record a point of the turn's latency timeline (``at``: session time)."""

    name: Literal["user_speech_end", "end_of_turn"]
    at: float


@dataclass(frozen=True)
class RetractEndOfTurn:
    """The end of turn marked was premature (the caller may go on): unmark it."""


@dataclass(frozen=True)
class CountWasted:
    """A speculative reply was thrown away: count its generation as wasted."""


Action = EndTurn | Say | Interrupt | Hold | Release | Mark | RetractEndOfTurn | CountWasted
"""Everything :meth:`~cascade.turn.decider.TurnDecider.decide` may return."""
