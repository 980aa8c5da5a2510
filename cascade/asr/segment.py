"""One speech segment's decoding state: the audio window re-decoded, its prompt and agreement."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

from cascade.asr.agreement import LocalAgreement, after_context, drop_loops, join
from cascade.asr.engine import Hypothesis
from cascade.asr.options import StreamingOptions
from cascade.frames import Word

log = logging.getLogger("cascade.asr")

PROMPT_CHARS = 200
"""Longest prompt text given to a decode."""
_FORCE_TRIM = 25.0
"""Audio in one decode window past which pending words are committed so it can be trimmed."""


def last_chars(text: str) -> str:
    """The end of a prompt text, at most ``PROMPT_CHARS`` long, starting at a whole word."""
    if len(text) <= PROMPT_CHARS:
        return text
    return text[-PROMPT_CHARS:].partition(" ")[2]


@dataclass
class Segment:
    """The decoding state of one speech segment: its audio window, prompt, agreement and latest
    hypothesis."""

    start: float
    generation: int
    agreement: LocalAgreement = field(default_factory=LocalAgreement)
    stop: float | None = None
    window_start: float = 0.0
    """Start of the audio re-decoded each time (moves forward when committed audio is trimmed)."""
    prompt: str = ""
    decoded_until: float = 0.0
    latest: Hypothesis | None = None
    agreed_until: float = float("-inf")
    """End of the audio of the last decode that updated the agreement."""
    last_text: str = ""
    again: tuple[Word, ...] = ()
    """The previous segment's words whose audio the window starts with (decoded again)."""
    prepared: bool = False
    """Whether the window has been extended over the previous segment's last words (done when
    the segment's first decode starts: the previous final is known then)."""

    def __post_init__(self) -> None:
        self.window_start = self.decoded_until = self.start

    def own(self, hypothesis: Hypothesis) -> Hypothesis:
        """The hypothesis without a decoding loop and without the words of the audio before the
        segment (decoded as context)."""
        words = drop_loops(hypothesis.words)
        if self.again and self.window_start <= self.again[0].start:  # not trimmed off since
            words = after_context(words, self.again, self.start)
        return replace(hypothesis, words=tuple(words))

    def trim(self, decoded_end: float, opts: StreamingOptions) -> None:
        """Cut committed audio off the front once the re-decoded window grows too long."""
        if decoded_end - self.window_start <= opts.trim_after:
            return
        agreement = self.agreement
        if decoded_end - self.window_start > _FORCE_TRIM:
            agreement.force_commit(decoded_end - opts.trim_after / 2)
        if not agreement.committed or agreement.committed_end <= self.window_start:
            return
        cut = max(self.window_start, agreement.committed_end - opts.keep_context)
        before = [w for w in agreement.committed if w.end <= cut]
        self.window_start = cut
        self.prompt = last_chars(join(before))
        log.debug("trimmed segment window to %.2f", cut)
