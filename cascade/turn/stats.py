"""What the turn-taker counted in a session (for tests, logs and benchmarks)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TurnStats:
    """Counters of one session's turn-taking."""

    end_of_turn: int = 0
    barge_in: int = 0
    false_interruption: int = 0
    """Turns that began by interrupting the bot and had no words (a cough, a click)."""
    resumed: int = 0
    """False interruptions after which the bot said the unheard rest."""
    ignored_overlap: int = 0
    """Caller sounds over the bot that did not interrupt it."""
    echo_frames: int = 0
    preemptive: int = 0
    """Replies started on the stable partial text before the turn was taken."""
    preemptive_wasted: int = 0
    early_end: int = 0
    """Times the caller went on after their turn was taken, before hearing the reply."""
    backchannel: int = 0
    paused: int = 0
    pause_resumed: int = 0
