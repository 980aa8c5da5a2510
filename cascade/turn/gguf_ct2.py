"""Convert a Llama-architecture GGUF file into a CTranslate2 model with its tokenizer.

No torch or transformers: the ``gguf`` package reads and dequantizes the tensors, CTranslate2's
model spec takes them as numpy arrays, and the byte-level BPE tokenizer is rebuilt from the
vocabulary and merges stored in the file (``tokenizer.json``, for the ``tokenizers`` library).

GGUF stores the query and key projections permuted for interleaved rotary embeddings, which is
what ``rotary_interleave=True`` tells CTranslate2, so the weights are used as stored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cascade.errors import CascadeError

TOKENIZER_FILE = "tokenizer.json"
_SPECIAL = 3
"""GGUF token type of control tokens (``<|im_end|>``)."""


_REQUIRED = (
    "llama.block_count",
    "llama.attention.head_count",
    "llama.attention.head_count_kv",
    "llama.attention.layer_norm_rms_epsilon",
    "tokenizer.ggml.tokens",
    "tokenizer.ggml.token_type",
    "tokenizer.ggml.merges",
    "tokenizer.ggml.bos_token_id",
    "tokenizer.ggml.eos_token_id",
)


class GGUFConversionError(CascadeError, RuntimeError):
    """The GGUF file cannot be read or is not a Llama-architecture model with a BPE tokenizer."""


def convert_llama_gguf(gguf_path: Path, out_dir: Path, *, quantization: str = "int8") -> None:
    """Write ``model.bin``, ``config.json``, ``vocabulary.json`` and ``tokenizer.json`` to ``out_dir``."""
    try:
        from ctranslate2.specs import common_spec, transformer_spec
        from gguf import GGUFReader
        from gguf.quants import dequantize
    except ImportError as exc:
        raise GGUFConversionError("GGUF conversion needs: pip install 'cascade-voice[turn]'") from exc
    try:
        reader = GGUFReader(gguf_path)
    except (OSError, ValueError) as exc:
        raise GGUFConversionError(f"{gguf_path} is not a readable GGUF file: {exc}") from exc
    fields = {name: field.contents() for name, field in reader.fields.items() if not name.startswith("GGUF.")}
    if fields.get("general.architecture") != "llama" or fields.get("tokenizer.ggml.model") != "gpt2":
        raise GGUFConversionError(
            f"{gguf_path} holds a {fields.get('general.architecture')!r} model with a "
            f"{fields.get('tokenizer.ggml.model')!r} tokenizer; only llama with byte-level BPE converts"
        )
    if fields.get("llama.rope.scaling.type", "none") != "none":
        raise GGUFConversionError(f"{gguf_path} uses rope scaling, which this converter does not carry over")
    missing = [key for key in _REQUIRED if key not in fields]
    if missing:
        raise GGUFConversionError(f"{gguf_path} lacks the metadata {', '.join(missing)}")
    tensors = {t.name: t for t in reader.tensors}

    def weight(name: str) -> np.ndarray:
        if name not in tensors:
            raise GGUFConversionError(f"{gguf_path} has no tensor {name}")
        tensor = tensors[name]
        shape = [int(n) for n in reversed(tensor.shape)]
        return np.ascontiguousarray(dequantize(tensor.data, tensor.tensor_type).reshape(shape), np.float32)

    heads, kv_heads = fields["llama.attention.head_count"], fields["llama.attention.head_count_kv"]
    spec = transformer_spec.TransformerDecoderModelSpec.from_config(
        fields["llama.block_count"],
        heads,
        activation=common_spec.Activation.SWISH,
        pre_norm=True,
        ffn_glu=True,
        rms_norm=True,
        rotary_dim=0,
        rotary_interleave=True,
        rotary_base=fields.get("llama.rope.freq_base", 10000.0),
        num_heads_kv=None if kv_heads == heads else kv_heads,
    )
    decoder: Any = spec.decoder
    decoder.scale_embeddings = False
    embeddings = weight("token_embd.weight")
    decoder.embeddings.weight = embeddings
    decoder.layer_norm.gamma = weight("output_norm.weight")
    decoder.projection.weight = weight("output.weight") if "output.weight" in tensors else embeddings
    for index, layer in enumerate(decoder.layer):
        block = f"blk.{index}."
        layer.self_attention.layer_norm.gamma = weight(block + "attn_norm.weight")
        layer.self_attention.linear[0].weight = np.concatenate(
            [
                weight(block + "attn_q.weight"),
                weight(block + "attn_k.weight"),
                weight(block + "attn_v.weight"),
            ]
        )
        layer.self_attention.linear[1].weight = weight(block + "attn_output.weight")
        layer.ffn.layer_norm.gamma = weight(block + "ffn_norm.weight")
        layer.ffn.linear_0.weight = weight(block + "ffn_gate.weight")
        layer.ffn.linear_0_noact.weight = weight(block + "ffn_up.weight")
        layer.ffn.linear_1.weight = weight(block + "ffn_down.weight")
    tokens: list[str] = list(fields["tokenizer.ggml.tokens"])
    spec.register_vocabulary(tokens)
    spec.config.bos_token = tokens[fields["tokenizer.ggml.bos_token_id"]]
    spec.config.eos_token = tokens[fields["tokenizer.ggml.eos_token_id"]]
    spec.config.unk_token = tokens[fields.get("tokenizer.ggml.unknown_token_id", 0)]
    spec.config.layer_norm_epsilon = fields["llama.attention.layer_norm_rms_epsilon"]
    spec.validate()
    spec.optimize(quantization=quantization)
    out_dir.mkdir(parents=True, exist_ok=True)
    spec.save(str(out_dir))
    special = [
        t for t, kind in zip(tokens, fields["tokenizer.ggml.token_type"], strict=True) if kind == _SPECIAL
    ]
    _tokenizer(tokens, list(fields["tokenizer.ggml.merges"]), special).save(str(out_dir / TOKENIZER_FILE))


def _tokenizer(tokens: list[str], merges: list[str], special: list[str]) -> Any:
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

    pairs = [(first, second) for first, _, second in (merge.partition(" ") for merge in merges)]
    tokenizer = Tokenizer(models.BPE({token: i for i, token in enumerate(tokens)}, pairs))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens([AddedToken(token, special=True) for token in special])
    return tokenizer
