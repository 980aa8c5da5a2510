"""The text end-of-turn model: the real SmolLM2 reading transcripts, its preparation and errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cascade.turn.gguf_ct2 import GGUFConversionError, convert_llama_gguf
from cascade.turn.options import EndpointingOptions
from cascade.turn.text_turn import (
    LICENSE_FILE,
    TextTurnDetector,
    TextTurnError,
    TextTurnOptions,
    default_model_dir,
    prepare_text_turn,
)

pytestmark = pytest.mark.integration

OPTS = EndpointingOptions()
UNFINISHED = [
    "I'd like to book a table for",
    "Could you tell me whether the",
    "Your message has been successfully",
    "I was thinking that maybe we could",
    "The total came to",
    "My phone number is",
]
FINISHED = [
    "Yes, that works for me.",
    "What time do you close today?",
    "I want to cancel my order.",
    "Can you send me the invoice again?",
    "No, I already paid it last week.",
    "Please try your call again later.",
]


@pytest.mark.parametrize("text", UNFINISHED)
def test_cut_words_read_as_clearly_unfinished(text_turn: TextTurnDetector, text: str) -> None:
    p = text_turn(text)
    assert p is not None and p < TextTurnDetector.unfinished_below / 5, p


@pytest.mark.parametrize("text", FINISHED)
def test_finished_sentences_read_as_finished(text_turn: TextTurnDetector, text: str) -> None:
    p = text_turn(text)
    assert p is not None and p > OPTS.doubtful_text_probability * 3, p


def test_the_bots_question_makes_a_short_answer_finished(text_turn: TextTurnDetector) -> None:
    alone = text_turn("two people")
    answer = text_turn("two people", "How many people will be joining you?")
    assert alone is not None and answer is not None
    assert answer > OPTS.doubtful_text_probability and answer > 10 * alone
    unfinished = text_turn("two people and", "How many people will be joining you?")
    assert unfinished is not None and unfinished < TextTurnDetector.unfinished_below


def test_punctuation_is_ignored_and_empty_text_has_no_reading(text_turn: TextTurnDetector) -> None:
    assert text_turn("Your message has been, successfully.") == text_turn(
        "Your message has been successfully"
    )
    assert text_turn("...") is None and text_turn("") is None


def test_prepared_model_keeps_its_marker_and_licence() -> None:
    path = prepare_text_turn()  # already prepared: only checks
    assert path == default_model_dir()
    marker = json.loads((path / "prepared.json").read_text())
    assert marker["gguf_sha256"].startswith("b179c952")
    notice = (path / LICENSE_FILE).read_text()
    assert "Apache License 2.0" in notice and "SmolLM2" in notice


def test_model_path_without_its_tokenizer_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"")
    with pytest.raises(TextTurnError, match=r"model\.bin and tokenizer\.json"):
        TextTurnDetector(TextTurnOptions(model_path=tmp_path)).load()


def test_an_end_token_the_model_lacks_is_a_clear_error() -> None:
    options = TextTurnOptions(model_path=default_model_dir(), end_tokens=("<|im_end|>", "<|no such token|>"))
    with pytest.raises(TextTurnError, match="no such token"):
        TextTurnDetector(options).load()


def test_a_file_that_is_not_gguf_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "model.gguf"
    junk.write_bytes(b"not a gguf file at all" * 100)
    with pytest.raises(GGUFConversionError, match="not a readable GGUF"):
        convert_llama_gguf(junk, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def _tiny_gguf(path: Path, architecture: str) -> Path:
    import gguf

    writer = gguf.GGUFWriter(str(path), architecture)
    writer.add_tokenizer_model("gpt2")
    writer.add_tensor("token_embd.weight", np.zeros((4, 8), np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_a_model_of_another_architecture_is_refused(tmp_path: Path) -> None:
    with pytest.raises(GGUFConversionError, match="'gpt2' model"):
        convert_llama_gguf(_tiny_gguf(tmp_path / "other.gguf", "gpt2"), tmp_path / "out")


def test_a_llama_file_without_its_metadata_is_refused(tmp_path: Path) -> None:
    with pytest.raises(GGUFConversionError, match=r"lacks the metadata llama\.block_count"):
        convert_llama_gguf(_tiny_gguf(tmp_path / "bare.gguf", "llama"), tmp_path / "out")
