"""Shorter encoder windows: Whisper's encoder cost without the 30 s of padding.

faster-whisper pads every decode's log-mel features to 30 s (3000 frames) before the encoder,
and the encoder's cost grows faster than linearly with its input (self-attention), so a 3 s
utterance costs as much as a 30 s one. CTranslate2's Whisper encoder also accepts fewer frames
(it uses the first positional embeddings), and the decoder and the word alignment then attend to
that shorter output. Measured on 2 cores with tiny.en: 30 s -> 0.42 s, 15 s -> 0.10 s,
10 s -> 0.06 s per encode.

The catch: Whisper was trained on 30 s windows and ends a transcript by predicting a timestamp
near the end of the speech followed by end-of-text; with a window much shorter than about 10 s
it often fails to stop and repeats itself. So the window is never shorter than a minimum (see
:attr:`~cascade.asr.options.WhisperOptions.min_window`), always holds the audio plus a margin of
padding, and :func:`looks_looped` lets the caller detect a repetition and decode again at 30 s.

One window per decode: when the model's text ends before the audio does, faster-whisper decodes
the rest (usually a few tenths of a second of trailing silence, where Whisper invents "Thank
you.") as a further window. When the whole audio fits in the first window the model has already
seen all of it, so a second encode raises :class:`WindowDone` and the decode keeps what the first
window produced (the engine decodes the rest itself when the text ended more than a second
before the audio: Whisper sometimes closes its text early, mid-speech).

:func:`window_frames` (a context manager) sets the window for decodes on the current thread;
:func:`install` makes a loaded ``WhisperModel`` honour it.
"""

from __future__ import annotations

import math
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

FRAMES_PER_SECOND = 100
"""Whisper log-mel frames per second of audio (hop of 160 samples at 16 kHz)."""
FULL_FRAMES = 3000
"""The 30 s window Whisper was trained on."""
MARGIN = 1.0
"""Seconds of padding kept after the audio inside a short window."""
_MAX_WORDS_PER_SECOND = 6.0
"""Faster than anyone speaks: more words than this per second of audio means a loop."""
_MAX_COMPRESSION = 2.4
"""zlib compression ratio above which text is repetitive (Whisper's own fallback threshold)."""
_TOKENS_BASE = 16
_TOKENS_PER_SECOND = 10.0
_MAX_TOKENS = 440

_local = threading.local()


class WindowDone(Exception):
    """A decode asked for a second encoder window although its audio fit in the first."""


def frames_for(seconds: float, min_window: float | None) -> int:
    """Encoder frames for ``seconds`` of audio: ``max(min_window, seconds + MARGIN)``, at most 30 s.

    ``min_window=None`` means the full 30 s window.
    """
    if min_window is None:
        return FULL_FRAMES
    return min(FULL_FRAMES, math.ceil(max(min_window, seconds + MARGIN) * FRAMES_PER_SECOND))


@contextmanager
def window_frames(frames: int, *, single: bool = False) -> Iterator[None]:
    """Encode at most ``frames`` log-mel frames in decodes made on this thread inside the block.

    With ``single``, a second encode inside the block raises :class:`WindowDone`.
    """
    previous = getattr(_local, "frames", None), getattr(_local, "single", False)
    _local.frames, _local.single, _local.encodes = frames, single, 0
    try:
        yield
    finally:
        _local.frames, _local.single = previous


def install(model: Any) -> None:
    """Make ``model.encode`` (a ``faster_whisper.WhisperModel``) cut its input to the window.

    The window is the one set by :func:`window_frames` on the calling thread; outside such a
    block the model behaves as before. Installing twice is harmless.
    """
    encode: Callable[[Any], Any] = model.encode
    if getattr(encode, "_cascade_windowed", False):
        return

    def windowed(features: Any) -> Any:
        frames = getattr(_local, "frames", None)
        if frames is not None:
            _local.encodes += 1
            if _local.single and _local.encodes > 1:
                raise WindowDone
            if features.shape[-1] > frames:
                features = features[..., :frames]
        return encode(features)

    windowed._cascade_windowed = True  # type: ignore[attr-defined]
    model.encode = windowed


def max_tokens(seconds: float) -> int:
    """Tokens one window may generate for ``seconds`` of audio: far more than anyone speaks,
    few enough that a repetition loop stops early instead of running to Whisper's 448."""
    return min(_MAX_TOKENS, math.ceil(_TOKENS_BASE + _TOKENS_PER_SECOND * seconds))


def looks_looped(text: str, seconds: float) -> bool:
    """Whether a transcript of ``seconds`` of audio looks like a repetition loop."""
    words = len(text.split())
    if words > _MAX_WORDS_PER_SECOND * max(seconds, 1.0):
        return True
    data = text.encode("utf-8")
    return len(data) > 40 and len(data) / len(zlib.compress(data)) > _MAX_COMPRESSION
