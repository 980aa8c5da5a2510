"""Smart Turn v3.2: an audio end-of-turn classifier (int8 ONNX, Whisper-tiny encoder).

The embedded default takes the model out of the ``pipecat-ai`` 1.14.0 wheel on PyPI (only that
one file, checked against its sha256) into the cascade cache; :func:`prepare_smart_turn` does it
once (``cascade prepare smart_turn``). Production users may point at a file or a hub repository.

Licence: the model is BSD-2-Clause, (c) Daily (built on the MIT-licensed Whisper-tiny encoder).
Its licence text is copied next to the model as ``LICENSE.smart-turn.txt``; keep it with any
redistribution.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from cascade.errors import CascadeError
from cascade.paths import cache_dir
from cascade.progress import progress
from cascade.turn.features import SAMPLE_RATE, log_mel

log = logging.getLogger("cascade.turn.smart_turn")

MODEL_FILE = "smart-turn-v3.2-cpu.onnx"
MODEL_SHA256 = "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f"
WHEEL_REQUIREMENT = "pipecat-ai==1.14.0"
WHEEL_MEMBER = "pipecat/audio/turn/smart_turn/data/" + MODEL_FILE
LICENSE_MEMBER = "pipecat_ai-1.14.0.dist-info/licenses/LICENSE"
LICENSE_FILE = "LICENSE.smart-turn.txt"


class SmartTurnError(CascadeError, RuntimeError):
    """The Smart Turn model could not be obtained or loaded."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_model_dir() -> Path:
    """Where the prepared model lives: ``<cache>/models/smart-turn``."""
    return cache_dir("models", "smart-turn")


def extract_from_wheel(wheel: Path, target_dir: Path) -> Path:
    """Copy the model and its licence out of a ``pipecat-ai`` wheel; verify the hash."""
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / MODEL_FILE
    try:
        with zipfile.ZipFile(wheel) as archive:
            partial = target.with_suffix(".part")
            with archive.open(WHEEL_MEMBER) as src, partial.open("wb") as dst:
                shutil.copyfileobj(src, dst)
            notice = archive.read(LICENSE_MEMBER).decode("utf-8")
    except (KeyError, zipfile.BadZipFile) as exc:
        raise SmartTurnError(
            f"{wheel} is not a {WHEEL_REQUIREMENT} wheel holding {WHEEL_MEMBER} ({exc}); "
            f"download it with `pip download {WHEEL_REQUIREMENT} --no-deps`"
        ) from exc
    digest = _sha256(partial)
    if digest != MODEL_SHA256:
        partial.unlink()
        raise SmartTurnError(
            f"{MODEL_FILE} from {wheel} has sha256 {digest}, expected {MODEL_SHA256}: the wheel is "
            "not the pinned release; remove it and prepare again"
        )
    partial.replace(target)
    (target_dir / LICENSE_FILE).write_text(
        "Smart Turn v3.2 model, extracted unchanged from the pipecat-ai 1.14.0 wheel.\n\n" + notice,
        encoding="utf-8",
    )
    return target


def prepare_smart_turn(wheel: Path | None = None) -> Path:
    """Make sure the verified model is in the cache and return its path (idempotent).

    Without ``wheel`` the pinned ``pipecat-ai`` wheel is fetched with ``pip download --no-deps``
    (about 12 MB; nothing is installed).
    """
    target_dir = default_model_dir()
    target = target_dir / MODEL_FILE
    if target.exists() and (target_dir / LICENSE_FILE).exists() and _sha256(target) == MODEL_SHA256:
        return target
    if wheel is not None:
        return extract_from_wheel(wheel, target_dir)
    with tempfile.TemporaryDirectory(prefix="cascade-smart-turn-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", WHEEL_REQUIREMENT, "--no-deps", "-q", "-d", tmp]
        with progress(
            f"downloading {WHEEL_REQUIREMENT} (no dependencies) to extract {MODEL_FILE}", logger=log
        ):
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wheels = list(Path(tmp).glob("pipecat_ai-*.whl"))
        if done.returncode != 0 or not wheels:
            raise SmartTurnError(
                f"`{' '.join(cmd[2:])}` failed ({done.stderr.strip()[-300:]}); check access to PyPI, "
                "or pass a downloaded wheel / set SmartTurnOptions.model_path"
            )
        return extract_from_wheel(wheels[0], target_dir)


