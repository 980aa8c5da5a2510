"""Fixtures for turn-taking tests: recorded speech and the real Smart Turn model (session-scoped)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cascade.audio import load_audio

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
ASTERISK = Path("/usr/share/asterisk/sounds/en")


def _db(audio: np.ndarray, hop: int = 160) -> np.ndarray:
    n = len(audio) // hop
    frames = audio[: n * hop].reshape(n, hop).astype(np.float64)
    return np.asarray(10 * np.log10(np.mean(frames**2, axis=1) + 1e-12))


def trim(audio: np.ndarray) -> np.ndarray:
    """Without leading and trailing silence."""
    db = _db(audio)
    loud = np.nonzero(db > db.max() - 40)[0]
    return audio[loud[0] * 160 : (loud[-1] + 1) * 160]


def longest_inner_gap(audio: np.ndarray) -> tuple[int, int] | None:
    """The longest quiet stretch between words inside the utterance, in samples (None: none)."""
    db = _db(audio)
    quiet = db < db.max() - 30
    n, best, start = len(db), (0, 0), None
    for i, q in enumerate(quiet):
        if q and start is None:
            start = i
        elif not q and start is not None:
            if 0.25 * n < start and i < 0.8 * n and i - start > best[1] - best[0]:
                best = (start, i)
            start = None
    return None if best == (0, 0) else (best[0] * 160, best[1] * 160)


def recording(path: Path) -> np.ndarray:
    """A Debian-packaged recording as trimmed 16 kHz float audio (skips when not installed)."""
    if not path.exists():
        pytest.skip(f"{path} missing: apt-get install pocketsphinx-testdata asterisk-core-sounds-en-wav")
    return trim(load_audio(path, 16000).astype(np.float32) / 32768)


@pytest.fixture(scope="session")
def smart_turn() -> object:
    """The real Smart Turn v3.2 model, prepared into the cache and loaded once."""
    from cascade.turn.smart_turn import SmartTurnDetector

    detector = SmartTurnDetector()
    detector.load()
    return detector


@pytest.fixture(scope="session")
def text_turn() -> object:
    """The real text end-of-turn model (SmolLM2, prepared into the cache) loaded once."""
    from cascade.turn.text_turn import TextTurnDetector

    detector = TextTurnDetector()
    detector.load()
    return detector
