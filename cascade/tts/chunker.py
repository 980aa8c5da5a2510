"""Streamed LLM text → speakable chunks: an early first clause, then whole sentences.

:class:`SentenceChunker` receives the LLM's text deltas and returns chunks as soon as they are
safe to synthesize. The first chunk of a response goes out at the first clause boundary (a comma,
colon, semicolon or dash) or after a few words, so the caller hears the bot early; later chunks
end at sentence boundaries, which gives the voice whole sentences to phrase.

A sentence ends at ``.``, ``!``, ``?`` or ``…`` followed by a word that does not start in lower
case, or at a line break. Abbreviations (``Dr.``, ``e.g.``, ``U.S.``, ``a.m.``), initials and
``No. 5`` never end a sentence; decimals, times, prices, versions, emails and URLs cannot, because
text is cut only between whitespace-separated words.

Markdown is made speakable word by word (see :mod:`cascade.tts.markdown`): emphasis, inline code
and link syntax are removed, headings, list and quote markers dropped, fenced code skipped, emoji
removed; a line that ends without punctuation (a heading, a list item) gets a period so the voice
pauses. Words are joined by single spaces and every chunk after the first starts with that space,
so the concatenated chunks always equal :func:`speakable_text` of the whole reply, however the
text was split into deltas.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field

from cascade.tts.markdown import LineMarker, clean_word, line_marker

_WORD = re.compile(r"(\s*)(\S+)(\s*)")
_CLOSERS = "\"'”’)]"
_OPENERS = "*_[(\"'“‘`~"
_SENTENCE_END = (".", "!", "?", "…")
_CLAUSE_END = (",", ";", ":")
_TERMINAL = (*_SENTENCE_END, *_CLAUSE_END, "—")

ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "mx",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "mt",
        "vs",
        "etc",
        "e.g",
        "i.e",
        "cf",
        "approx",
        "ph.d",
        "inc",
        "ltd",
        "co",
        "corp",
        "dept",
        "est",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "a.m",
        "p.m",
        "u.s",
        "u.k",
        "sgt",
        "capt",
        "gen",
        "col",
        "lt",
        "rev",
        "ave",
        "blvd",
        "rd",
        "ft",
        "min",
        "max",
    ]
)
"""Words that end in a period without ending the sentence (lower case, final period removed)."""

NUMBER_ABBREVIATIONS = frozenset(["no", "nos", "fig", "figs", "vol", "p", "pp", "ch", "sec", "art"])
"""Abbreviations that do not end a sentence when a number follows (``No. 5``, ``p. 12``)."""

BREAK_WORDS = frozenset(
    [
        "and",
        "but",
        "or",
        "so",
        "because",
        "which",
        "that",
        "when",
        "while",
        "if",
        "with",
        "to",
        "for",
        "though",
        "although",
        "where",
    ]
)
"""Words before which an over-long first chunk may be cut when it has no punctuation."""

_LEADING = "the a an my your our their his her its this these those on in at of from by about into as"
_LEADING_WORDS = BREAK_WORDS | frozenset(_LEADING.split())
"""Words a chunk must not end with (they lead into the next word)."""

_DOTTED = re.compile(r"(?:[A-Za-z]\.)+[A-Za-z]")


class ChunkerOptions(BaseModel):
    """How eagerly text is cut into chunks."""

    first_clause_min_words: int = Field(default=1, ge=1)
    """Words the first chunk needs before a clause boundary (``,`` ``;`` ``:`` dash) may end it."""
    first_max_words: int = Field(default=6, ge=0)
    """Cut the first chunk after this many words without punctuation, before a conjunction or
    preposition when there is one (0: wait for punctuation)."""
    max_chunk_chars: int = Field(default=300, ge=20)
    """Later chunks longer than this end at the next clause boundary, and at any word when twice
    as long."""


def chunk_ending(chunk: str) -> Literal["sentence", "clause", "open"]:
    """How a chunk's text ends: a sentence end, a clause boundary, or neither (cut inside a clause)."""
    end = chunk.rstrip().rstrip(_CLOSERS)
    if end.endswith(_SENTENCE_END):
        return "sentence"
    if end.endswith((*_CLAUSE_END, "—", "-")):
        return "clause"
    return "open"


def is_abbreviation(word: str, lookahead: str = "") -> bool:
    """True if ``word`` (ending in a period) is an abbreviation or an initial, not a sentence end."""
    stem = word.rstrip(_CLOSERS)[:-1].lstrip(_OPENERS)
    lower = stem.lower()
    if lower in ABBREVIATIONS or (len(stem) == 1 and stem.isalpha()) or _DOTTED.fullmatch(stem):
        return True
    return lower in NUMBER_ABBREVIATIONS and lookahead.isdigit()