class SmartTurnOptions(BaseModel):
    """Where to find Smart Turn and how to run it."""

    model_config = ConfigDict(extra="forbid")

    model_path: Path | None = None
    """An ONNX file to load. ``None``: the verified v3.2 model prepared into the cache."""
    hub_repo: str | None = None
    """Download from this Hugging Face repository instead (needs ``huggingface_hub`` and access)."""
    hub_filename: str = MODEL_FILE
    """File to take from ``hub_repo``."""
    threads: int = Field(default=1, ge=1)
    """onnxruntime intra-op threads (one is fastest under load; ~30 ms per call on CPU)."""


class SmartTurnDetector:
    """Probability that the caller finished their turn, from the last 8 s of their audio.

    ``probability`` takes 16 kHz mono float audio of the turn so far and answers 0.0 .. 1.0;
    above 0.5 means "complete". A whole question, then the same question cut mid-sentence:

    >>> from cascade.audio import load_audio, to_float
    >>> from cascade.turn import SmartTurnDetector
    >>> audio = to_float(load_audio("examples/question.wav", 16000))
    >>> detector = SmartTurnDetector()
    >>> round(detector.probability(audio), 2)
    0.99
    >>> round(detector.probability(audio[: len(audio) // 2]), 2)
    0.36
    """

    sample_rate = SAMPLE_RATE

    def __init__(self, options: SmartTurnOptions | None = None) -> None:
        self.options = options or SmartTurnOptions()
        self._session: Any = None

    def resolve_path(self) -> Path:
        """The model file to load (prepared, given, or downloaded from the hub)."""
        opts = self.options
        if opts.model_path is not None:
            if not opts.model_path.is_file():
                raise SmartTurnError(f"Smart Turn model_path {opts.model_path} does not exist")
            return opts.model_path
        if opts.hub_repo is not None:
            try:
                from huggingface_hub import hf_hub_download
            except ImportError as exc:
                raise SmartTurnError("hub_repo needs `pip install huggingface_hub`") from exc
            try:
                return Path(hf_hub_download(opts.hub_repo, opts.hub_filename))
            except Exception as exc:
                raise SmartTurnError(
                    f"could not download {opts.hub_filename} from {opts.hub_repo}: {exc}; "
                    "use the prepared model (leave hub_repo unset) or a model_path"
                ) from exc
        return prepare_smart_turn()

    def load(self) -> None:
        """Load the ONNX session (idempotent; call at start, it takes ~0.2 s)."""
        if self._session is not None:
            return
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise SmartTurnError("Smart Turn needs onnxruntime: pip install 'cascade-voice[turn]'") from exc
        path = self.resolve_path()
        so = ort.SessionOptions()
        so.intra_op_num_threads = self.options.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        try:
            providers = ["CPUExecutionProvider"]
            self._session = ort.InferenceSession(str(path), sess_options=so, providers=providers)
        except Exception as exc:
            raise SmartTurnError(f"could not load Smart Turn model {path}: {exc}") from exc

    def __call__(self, audio: np.ndarray) -> float:
        """Same as :meth:`probability` (so the detector is a ``TurnModel``)."""
        return self.probability(audio)

    def probability(self, audio: np.ndarray) -> float:
        """P(turn complete) for 16 kHz mono float audio of the turn so far (the last 8 s count)."""
        self.load()
        features = log_mel(audio)[None, :, :]
        (out,) = self._session.run(["logits"], {"input_features": features})
        return float(np.asarray(out).reshape(-1)[0])
