"""Optional text normalization for speech: numbers, money, times, dates, phone numbers, addresses.

Applied to each chunk right before synthesis (never to the text the caller is said to have heard).
Engines that read digits badly (or read a phone number as "five hundred fifty-five million ...")
sound better with it; it only rewrites patterns it is sure about and leaves the rest alone.

>>> normalize_for_speech("Call 555-123-4567 at 7:30 pm.")
'Call five five five, one two three, four five six seven at seven thirty p m.'
>>> normalize_for_speech("It's $12.50.")
"It's twelve dollars and fifty cents."
"""

from __future__ import annotations

import re
from collections.abc import Callable

from cascade.numbers import ONES, number_to_words

_ORDINAL_WORDS = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_CURRENCY = {"$": ("dollar", "dollars", "cent", "cents"), "€": ("euro", "euros", "cent", "cents")}
_CURRENCY["£"] = ("pound", "pounds", "penny", "pence")
_DIGIT_NAMES = {str(i): ONES[i] for i in range(10)}


def ordinal_to_words(n: int) -> str:
    """Ordinal number in words: ``21`` → ``twenty-first``."""
    words = number_to_words(n)
    head, sep, last = words.rpartition("-" if "-" in words.split(" ")[-1] else " ")
    if last in _ORDINAL_WORDS:
        last = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return head + sep + last


def year_to_words(n: int) -> str:
    """A year as spoken: ``1999`` → ``nineteen ninety-nine``, ``2005`` → ``two thousand five``."""
    high, low = divmod(n, 100)
    if n < 1000 or 2000 <= n < 2010 or (low == 0 and high % 10 == 0):
        return number_to_words(n)
    if low == 0:
        return number_to_words(high) + " hundred"
    return number_to_words(high) + (" oh " if low < 10 else " ") + number_to_words(low)


def digits_to_words(digits: str) -> str:
    """Digits one by one: ``"042"`` → ``zero four two``."""
    return " ".join(_DIGIT_NAMES[d] for d in digits if d.isdigit())


def _decimal(text: str) -> str:
    whole, _, frac = text.replace(",", "").partition(".")
    words = number_to_words(int(whole or "0"))
    return words + (" point " + digits_to_words(frac) if frac else "")


def _money(m: re.Match[str]) -> str:
    symbol, amount, scale = m.group(1), m.group(2), m.group(3)
    one, many, sub_one, sub_many = _CURRENCY[symbol]
    if scale:
        return f"{_decimal(amount)} {scale.lower()} {many}"
    whole_text, _, frac = amount.replace(",", "").partition(".")
    whole = int(whole_text or "0")
    words = f"{number_to_words(whole)} {one if whole == 1 else many}"
    cents = int((frac + "00")[:2]) if frac else 0
    if cents:
        sub = f"{number_to_words(cents)} {sub_one if cents == 1 else sub_many}"
        words = sub if whole == 0 else f"{words} and {sub}"
    return words


def _time(m: re.Match[str]) -> str:
    hour, minute, suffix = int(m.group(1)), int(m.group(2)), m.group(3)
    if minute == 0:
        spoken = number_to_words(hour) + ("" if suffix else " o'clock")
    elif minute < 10:
        spoken = f"{number_to_words(hour)} oh {number_to_words(minute)}"
    else:
        spoken = f"{number_to_words(hour)} {number_to_words(minute)}"
    if suffix:
        spoken += " " + " ".join(suffix.lower().replace(".", ""))
        after = m.string[m.end() : m.end() + 2]
        if suffix.endswith(".") and (not after.strip() or after[1:].isupper()):
            spoken += "."  # the abbreviation's period also ended the sentence
    return spoken


def _iso_date(m: re.Match[str]) -> str:
    year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return m.group(0)
    return f"{_MONTHS[month - 1]} {ordinal_to_words(day)}, {year_to_words(year)}"


def _month_day(m: re.Match[str]) -> str:
    return f"{m.group(1)} {ordinal_to_words(int(m.group(2)))}"


def _phone(m: re.Match[str]) -> str:
    groups = [g for g in re.split(r"[^\d+]+", m.group(0)) if g]
    spoken = [("plus " + digits_to_words(g[1:])) if g.startswith("+") else digits_to_words(g) for g in groups]
    return ", ".join(spoken)


def _email(m: re.Match[str]) -> str:
    user, domain = m.group(1), m.group(2)
    return f"{user.replace('.', ' dot ')} at {domain.replace('.', ' dot ')}"


def _url(m: re.Match[str]) -> str:
    host, path = m.group(1), m.group(2) or ""
    host = re.sub(r"^www\.", "", host)
    spoken = host.replace(".", " dot ")
    path = path.rstrip("/")
    if path:
        spoken += " slash " + " slash ".join(p for p in path.strip("/").split("/") if p)
    return spoken


def _version_prefix(m: re.Match[str]) -> str:
    said = m.group(1) and not m.string[: m.start()].lower().endswith("version ")
    return "version " if said else ""


def _version(m: re.Match[str]) -> str:
    parts = m.group(2).split(".")
    return _version_prefix(m) + " point ".join(number_to_words(int(p)) for p in parts)


def _number(m: re.Match[str]) -> str:
    text = m.group(0)
    if "." not in text and "," not in text and len(text) == 4 and 1100 <= int(text) <= 2099:
        return year_to_words(int(text))
    if "." not in text and text.startswith("0") and len(text) > 1:
        return digits_to_words(text)
    return _decimal(text)


_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str] | str]] = [
    (re.compile(r"\bhttps?://([\w.-]+)(/[^\s]*?)?(?=[.,;:!?)]*(?:\s|$))"), _url),
    (re.compile(r"\b([\w.+-]+)@([\w-]+(?:\.[\w-]+)+)\b"), _email),
    (re.compile(r"(?<![\w.])(?:\+\d{1,3}[ .-]?)?(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}\b"), _phone),
    (re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b"), _iso_date),
    (re.compile(r"\b(\d{1,2}):(\d{2})(?:\s*([AaPp]\.?[Mm]\.?)(?![\w]))?"), _time),
    (re.compile(r"([$€£])(\d[\d,]*(?:\.\d+)?)(?:\s*(million|billion|trillion|thousand))?\b"), _money),
    (re.compile(r"\b(v)?(\d+\.\d+\.\d+(?:\.\d+)*)\b"), _version),
    (re.compile(r"\b(v)(\d+\.\d+)\b"), lambda m: _version_prefix(m) + _decimal(m.group(2))),
    (re.compile(rf"\b({'|'.join(_MONTHS)}) (\d{{1,2}})(?:st|nd|rd|th)?\b"), _month_day),
    (re.compile(r"\b(\d+)(?:st|nd|rd|th)\b"), lambda m: ordinal_to_words(int(m.group(1)))),
    (re.compile(r"(\d[\d,]*(?:\.\d+)?)\s?%"), lambda m: _decimal(m.group(1)) + " percent"),
    (
        re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\w])|(?<![\w.])\d+(?:\.\d+)?(?![\w.]\w)"),
        _number,
    ),
    (re.compile(r"\s&\s"), " and "),
]


def normalize_for_speech(text: str) -> str:
    """Rewrite numbers, money, times, dates, phone numbers, emails and URLs as words."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text
