"""normalize_for_speech: numbers, money, times, dates, phone numbers, emails, URLs."""

from __future__ import annotations

import pytest

from cascade.tts.normalize import normalize_for_speech, number_to_words, ordinal_to_words, year_to_words


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("It costs $12.50.", "It costs twelve dollars and fifty cents."),
        ("Only $1 or $0.99 or £5.", "Only one dollar or ninety-nine cents or five pounds."),
        ("A $3 million deal.", "A three million dollars deal."),
        ("We have 1,250 seats.", "We have one thousand two hundred fifty seats."),
        ("Pi is 3.14.", "Pi is three point one four."),
        ("Up 50% today.", "Up fifty percent today."),
        ("Meet at 7:30.", "Meet at seven thirty."),
        ("Meet at 9:05 a.m. Then lunch.", "Meet at nine oh five a m. Then lunch."),
        ("At 12:00 sharp, or 5:30 PM.", "At twelve o'clock sharp, or five thirty p m."),
        ("Due 2024-03-05.", "Due March fifth, twenty twenty-four."),
        ("On March 3rd we go.", "On March third we go."),
        ("The 21st time.", "The twenty-first time."),
        ("Born in 1999, moved in 2005.", "Born in nineteen ninety-nine, moved in two thousand five."),
        ("Call 555-123-4567 now.", "Call five five five, one two three, four five six seven now."),
        ("Call (555) 123-4567.", "Call five five five, one two three, four five six seven."),
        ("Dial +1 555 123 4567.", "Dial plus one, five five five, one two three, four five six seven."),
        ("Mail jo.doe@example.com.", "Mail jo dot doe at example dot com."),
        ("See https://www.example.com/docs/api.", "See example dot com slash docs slash api."),
        (
            "Use v2.1.3 or version 2.0.1.",
            "Use version two point one point three or version two point zero point one.",
        ),
        ("Room 042.", "Room zero four two."),
        ("Tom & Jerry.", "Tom and Jerry."),
        ("No digits here.", "No digits here."),
    ],
)
def test_normalize(text: str, spoken: str) -> None:
    assert normalize_for_speech(text) == spoken


def test_number_words() -> None:
    assert number_to_words(0) == "zero"
    assert number_to_words(-7) == "minus seven"
    assert number_to_words(1_000_001) == "one million one"
    assert number_to_words(999_999_999_999).startswith("nine hundred ninety-nine billion")
    assert [ordinal_to_words(n) for n in (1, 2, 3, 12, 20, 101)] == [
        "first",
        "second",
        "third",
        "twelfth",
        "twentieth",
        "one hundred first",
    ]
    assert [year_to_words(y) for y in (1900, 2000, 2010, 1905)] == [
        "nineteen hundred",
        "two thousand",
        "twenty ten",
        "nineteen oh five",
    ]