class SentenceChunker:
    """Turns streamed text into speakable chunks (see the module docstring).

    >>> chunker = SentenceChunker()
    >>> chunker.push("Sure, Dr. Smith is in")
    ['Sure,']
    >>> chunker.push(" at 3.30 p.m. today. See you")
    [' Dr. Smith is in at 3.30 p.m. today.']
    >>> chunker.flush()
    [' See you']
    """

    def __init__(self, options: ChunkerOptions | None = None) -> None:
        self.options = options or ChunkerOptions()
        self.reset()

    def reset(self) -> None:
        """Forget everything (a new response, or an interruption)."""
        self._raw = ""
        self._words: list[str] = []
        self._emitted = False
        self._line_start = True
        self._in_fence = False

    @property
    def pending(self) -> bool:
        """True if text is held that has not been returned as a chunk yet."""
        return bool(self._words or self._raw.strip())

    def push(self, text: str) -> list[str]:
        """Add a delta; return the chunks that became complete (often none)."""
        self._raw += text
        return self._drain(final=False)

    def flush(self) -> list[str]:
        """End of the response: return the remaining chunks and reset."""
        out = self._drain(final=True)
        if self._words:
            out.append(self._cut(len(self._words)))
        self.reset()
        return out

    def cut_early(self, min_words: int) -> list[str]:
        """The whole words held so far as a chunk, if there are ``min_words`` (else nothing).

        For a voice about to run out of audio before the sentence is complete. The pause falls
        where a speaker would take it: before the last conjunction or preposition that leaves
        ``min_words``, and never after a word that needs the next one ("on", "the").
        """
        words = self._words
        if not self._emitted or self._in_fence:
            return []
        end = len(words)
        while end and words[end - 1].lower().strip(_OPENERS) in _LEADING_WORDS:
            end -= 1
        if end < min_words:
            return []
        breaks = [i for i in range(min_words, end) if words[i].lower().strip(_OPENERS) in BREAK_WORDS]
        return [self._cut(breaks[-1] if breaks else end)]

    # --- internals ---------------------------------------------------------------------------

    def _drain(self, *, final: bool) -> list[str]:
        out: list[str] = []
        while True:
            match = _WORD.match(self._raw)
            if match is None:
                if final:
                    self._raw = ""
                return out
            rest = self._raw[match.end() :]
            if not rest and not final:
                return out  # the word, or the whitespace after it, may still grow
            self._raw = rest
            lead, word, trail = match.groups()
            if "\n" in lead:
                self._line_start = True
            lookahead = rest.lstrip(_OPENERS)[:1]
            self._take(word, newline_after="\n" in trail, lookahead=lookahead, out=out)

    def _take(self, word: str, *, newline_after: bool, lookahead: str, out: list[str]) -> None:
        spoken = ""
        if self._line_start:
            marker = line_marker(word)
            if marker is LineMarker.FENCE:
                self._in_fence = not self._in_fence
            elif not self._in_fence and marker is LineMarker.NONE:
                spoken = clean_word(word)
        elif not self._in_fence:
            spoken = clean_word(word)
        self._line_start = newline_after
        if spoken:
            self._words.append(spoken)
        if newline_after and self._words:
            if not self._words[-1].rstrip(_CLOSERS).endswith(_TERMINAL):
                self._words[-1] += "."
            out.append(self._cut(len(self._words)))
        elif spoken:
            cut = self._boundary(spoken, lookahead)
            if cut:
                out.append(self._cut(cut))

    def _boundary(self, word: str, lookahead: str) -> int:
        """How many held words form a chunk now that ``word`` was added (0: none yet)."""
        words, opts = self._words, self.options
        count = len(words)
        core = word.rstrip(_CLOSERS)
        sentence = core.endswith(_SENTENCE_END) and not lookahead[:1].islower()
        if sentence and not (core.endswith(".") and is_abbreviation(word, lookahead)):
            return count
        clause = core.endswith(_CLAUSE_END) or word == "—"
        if not self._emitted:
            if clause and count >= opts.first_clause_min_words:
                return count
            if opts.first_max_words and count >= opts.first_max_words:
                breaks = [i for i in range(2, count) if words[i].lower().strip(_OPENERS) in BREAK_WORDS]
                return breaks[-1] if breaks else count
            return 0
        length = sum(len(w) + 1 for w in words)
        if (clause and length >= opts.max_chunk_chars) or length >= 2 * opts.max_chunk_chars:
            return count
        return 0

    def _cut(self, count: int) -> str:
        chunk = " ".join(self._words[:count])
        del self._words[:count]
        if self._emitted:
            chunk = " " + chunk
        self._emitted = True
        return chunk


def speakable_text(text: str, options: ChunkerOptions | None = None) -> str:
    """The whole speakable form of ``text``: what the chunks of a reply concatenate to."""
    chunker = SentenceChunker(options)
    return "".join(chunker.push(text) + chunker.flush())
