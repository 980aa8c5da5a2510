"""Voices, noise beds, noises and the telephone channel of the held-out turn test sets.

Every voice here is one the dev set (``build_turn_manifests.py``: hibari, pocketsphinx, the 8 kHz
Asterisk prompts) never uses: Debian ``flite``, ``espeak-ng`` and ``festival`` (with
``festvox-us-slt-hts``), Piper's "joe" (the project's GPL ``piper`` extra) and SVOX Pico
(``py-nanotts``, in a side venv). A voice whose engine is missing is left out with a note.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from build_turn_manifests import RATE, _trim

from cascade.audio import load_audio, resample
from cascade.transports.sip.g711 import ulaw_decode, ulaw_encode

NANOTTS_PYTHON = (
    Path(os.environ.get("CASCADE_CACHE", Path.home() / ".cache/cascade")) / "venvs/nanotts/bin/python"
)
"""The side venv with ``py-nanotts`` (``scripts/setup.sh test`` makes it)."""
FESTIVAL_SLT = Path("/usr/share/festival/voices/us/cmu_us_slt_arctic_hts")


@dataclass(frozen=True)
class Speaker:
    """One voice with its rate and pitch for one item: ``say(text)`` gives trimmed 16 kHz float32."""

    source: str
    label: str
    say: Callable[[str], np.ndarray]


Voice = Callable[[random.Random], Speaker]
"""Draws a speaker (rate, pitch) of one voice."""


def _run(cmd: list[str], stdin: str | None = None) -> np.ndarray:
    """Run a synthesizer that writes a WAV to the path ``{out}`` in ``cmd``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "out.wav")
        subprocess.run(
            [out if a == "{out}" else a for a in cmd], input=stdin, text=True, check=True, capture_output=True
        )
        return _trim(load_audio(out, RATE).astype(np.float32) / 32768)


def _flite(name: str) -> Voice:
    def draw(rng: random.Random) -> Speaker:
        stretch = round(rng.uniform(0.9, 1.15), 2)
        cmd = ["flite", "-voice", name, "--setf", f"duration_stretch={stretch}", "-o", "{out}", "-t"]
        return Speaker("flite", f"flite:{name} stretch={stretch}", lambda text: _run([*cmd, text]))

    return draw


def _espeak(name: str) -> Voice:
    def draw(rng: random.Random) -> Speaker:
        speed, pitch = rng.randint(135, 180), rng.randint(30, 70)
        cmd = ["espeak-ng", "-v", name, "-s", str(speed), "-p", str(pitch), "-w", "{out}"]
        return Speaker("espeak-ng", f"espeak-ng:{name} s={speed} p={pitch}", lambda text: _run([*cmd, text]))

    return draw


def _festival(rng: random.Random) -> Speaker:
    stretch = round(rng.uniform(0.9, 1.15), 2)
    cmd = ["text2wave", "-eval", "(voice_cmu_us_slt_arctic_hts)"]
    cmd += ["-eval", f"(Parameter.set 'Duration_Stretch {stretch})", "-o", "{out}"]
    return Speaker("festival", f"festival:slt-hts stretch={stretch}", lambda text: _run(cmd, stdin=text))


def _nanotts(lang: str) -> Voice:
    def draw(rng: random.Random) -> Speaker:
        speed, pitch = round(rng.uniform(0.85, 1.15), 2), round(rng.uniform(0.85, 1.2), 2)
        cmd = [str(NANOTTS_PYTHON), "-m", "py_nanotts", "-o", "{out}", "-v", lang]
        cmd += ["--speed", str(speed), "--pitch", str(pitch)]
        return Speaker(
            "nanotts", f"nanotts:{lang} speed={speed} pitch={pitch}", lambda text: _run([*cmd, "--", text])
        )

    return draw


