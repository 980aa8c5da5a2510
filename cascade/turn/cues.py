"""Transcript cues: does the text so far sound finished, unfinished, or can't we tell?

Cheap rules on the (partial) transcript that complement the audio model:

* a trailing conjunction, article, preposition, filler or bare subject ("... and", "the",
  "to", "um", "I") means the caller is not done;
* an unfinished number ("two hundred and", "four point"), a phone number with too few digits,
  an email address without its domain, or a name being spelled letter by letter ("J O H") means
  the caller is dictating and will go on after a pause;
* a question mark, or a dictated item that looks whole, means the turn may end.

Also here: :func:`is_backchannel` ("mm-hmm", "yeah", "right") for barge-in and backchannel logic.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict

CueState = Literal["complete", "incomplete", "unknown"]

_STRONG = (
    "and but or nor because cause although though unless if whether than "  # conjunctions
    "the a an my your our their every each another "  # articles, determiners
    "of to with from "  # prepositions that need an object
    "um uh er erm uhm "  # hesitations
    "i we they he she i'm we're they're let's gonna wanna"  # subjects without a verb
)
_WEAK = (
    "so since that which who whom whose where when while until before after as "
    "this these those some any his her its "
    "in on at for by about into onto over under between through without like "
    "ah hmm it's there's "
    "is are was were am be been being have has had do does did can could would should will shall "
    "may might must"
)
TRAILING_INCOMPLETE = frozenset(_STRONG.split())
"""Words after which a turn almost never ends ("... and", "the", "um")."""
TRAILING_WEAK = frozenset(_WEAK.split())
"""Words that often end an unfinished turn but can end a finished one ("than he was", "come in")."""

_ACKNOWLEDGEMENTS = (
    "mmhmm mhmm mhm mmm mm hmm hm uhhuh uh huh yeah yep yes yup ok okay right sure alright aha ah oh "
    "gotcha cool nice great true exactly indeed wow really i_see got_it"
)
BACKCHANNELS = frozenset(_ACKNOWLEDGEMENTS.split())
"""Words that acknowledge without taking the turn (multi-word ones joined by ``_``)."""
_HEARD_AS_BACKCHANNEL = BACKCHANNELS | frozenset(
    ["write", "rite", "wright", "mum", "mom", "yah", "ya", "yeh", "yea", "kay"]
)
"""Backchannels and what a recognizer writes for one said on its own, with no sentence around it
to choose the spelling ("Right, right." came out as "Write, write."; "mm-hmm" as "Mom")."""

_NUMBER_WORDS = {
    "zero": 1, "oh": 1, "o": 1, "one": 1, "two": 1, "three": 1, "four": 1, "five": 1, "six": 1,
    "seven": 1, "eight": 1, "nine": 1, "double": 0, "triple": 0,
}  # fmt: skip
_NUMBER_CONTINUERS = frozenset(["point", "and", "dash", "hyphen", "plus", "minus"])
_MAGNITUDES = frozenset(["hundred", "thousand", "million", "billion"])
_TENS = frozenset(["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"])
_PHONE_CONTEXT = re.compile(r"\b(phone|number|cell|mobile|call me|reach me|text me|extension|digits)\b")
_EMAIL_CONTEXT = re.compile(r"\b(e-?mail|address|underscore)\b|[@_]")
_EMAIL_DOMAIN = re.compile(r"(@|\bat\b)\s*\S+\s*(\.|\bdot\b)\s*(com|org|net|edu|gov|io|co|uk|de|fr|info)\b")
_ADDRESS_MARK = re.compile(r"\b(dot|underscore|dash|hyphen)\b|[@_]|\.(?=[a-z0-9])")
"""Signs that an address is being said ("john dot", "anna underscore", "john.miller")."""
_DICTATION_OPENERS = {
    "phone_number": {"number", "phone", "extension", "cell", "mobile"},
    "email": {"email", "e-mail"},
    "spelling": {"spelled", "spelt", "spell", "spelling"},
}
"""Last words that announce a dictation ("my number is", "it's spelled")."""
_VALUE_NOUNS = frozenset(
    {
        *("number", "phone", "extension", "cell", "mobile", "email", "e-mail", "address", "name"),
        *("surname", "code", "pin", "zip", "postcode", "account", "date", "birthday", "id", "reference"),
    }
)
"""Things a caller announces before saying them ("my account number is ...", "the code is ...")."""
_COPULAS = frozenset(["is", "are", "was", "'s"])
_CUT_MARKS = ("...", "…", "-", "—", "–", ",", ":", ";")
_SPELL_CONTEXT = re.compile(r"\b(spell|spelled|spelt|spelling|letters?)\b")
_TOKEN = re.compile(r"[a-z0-9@.'\-]+")


class TranscriptCue(BaseModel):
    """The verdict of the transcript cues on a (partial) turn."""

    model_config = ConfigDict(frozen=True)

    state: CueState
    reason: str = ""
    """Which rule decided: trailing_word, trailing_word_weak, trailing_punctuation,
    unfinished_number, phone_number, email, spelling, question, dictation_complete (empty when
    unknown)."""
    final: bool = False
    """Judged on final text (a partial may lag the audio by a word or two)."""


def words(text: str) -> list[str]:
    """Lower-case tokens, punctuation stripped (keeps ``@``, digits, inner apostrophes/dots)."""
    tokens = _TOKEN.findall(text.lower().replace("-", " - ").replace(",", " "))
    out = []
    for tok in tokens:
        tok = tok.strip(".'")
        if tok and tok != "-":
            out.append(tok)
    return out


def _digit_count(tokens: list[str]) -> int:
    count = 0
    for tok in tokens:
        if tok.isdigit():
            count += len(tok)
        else:
            count += _NUMBER_WORDS.get(tok, 0)
    return count


def _numeric(tok: str) -> bool:
    return tok.isdigit() or tok in _NUMBER_WORDS or tok in _TENS or tok in _MAGNITUDES


def _trailing_run(tokens: list[str], pred: Callable[[str], bool]) -> int:
    n = 0
    for tok in reversed(tokens):
        if not pred(tok):
            break
        n += 1
    return n


def transcript_cues(text: str, *, final: bool = False) -> TranscriptCue:
    """Judge whether ``text`` (the caller's turn so far) sounds finished.

    ``final``: the text ends with a final transcript. Only then does trailing punctuation count
    (recognizers end text cut mid-sentence with "...", "-" or ","; partials are always cut).
    """
    cue = _judge(text.strip(), final)
    return cue.model_copy(update={"final": final}) if final else cue


def _judge(raw: str, final: bool) -> TranscriptCue:
    lowered = raw.lower()
    tokens = words(raw)
    if not tokens:
        return TranscriptCue(state="unknown")
    last = tokens[-1]

    # spelling: "J O H", "j-o-h", "J. O. H." -- two or more single letters in a row at the end
    letters = _trailing_run(tokens, lambda t: len(t) == 1 and t.isalpha())
    if letters >= 2 or (letters == 1 and _SPELL_CONTEXT.search(lowered)):
        return TranscriptCue(state="incomplete", reason="spelling")

    email = _email_cue(raw, lowered, last)
    if email is not None:
        return email

    numeric_tail = _trailing_run(tokens, _numeric)
    if last in _NUMBER_CONTINUERS and len(tokens) >= 2 and _numeric(tokens[-2]):
        return TranscriptCue(state="incomplete", reason="unfinished_number")
    if numeric_tail and _PHONE_CONTEXT.search(lowered):
        digits = _digit_count(tokens[len(tokens) - numeric_tail :])
        if digits >= 10:
            return TranscriptCue(state="complete", reason="dictation_complete")
        if digits != 7:  # seven digits is a whole local number; fewer, or eight or nine, is not
            return TranscriptCue(state="incomplete", reason="phone_number")

    if last in _DICTATION_OPENERS["spelling"]:
        return TranscriptCue(state="incomplete", reason="spelling")
    if last in _DICTATION_OPENERS["phone_number"] and _PHONE_CONTEXT.search(lowered):
        return TranscriptCue(state="incomplete", reason="phone_number")
    if last in _DICTATION_OPENERS["email"] and _EMAIL_CONTEXT.search(lowered):
        return TranscriptCue(state="incomplete", reason="email")
    if last in _COPULAS and len(tokens) >= 2 and tokens[-2] in _VALUE_NOUNS and not raw.endswith("?"):
        return TranscriptCue(state="incomplete", reason="value_announced")
    if last in TRAILING_INCOMPLETE and not raw.endswith(("?", "!")):
        return TranscriptCue(state="incomplete", reason="trailing_word")
    if last in TRAILING_WEAK and not raw.endswith(("?", "!")):
        return TranscriptCue(state="incomplete", reason="trailing_word_weak")
    if final and raw.endswith(_CUT_MARKS):
        return TranscriptCue(state="incomplete", reason="trailing_punctuation")
    if raw.endswith("?"):
        return TranscriptCue(state="complete", reason="question")
    return TranscriptCue(state="unknown")


def _email_cue(raw: str, lowered: str, last: str) -> TranscriptCue | None:
    """An email address being said: whole once it has a domain, unfinished while its "at" or
    "dot" was the last word, its "at" was said only a few words ago, or it was begun after its
    mention ("my email is john.miller", "anna underscore lee") without a domain yet."""
    context = _EMAIL_CONTEXT.search(lowered)  # "@" is context too
    if context is None:
        return None
    unfinished = TranscriptCue(state="incomplete", reason="email")
    if last in ("at", "dot") or raw.endswith("@"):
        return unfinished
    if _EMAIL_DOMAIN.search(lowered):
        return TranscriptCue(state="complete", reason="dictation_complete")
    if re.search(r"(@|\bat\b)", lowered) and len(re.split(r"@|\bat\b", lowered)[-1].split()) <= 3:
        return unfinished
    address = lowered[context.start() :]
    marks = list(_ADDRESS_MARK.finditer(address))
    if marks and len(words(address[marks[-1].end() :])) <= 3:
        return unfinished
    return None


def is_backchannel(text: str) -> bool:
    """True when ``text`` only acknowledges ("mm-hmm", "yeah right", "okay I see")."""
    tokens = [t for t in words(text.replace("-", "")) if t]
    joined = " ".join(tokens)
    if not tokens or len(tokens) > 4:
        return False
    for phrase in ("i see", "got it"):
        joined = joined.replace(phrase, phrase.replace(" ", "_"))
    return all(tok in _HEARD_AS_BACKCHANNEL for tok in joined.split())
