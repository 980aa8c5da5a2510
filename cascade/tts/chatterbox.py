"""Chatterbox (Resemble AI, MIT) as an engine for ``cascade tts serve``, with voice prompts.

Chatterbox needs a GPU to be real-time and pins torch 2.6, numpy<2 and transformers 5.2, which
clash with vLLM; run it in its own environment behind the speech server and point
:class:`~cascade.tts.openai_speech.OpenAISpeechTTS` at it::

    python -m venv ~/.venvs/chatterbox
    ~/.venvs/chatterbox/bin/pip install 'cascade-voice[chatterbox]'
    ~/.venvs/chatterbox/bin/cascade tts serve --engine chatterbox --device cuda \\
        --voice-prompt alice=/path/alice.wav --port 8880

Weights come from the model hub (``from_pretrained``) or a local checkpoint directory with
``ve.safetensors``, ``t3_cfg.safetensors``, ``s3gen.safetensors``, ``tokenizer.json`` and
optionally ``conds.pt`` (the built-in voice, served as ``default``). A voice prompt is a few
seconds of reference speech; its conditioning is computed once at load and reused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cascade.tts.engine import TTSEngine, TTSError

INSTALL_HINT = (
    "install it in its own environment (it pins torch 2.6 and numpy<2): "
    "pip install 'cascade-voice[chatterbox]'; then run `cascade tts serve --engine chatterbox` there"
)
DEFAULT_VOICE = "default"
SAMPLE_RATE = 24000


class ChatterboxEngine(TTSEngine):
    """``chatterbox.tts.ChatterboxTTS`` as a :class:`~cascade.tts.engine.TTSEngine`."""

    name = "chatterbox"

    def __init__(
        self,
        ckpt_dir: str | Path | None = None,
        *,
        device: str = "cuda",
        voice_prompts: dict[str, str | Path] | None = None,
        exaggeration: float = 0.5,
        cfg_weight: float = 0.5,
        temperature: float = 0.8,
    ) -> None:
        """``voice_prompts`` maps voice names to reference WAV files (the first one is the
        default voice when the checkpoint has no built-in voice)."""
        prompts = {name: Path(path) for name, path in (voice_prompts or {}).items()}
        for name, path in prompts.items():
            if not path.is_file():
                raise TTSError(f"chatterbox: voice prompt {name!r} not found: {path} (give a WAV file)")
        if ckpt_dir is not None and not Path(ckpt_dir).is_dir():
            raise TTSError(f"chatterbox: checkpoint directory not found: {ckpt_dir}")
        super().__init__(DEFAULT_VOICE if not prompts else next(iter(prompts)))
        self.ckpt_dir = Path(ckpt_dir) if ckpt_dir is not None else None
        self.device = device
        self.prompts = prompts
        self.exaggeration, self.cfg_weight, self.temperature = exaggeration, cfg_weight, temperature
        self._model: Any = None
        self._conds: dict[str, Any] = {}

    @property
    def sample_rate(self) -> int:
        """24 kHz (``ChatterboxTTS.sr``)."""
        return int(getattr(self._model, "sr", SAMPLE_RATE))

    def voices(self) -> list[str]:
        """The voice prompts, plus ``default`` when the checkpoint has a built-in voice."""
        builtin = [DEFAULT_VOICE] if DEFAULT_VOICE in self._conds or self._model is None else []
        return [*builtin, *(n for n in self.prompts if n != DEFAULT_VOICE)]

    def _load(self) -> None:
        try:
            from chatterbox.tts import ChatterboxTTS
        except ImportError as exc:
            raise TTSError(f"chatterbox-tts is not installed; {INSTALL_HINT}") from exc
        try:
            if self.ckpt_dir is not None:
                model = ChatterboxTTS.from_local(self.ckpt_dir, self.device)
            else:
                model = ChatterboxTTS.from_pretrained(self.device)
        except Exception as exc:
            where = self.ckpt_dir or "the model hub (ResembleAI/chatterbox)"
            raise TTSError(f"chatterbox: cannot load weights from {where}: {exc}") from exc
        if model.conds is not None:
            self._conds[DEFAULT_VOICE] = model.conds
        for name, path in self.prompts.items():
            model.prepare_conditionals(str(path), exaggeration=self.exaggeration)
            self._conds[name] = model.conds
        if not self._conds:
            raise TTSError("chatterbox: the checkpoint has no built-in voice (conds.pt); give a voice prompt")
        self._model = model

    def _synthesize(self, text: str, voice: str, speed: float) -> np.ndarray:
        if speed != 1.0:
            raise TTSError("chatterbox: speed cannot be changed; use speed 1.0")
        self._model.conds = self._conds[voice]
        wav = self._model.generate(
            text, exaggeration=self.exaggeration, cfg_weight=self.cfg_weight, temperature=self.temperature
        )
        audio: np.ndarray = wav.squeeze(0).detach().cpu().numpy()
        return audio