def _piper(seed: int) -> Voice:
    import onnxruntime

    from cascade.tts.piper import PiperEngine

    # Piper samples noise inside its model: seeded before the session is made, a build repeats
    onnxruntime.set_seed(seed)
    engine = PiperEngine()
    engine.load()

    def draw(rng: random.Random) -> Speaker:
        speed = round(rng.uniform(0.85, 1.15), 2)

        def say(text: str) -> np.ndarray:
            audio = engine.synthesize(text, speed=speed).astype(np.float32)
            return _trim(resample(audio, engine.sample_rate, RATE))

        return Speaker("piper", f"piper:joe speed={speed}", say)

    return draw


def available_voices(seed: int) -> tuple[dict[str, list[Voice]], list[str]]:
    """The voices whose engines are installed, by engine, and a note for each one that is not
    (``seed``: of the engines that sample)."""
    voices: dict[str, list[Voice]] = {}
    notes = []
    if shutil.which("flite"):
        voices["flite"] = [_flite(v) for v in ("kal16", "awb", "rms", "slt")]
    else:
        notes.append("flite missing (apt-get install flite): its voices left out")
    if shutil.which("espeak-ng"):
        voices["espeak-ng"] = [
            _espeak(v) for v in ("en-us+m3", "en-gb-x-rp+f2", "en-gb-scotland+m1", "en-us+f4")
        ]
    else:
        notes.append("espeak-ng missing (apt-get install espeak-ng): its voices left out")
    if shutil.which("text2wave") and FESTIVAL_SLT.is_dir():
        voices["festival"] = [_festival]
    else:
        notes.append("festival slt-hts missing (apt-get install festival festvox-us-slt-hts): left out")
    try:
        voices["piper"] = [_piper(seed)]
    except Exception as exc:  # the GPL extra is optional: any failure to load it only drops the voice
        notes.append(f"piper voice left out ({exc})")
    if NANOTTS_PYTHON.is_file():
        voices["nanotts"] = [_nanotts("en-US"), _nanotts("en-GB")]
    else:
        notes.append(f"py-nanotts venv missing ({NANOTTS_PYTHON}): SVOX Pico voices left out")
    return voices, notes


# --- noise beds, noises, channel -------------------------------------------------------------


