"""Word-level cleaning of LLM text into speakable words: markdown, code, list markers, emoji.

The chunker feeds complete whitespace-separated words through :func:`clean_word` one at a time,
so cleaning never depends on text that has not arrived yet. Line-level syntax (headings, list
markers, quotes, code fences) is recognized on the first word of a line by :func:`line_marker`.
"""

from __future__ import annotations

import re
from enum import Enum

_EMOJI = re.compile(
    "["
    "\U0001f000-\U0001faff"  # pictographs, emoticons, transport, symbols, flags' letters
    "\U00002600-\U000027bf"  # misc symbols and dingbats
    "\U00002b00-\U00002bff"  # arrows and stars used as emoji
    "\U0001f1e6-\U0001f1ff"  # regional indicators
    "\U0000fe00-\U0000fe0f"  # variation selectors
    "\U0000200d"  # zero-width joiner
    "\U000020e3"  # combining keycap
    "\U000e0020-\U000e007f"  # tag characters
    "]+"
)
_LINK_TARGET = re.compile(r"\]\([^)\s]*\)")
_LEADING_MARKUP = re.compile(r"^([\"'“‘(]*)(?:!?\[|[*_]+)+")
_TRAILING_MARKUP = re.compile(r"(?:[*_]+|\])+([\"'”’).,;:!?]*)$")
_RULE = re.compile(r"^[-*_=|:+]+$")
_NUMBERED = re.compile(r"^\d{1,2}[.)]$")
_DASHES = {"-": "—", "–": "—", "—": "—", "--": "—"}


class LineMarker(Enum):
    """What the first word of a line is, as far as speech is concerned."""

    NONE = "none"
    """An ordinary word: speak it."""
    DROP = "drop"
    """A heading, list or quote marker, or a horizontal rule: do not speak it."""
    FENCE = "fence"
    """A code fence (```` ``` ```` or ``~~~``): code until the next fence is not spoken."""


def line_marker(word: str) -> LineMarker:
    """Classify the first word of a line."""
    if word.startswith(("```", "~~~")):
        return LineMarker.FENCE
    if set(word) <= {"#"} or word in {"-", "*", "+", ">", ">>"} or _NUMBERED.match(word):
        return LineMarker.DROP
    if len(word) >= 3 and _RULE.match(word):
        return LineMarker.DROP
    return LineMarker.NONE


def strip_emoji(text: str) -> str:
    """Remove emoji and their joiners/modifiers."""
    return _EMOJI.sub("", text)


def clean_word(word: str) -> str:
    """One word without markdown emphasis, inline code, link syntax or emoji ("" if nothing is left).

    ``**Note:**`` → ``Note:``; ``[docs](https://x.y)`` → ``docs``; ``snake_case`` and ``2*3``
    keep their inner characters; a lone dash becomes an em dash (a spoken pause).
    """
    word = strip_emoji(word)
    if word in _DASHES:
        return _DASHES[word]
    if word == "&":
        return "and"
    word = word.replace("`", "").replace("**", "").replace("__", "").replace("~~", "")
    word = _LINK_TARGET.sub("", word)
    word = _LEADING_MARKUP.sub(r"\1", word)
    word = _TRAILING_MARKUP.sub(r"\1", word)
    if not any(ch.isalnum() for ch in word):
        # table pipes, separator rows and stray symbols carry no speech
        return ""
    return word
