"""SentenceChunker: table-driven cases and property tests."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cascade.tts.chunker import ChunkerOptions, SentenceChunker, is_abbreviation, speakable_text


def stream(text: str, pieces: list[str] | None = None, options: ChunkerOptions | None = None) -> list[str]:
    """Chunks of ``text`` pushed in ``pieces`` (default: word-like LLM tokens), then flushed."""
    chunker = SentenceChunker(options)
    if pieces is None:
        pieces = re.findall(r"\s*\S+|\s+$", text)
    out: list[str] = []
    for piece in pieces:
        out += chunker.push(piece)
    return out + chunker.flush()


@pytest.mark.parametrize(
    ("text", "chunks"),
    [
        # the first chunk goes out at the first clause boundary, later ones at sentence ends
        ("Sure, I can help. What is your name?", ["Sure,", " I can help.", " What is your name?"]),
        ("Hello there. How are you? I am fine!", ["Hello there.", " How are you?", " I am fine!"]),
        # only the first chunk is cut at a clause
        ("Yes. Well, that is fine, really.", ["Yes.", " Well, that is fine, really."]),
        # a few words without punctuation: cut before a conjunction
        (
            "I think the best option for you and your family is this one.",
            ["I think the best option", " for you and your family is this one."],
        ),
        ("One two three four five six seven. Eight.", ["One two three four five six", " seven.", " Eight."]),
        # abbreviations, initials and "No. 5" never end a sentence
        ("Dr. Smith will see you. Bye.", ["Dr. Smith will see you.", " Bye."]),
        ("Use e.g. a pen. Or not.", ["Use e.g. a pen.", " Or not."]),
        ("The U.S. Army is here. Go.", ["The U.S. Army is here.", " Go."]),
        ("Ask J. R. Tolkien. Now.", ["Ask J. R. Tolkien.", " Now."]),
        ("See No. 5 there. Done.", ["See No. 5 there.", " Done."]),
        ("No. That is wrong.", ["No.", " That is wrong."]),
        ("We open at 9 a.m. Monday. See you.", ["We open at 9 a.m. Monday.", " See you."]),
        # decimals, times, prices, versions, emails, URLs stay whole
        ("Pi is 3.14 roughly. Yes.", ["Pi is 3.14 roughly.", " Yes."]),
        ("It costs $12.50 today. Ok.", ["It costs $12.50 today.", " Ok."]),
        ("Come at 10:30 sharp. Ok.", ["Come at 10:30 sharp.", " Ok."]),
        ("Install v2.1.3 now. Ok.", ["Install v2.1.3 now.", " Ok."]),
        ("Write to a.b@example.com today. Ok.", ["Write to a.b@example.com today.", " Ok."]),
        ("Open https://example.com/a.b?x=1 now. Ok.", ["Open https://example.com/a.b?x=1 now.", " Ok."]),
        # a lower-case word after a period is not a new sentence
        ("It is approx. five miles away. Ok.", ["It is approx. five miles away.", " Ok."]),
        ("Wait... what happened? Nothing.", ["Wait... what happened?", " Nothing."]),
        # quotes and brackets after the end punctuation stay with the sentence
        ('He said "go." Then he left.', ['He said "go."', " Then he left."]),
        # a line break ends a chunk; lines without punctuation get a period
        ("Options:\n- Apples\n- Pears\nPick one.", ["Options:", " Apples.", " Pears.", " Pick one."]),
        ("", []),
        ("   \n  ", []),
    ],
)
def test_chunks(text: str, chunks: list[str]) -> None:
    assert stream(text) == chunks
    assert "".join(stream(text, [text])) == "".join(chunks)


@pytest.mark.parametrize(
    ("text", "speakable"),
    [
        ("**Bold** and *italic* and __under__ and ~~gone~~", "Bold and italic and under and gone"),
        ("Use `pip install x` now.", "Use pip install x now."),
        ("# Title\n## Sub title\nText.", "Title. Sub title. Text."),
        ("1. First\n2) Second\n* third\n+ fourth", "First. Second. third. fourth"),
        ("> quoted text.", "quoted text."),
        ("Run this:\n```python\nprint('hi')\nx = 1\n```\nDone.", "Run this: Done."),
        ("See [the docs](https://x.org/a) and ![img](a.png).", "See the docs and img."),
        ("Great 😀👍🏽 job! 🎉", "Great job!"),
        ("| a | b |\n|---|---|\n| 1 | 2 |", "a b. 1 2"),
        ("Tom & Jerry - friends", "Tom and Jerry — friends"),
        ("snake_case and 2*3 stay.", "snake_case and 2*3 stay."),
        ("---\nText", "Text"),
        ("Cost: $5.\n\n\nNext   line.", "Cost: $5. Next line."),
    ],
)
def test_markdown_is_made_speakable(text: str, speakable: str) -> None:
    assert speakable_text(text) == speakable


@pytest.mark.parametrize(
    ("word", "lookahead", "expected"),
    [
        ("Dr.", "S", True),
        ("e.g.", "a", True),
        ("U.S.", "A", True),
        ("(Mr.", "B", True),
        ("J.", "K", True),
        ("No.", "5", True),
        ("No.", "T", False),
        ("today.", "T", False),
        ("3.", "T", False),
    ],
)
def test_abbreviations(word: str, lookahead: str, expected: bool) -> None:
    assert is_abbreviation(word, lookahead) is expected


def test_first_chunk_waits_for_the_next_word_then_goes_out() -> None:
    chunker = SentenceChunker()
    assert chunker.push("Sure,") == []  # the comma could be inside "Sure,ly"? no: wait for whitespace
    assert chunker.push(" I") == ["Sure,"]
    assert chunker.pending
    assert chunker.push(" can.") == []
    assert chunker.flush() == [" I can."]
    assert not chunker.pending


def test_options_change_eagerness() -> None:
    patient = ChunkerOptions(first_clause_min_words=3, first_max_words=0)
    assert stream("Sure, I can do that for you today, no problem.", options=patient) == [
        "Sure, I can do that for you today,",
        " no problem.",
    ]
    long = "a, " * 200 + "end."
    chunks = stream(long, options=ChunkerOptions(max_chunk_chars=40))
    assert all(len(c) <= 2 * 40 + 10 for c in chunks)
    assert "".join(chunks) == speakable_text(long)


def test_reset_forgets_everything() -> None:
    chunker = SentenceChunker()
    chunker.push("```\nsome code")
    chunker.reset()
    assert chunker.push("Hello there. ") == []
    assert chunker.flush() == ["Hello there."]


# --- properties ----------------------------------------------------------------------------------

_ALPHABET = st.sampled_from(
    [*list("abcXYZ019 .,!?:;'\"()-*_#`>|[]@$%"), "\n", "  ", "```", "e.g.", "Dr.", "😀", "**", " - "]
)
_TEXT = st.lists(_ALPHABET, max_size=60).map("".join)


@st.composite
def split_text(draw: st.DrawFn) -> tuple[str, list[str]]:
    text = draw(_TEXT)
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=12)))
    bounds = [0, *cuts, len(text)]
    return text, [text[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=400, deadline=None)
@given(split_text())
def test_concatenated_chunks_equal_the_speakable_text(case: tuple[str, list[str]]) -> None:
    text, pieces = case
    chunks = stream(text, pieces)
    assert "".join(chunks) == speakable_text(text)
    assert all(c.strip() for c in chunks)
    assert all(c.startswith(" ") and not c.startswith("  ") for c in chunks[1:])
    assert not chunks or not chunks[0].startswith(" ")
    assert "  " not in "".join(chunks)


_PLAIN = st.lists(
    st.sampled_from(["Hello", "world", "there", "a", "Bob", "e.g.", "Dr.", "3.5", "it's", "$4"]), max_size=30
).flatmap(
    lambda words: st.tuples(
        st.just(words),
        st.lists(st.sampled_from([".", "!", "?", ",", ""]), min_size=len(words), max_size=len(words)),
    )
)


@settings(max_examples=300, deadline=None)
@given(_PLAIN, st.integers(1, 5))
def test_plain_text_is_kept_word_for_word(case: tuple[list[str], list[str]], piece: int) -> None:
    words, marks = case
    text = " ".join(w + m for w, m in zip(words, marks, strict=True))
    pieces = [text[i : i + piece] for i in range(0, len(text), piece)]
    assert "".join(stream(text, pieces)) == " ".join(text.split())