def _shaped(n: int, slope: float, rng: np.random.Generator) -> np.ndarray:
    """Noise whose power falls as 1/f**slope (1: pink, 2: brown), unit RMS, no DC."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / RATE)
    spectrum *= np.where(f > 20, np.maximum(f, 20.0) ** (-slope / 2), 0.0)
    out = np.fft.irfft(spectrum, n)
    return (out / (np.std(out) + 1e-12)).astype(np.float32)


def _hum(n: int, rng: np.random.Generator) -> np.ndarray:
    """Mains hum with odd harmonics (50 or 60 Hz), unit RMS."""
    base = rng.choice([50.0, 60.0])
    t = np.arange(n) / RATE
    out = sum(np.sin(2 * np.pi * base * k * t + rng.uniform(0, 6.3)) / k for k in (1, 3, 5, 7))
    out = np.asarray(out) + 0.05 * rng.standard_normal(n)
    return np.asarray(out / np.std(out), dtype=np.float32)


class Beds:
    """Noise beds at a signal-to-noise ratio: pink, brown, hum, and babble (several other voices
    talking at once, quietly, behind the caller)."""

    kinds = ("pink", "brown", "hum", "babble")

    def __init__(self, babble: np.ndarray, rng: np.random.Generator) -> None:
        self.babble = babble / (np.std(babble) + 1e-12)
        self.rng = rng

    def bed(self, kind: str, n: int) -> np.ndarray:
        if kind == "pink":
            return _shaped(n, 1.0, self.rng)
        if kind == "brown":
            return _shaped(n, 2.0, self.rng)
        if kind == "hum":
            return _hum(n, self.rng)
        start = int(self.rng.integers(0, len(self.babble)))
        return np.resize(np.roll(self.babble, -start), n).astype(np.float32)

    def add(self, audio: np.ndarray, speech_rms: float, kind: str, snr_db: float) -> np.ndarray:
        return audio + self.bed(kind, len(audio)) * speech_rms / 10 ** (snr_db / 20)


def make_babble(voices: list[Voice], texts: list[str], rng: random.Random) -> np.ndarray:
    """Four voices reading ``texts`` at once, each looped to the longest."""
    streams = []
    for v in range(4):
        speaker = voices[v * 3 % len(voices)](rng)
        parts = [speaker.say(t) for t in texts[v::4]]
        stream = np.concatenate([np.concatenate([p, np.zeros(RATE // 5, np.float32)]) for p in parts])
        streams.append(stream / (np.std(stream) + 1e-12))
    n = max(len(s) for s in streams)
    return np.asarray(sum(np.resize(s, n) for s in streams), dtype=np.float32)


def telephone(audio: np.ndarray) -> np.ndarray:
    """An 8 kHz G.711 μ-law round trip (telephone band and companding), back at 16 kHz."""
    narrow = resample(audio, RATE, 8000)
    pcm = (np.clip(narrow, -1, 1) * 32767).astype("<i2").tobytes()
    back = np.frombuffer(ulaw_decode(ulaw_encode(pcm)), dtype="<i2").astype(np.float32) / 32768
    return np.asarray(resample(back, 8000, RATE), dtype=np.float32)


def noise(kind: str, rng: np.random.Generator) -> np.ndarray:
    """Sounds near a caller's phone other than the dev set's (cough, click, knock, breath)."""
    white = rng.standard_normal
    if kind == "door":  # a slam: a low thump, a crack, a short rattle
        t = np.arange(round(0.6 * RATE)) / RATE
        thump = np.sin(2 * np.pi * rng.uniform(55, 90) * t) * np.exp(-t * 14) * 0.7
        crack = white(len(t)) * np.exp(-t * 80) * 0.5
        rattle = white(len(t)) * np.exp(-((t - 0.18) ** 2) / 0.002) * 0.08
        return (thump + crack + rattle).astype(np.float32)
    if kind == "keyboard":  # keystrokes at typing rhythm
        out = np.zeros(round(rng.uniform(1.0, 1.8) * RATE), np.float32)
        at = 0
        while at < len(out) - 200:
            n = 80
            out[at : at + n] += (white(n) * np.exp(-np.arange(n) / 15) * rng.uniform(0.15, 0.4)).astype(
                np.float32
            )
            at += round(rng.uniform(0.07, 0.22) * RATE)
        return out
    if kind == "sneeze":  # a breathy intake, then a broadband burst with a voiced buzz
        intake = _shaped(round(0.35 * RATE), 0.5, rng) * np.linspace(0, 1, round(0.35 * RATE)) ** 2 * 0.04
        t = np.arange(round(0.25 * RATE)) / RATE
        burst = (white(len(t)) * 0.4 + np.sign(np.sin(2 * np.pi * 240 * t)) * 0.1) * np.exp(-t * 12)
        return np.concatenate([intake, burst]).astype(np.float32)
    if kind == "rustle":  # paper: band-limited noise, fast random swells
        n = round(rng.uniform(0.6, 1.2) * RATE)
        band = np.diff(_shaped(n + 1, 0.0, rng))
        swell = np.repeat(rng.uniform(0, 1, n // 400 + 1) ** 3, 400)[:n]
        return (band * swell * 0.15).astype(np.float32)
    # "clink": a spoon on a cup, a few damped high partials
    t = np.arange(round(0.4 * RATE)) / RATE
    tones = sum(np.sin(2 * np.pi * f * t) * np.exp(-t * rng.uniform(12, 25)) for f in (2600, 4150, 6300))
    return (np.asarray(tones) * 0.15).astype(np.float32)


NOISES = ("door", "keyboard", "sneeze", "rustle", "clink")
