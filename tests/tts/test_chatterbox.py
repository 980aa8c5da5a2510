"""The Chatterbox adapter: what can be checked without its weights and its own environment.

chatterbox-tts pins torch 2.6 and numpy<2, so it is not installed next to the rest; its weights
come from the model hub, which is unreachable offline. Loading and synthesis are therefore not run
here (see the README); the adapter's validation and its error when the package is missing are.
"""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

import pytest

from cascade.tts.chatterbox import ChatterboxEngine
from cascade.tts.engine import TTSError

HAVE_CHATTERBOX = importlib.util.find_spec("chatterbox") is not None


def test_voice_prompts_and_checkpoint_are_checked(tmp_path: Path) -> None:
    with pytest.raises(TTSError, match="voice prompt 'alice' not found"):
        ChatterboxEngine(voice_prompts={"alice": tmp_path / "missing.wav"})
    with pytest.raises(TTSError, match="checkpoint directory not found"):
        ChatterboxEngine(tmp_path / "no-ckpt")
    prompt = tmp_path / "alice.wav"
    prompt.write_bytes(b"RIFF")
    engine = ChatterboxEngine(voice_prompts={"alice": prompt}, device="cpu")
    assert engine.default_voice == "alice" and "alice" in engine.voices()
    assert engine.sample_rate == 24000


@pytest.mark.skipif(HAVE_CHATTERBOX, reason="chatterbox-tts is installed here")
def test_missing_package_says_how_to_install() -> None:
    with pytest.raises(TTSError, match=r"chatterbox-tts is not installed; install it in its own environment"):
        ChatterboxEngine(device="cpu").load()


@pytest.mark.skipif(
    not HAVE_CHATTERBOX, reason="chatterbox-tts is not installed (it needs its own environment)"
)
def test_adapter_matches_the_package_api() -> None:
    from chatterbox.tts import ChatterboxTTS

    assert {"ckpt_dir", "device"} <= set(inspect.signature(ChatterboxTTS.from_local).parameters)
    generate = inspect.signature(ChatterboxTTS.generate).parameters
    assert {"text", "exaggeration", "cfg_weight", "temperature"} <= set(generate)
    assert "exaggeration" in inspect.signature(ChatterboxTTS.prepare_conditionals).parameters
