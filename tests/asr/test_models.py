"""Model resolution: shipped models, assembly of base, and clear errors for bad models."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from cascade.asr import (
    CorruptModelError,
    ModelNotFoundError,
    WhisperEngine,
    WhisperModelError,
    WhisperOptions,
    models,
)
from cascade.asr.models import resolve_model, tiny_en_path


def test_tiny_en_is_the_shipped_default() -> None:
    path = Path(resolve_model(WhisperOptions().model))
    assert path == tiny_en_path() and (path / "model.bin").is_file()


def test_base_is_assembled_once_and_verified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("CASCADE_CACHE", str(tmp_path))
    with caplog.at_level(logging.INFO, "cascade.asr"):
        first = Path(resolve_model("base", progress=False))
    assert first == tmp_path / "models" / "whisper-base"
    said = [record.getMessage() for record in caplog.records]  # the step, as plain log lines
    assert said[0] == f"assembling Whisper base into {first} ..." and "done in" in said[1]
    assert (first / ".assembled").read_text().strip() == models.BASE_SHA256
    stamp = (first / "model.bin").stat().st_mtime_ns
    assert Path(resolve_model("base", progress=False)) == first  # second call only checks
    assert (first / "model.bin").stat().st_mtime_ns == stamp
    (first / ".assembled").unlink()  # an interrupted assembly is redone
    resolve_model("base", progress=False)
    assert (first / ".assembled").is_file()


def test_missing_model_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"does not exist.*ct2-transformers-converter"):
        resolve_model(str(tmp_path / "no-such-model"))


def test_incomplete_model_directory(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(CorruptModelError, match=r"missing model\.bin"):
        resolve_model(str(tmp_path))


def test_corrupt_model_file_fails_to_load_with_instructions(tmp_path: Path) -> None:
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(tiny_en_path() / name, tmp_path / name)
    model_bin = (tiny_en_path() / "model.bin").read_bytes()
    (tmp_path / "model.bin").write_bytes(model_bin[: len(model_bin) // 3])  # truncated download
    with pytest.raises(CorruptModelError, match=r"cannot load the Whisper model.*damaged"):
        _ = WhisperEngine(WhisperOptions(model=str(tmp_path))).loaded


def test_unknown_model_name_explains_the_hub() -> None:
    with pytest.raises(ModelNotFoundError, match="Hugging Face hub"):
        _ = WhisperEngine(WhisperOptions(model="no-such-whisper-size")).loaded


def test_english_only_model_refuses_other_languages() -> None:
    with pytest.raises(WhisperModelError, match="English-only"):
        _ = WhisperEngine(WhisperOptions(language="de")).loaded
