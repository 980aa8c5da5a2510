"""Build held-out turn-taking TEST sets for ``benchmarks/turns.py`` (dev: ``build_turn_manifests.py``).

    apt-get install flite espeak-ng festival festvox-us-slt-hts asterisk-core-sounds-en-g722 ffmpeg
    python benchmarks/build_turn_testsets.py --out /tmp/turns-test --seed 101
    python benchmarks/turns.py --endpointing /tmp/turns-test/endpointing.jsonl \\
        --bargein /tmp/turns-test/bargein.jsonl --breakdown source,category

(``scripts/setup.sh test`` installs all of it, Piper's "joe" and the ``py-nanotts`` side venv
included; a voice whose engine is missing is left out with a note.)

What is held out, and why: the turn rules were tuned on the dev set, so figures measured on it
flatter them. Nothing here is in the dev set:

* voices: flite (kal16, awb, rms, slt), espeak-ng (four voice/variant pairs at drawn rates and
  pitches), festival's HTS slt, Piper's joe and SVOX Pico (en-US, en-GB) -- never hibari, the dev
  set's voice; each item is said by one drawn speaker;
* recorded speech: the 16 kHz G.722 Asterisk prompts of the test half of the prompt names
  (``asterisk_half``; the dev builder keeps the other half, so no recording is in both), and
  phone numbers and spellings dictated from Asterisk's recorded digits and letters (the dev set
  uses none of them). Pocketsphinx's clips stay in the dev set;
* phrasings (``turn_testset_texts.py``): ~80 turns with mid-turn pauses (digits in groups, dates,
  spellings and emails, continuations after a clause, hesitations, lists, addresses and amounts)
  and complete turns (short finished phrases, apologies, questions, statements);
* conditions: noise beds the dev set lacks (pink, brown, mains hum at 20/15/10 dB SNR; babble of
  other voices at 30/25/20 dB), and an 8 kHz G.711 μ-law round trip; barge-in noises other than
  the dev ones (door slam, keystrokes, sneeze, paper rustle, a spoon on a cup).

Each chunk of a paused turn is synthesized alone and joined with 0.5-1.6 s of silence (seeded),
so the pause spans are exact. Items carry ``category``, ``voice`` and ``condition`` beside the
fields ``turns.py`` reads, for its ``--breakdown``.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import turn_testset_texts as texts
from build_turn_manifests import (
    ASTERISK,
    RATE,
    _asterisk_prompts,
    _split_with_pause,
    _spoken_words,
    _trim,
    _write,
    asterisk_half,
    join_with_pauses,
    sentence_prompts,
)
from turn_testset_audio import NOISES, Beds, Speaker, Voice, available_voices, make_babble, noise, telephone

from cascade.audio import load_audio

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
SPELLED = [
    ["har", "per"],
    ["oko", "njo"],
    ["bre", "nnan"],
    ["lind", "qvist"],
    ["ross", "@", "bt", ".net"],
]
"""Names and an email spelled in groups from Asterisk's recorded letters ("@" is "at", "." "dot")."""


def recorded(name: str, notes: list[str]) -> np.ndarray:
    """An Asterisk prompt, from its 16 kHz G.722 file (ffmpeg decodes it), else its 8 kHz WAV."""
    g722 = ASTERISK / f"{name}.g722"
    if g722.exists() and shutil.which("ffmpeg"):
        cmd = ["ffmpeg", "-v", "error", "-f", "g722", "-i", str(g722), "-ar", str(RATE), "-f", "s16le", "-"]
        pcm = subprocess.run(cmd, check=True, capture_output=True).stdout
        return _trim(np.frombuffer(pcm, "<i2").astype(np.float32) / 32768)
    note = "G.722 prompts or ffmpeg missing: the 8 kHz WAV prompts used instead"
    if note not in notes:
        notes.append(note)
    return _trim(load_audio(ASTERISK / f"{name}.wav", RATE).astype(np.float32) / 32768)


class Builder:
    """Writes items into ``out`` with drawn speakers, levels and conditions (all from ``seed``)."""

    def __init__(self, out: Path, voices: dict[str, list[Voice]], seed: int, notes: list[str]) -> None:
        self.out, self.voices, self.notes = out, voices, notes
        self.rng, self.nrng = random.Random(seed), np.random.default_rng(seed)
        self.order: list[str] = []
        every = [v for family in voices.values() for v in family]
        self.beds = Beds(make_babble(every, texts.BABBLE, self.rng), self.nrng)

    def speaker(self) -> Speaker:
        """A voice of the next engine of a shuffled round over the engines (each engine says about
        as many items), drawn among that engine's voices."""
        if not self.order:
            self.order = sorted(self.voices)
            self.rng.shuffle(self.order)
        return self.rng.choice(self.voices[self.order.pop()])(self.rng)

    def condition(self, bargein: bool) -> str:
        r = self.rng.random()
        if bargein:  # no babble behind a barge-in clip: it would be speech before the clip starts
            kind = self.rng.choice(Beds.kinds[:3])
            return "clean" if r < 0.7 else "g711" if r < 0.85 else f"{kind}@20dB"
        # babble is quiet: louder, the VAD hears the caller go on talking and no turn ever ends
        kind = self.rng.choice(Beds.kinds)
        snr = self.rng.choice((30, 25, 20) if kind == "babble" else (20, 15, 10))
        return "clean" if r < 0.5 else f"{kind}@{snr}dB" if r < 0.8 else "g711"

    def render(
        self, parts: list[np.ndarray], pauses: list[float], condition: str
    ) -> tuple[np.ndarray, list[list[float]], float]:
        """Join, set a drawn speech level, add a low pink floor, then the condition's bed or channel."""
        lead = round(self.rng.uniform(0.3, 0.8), 2)
        audio, spans, end = join_with_pauses(parts, pauses, lead=lead)
        speech = np.concatenate(parts)
        level = 10 ** (self.rng.uniform(-30, -20) / 20)
        audio *= level / (np.sqrt(np.mean(speech.astype(np.float64) ** 2)) + 1e-9)
        audio = self.beds.add(audio, level, "pink", self.rng.uniform(40, 50))
        if "@" in condition:
            kind, snr = condition.removesuffix("dB").split("@")
            audio = self.beds.add(audio, level, kind, float(snr))
        elif condition == "g711":
            audio = telephone(audio)
        return audio.astype(np.float32), spans, end

    def endpointing(
        self, name: str, parts: list[np.ndarray], pauses: list[float], **fields: Any
    ) -> dict[str, Any]:
        condition = self.condition(bargein=False)
        audio, spans, end = self.render(parts, pauses, condition)
        wav = _write(self.out, name, audio)
        return {"wav": wav, "pauses": spans, "end_of_speech": end, **fields, "condition": condition}

    def bargein(self, name: str, clip: np.ndarray, kind: str, **fields: Any) -> dict[str, Any]:
        condition = self.condition(bargein=True)
        lead = round(self.rng.uniform(0.3, 0.8), 2)
        audio, _, _ = join_with_pauses([clip], [], lead=lead, tail=3.0)
        if kind != "noise":
            level = 10 ** (self.rng.uniform(-30, -20) / 20)
            audio *= level / (np.sqrt(np.mean(clip.astype(np.float64) ** 2)) + 1e-9)
        floor = 10 ** (-70 / 20)
        audio = self.beds.add(audio, floor, "pink", 0.0)
        if "@" in condition:
            audio = self.beds.add(audio, 10 ** (-25 / 20), condition.split("@")[0], 20.0)
        elif condition == "g711":
            audio = telephone(audio)
        wav = _write(self.out, f"bi-{name}", audio.astype(np.float32))
        return {"wav": wav, "speech_start": lead, "kind": kind, **fields, "condition": condition}

    def pause(self) -> float:
        return round(self.rng.uniform(0.5, 1.6), 3)


def build_endpointing(b: Builder) -> list[dict[str, Any]]:
    """Synthetic turns with and without pauses, recorded prompts and recorded dictation."""
    items = []
    for category, turns in texts.PAUSED.items():
        for i, chunks in enumerate(turns):
            s = b.speaker()
            parts = [s.say(c) for c in chunks]
            pauses = [b.pause() for _ in chunks[1:]]
            fields = {"text": " ".join(chunks), "source": s.source, "voice": s.label, "category": category}
            items.append(b.endpointing(f"{category}-{i}", parts, pauses, **fields))
    for category, phrases in texts.COMPLETE.items():
        for i, text in enumerate(phrases):
            s = b.speaker()
            fields = {"text": text, "source": s.source, "voice": s.label, "category": f"complete-{category}"}
            items.append(b.endpointing(f"complete-{category}-{i}", [s.say(text)], [], **fields))

    prompts = _asterisk_prompts()
    names = sentence_prompts(prompts, "test")
    for i, name in enumerate(names):
        audio = recorded(name, b.notes)
        if not 1.0 <= len(audio) / RATE <= 7.0:
            continue
        split = _split_with_pause(audio, b.pause(), b.rng) if i % 3 else None
        fields = {"text": prompts[name], "source": "asterisk-g722", "voice": "asterisk:allison"}
        if split:
            parts, pauses = split
            items.append(b.endpointing(f"ast-{name}-pause", parts, pauses, **fields, category="prompt-pause"))
        else:
            items.append(
                b.endpointing(f"ast-{name}-whole", [audio], [], **fields, category="complete-prompt")
            )

    def say(words: list[str], folder: str) -> np.ndarray:
        """Recorded words said one after another with short gaps (one group of a dictation)."""
        out = [recorded(f"{folder}/{words[0]}", b.notes)]
        for word in words[1:]:
            out += [np.zeros(round(b.rng.uniform(0.06, 0.15) * RATE), np.float32)]
            out += [recorded(f"{folder}/{word}", b.notes)]
        return np.concatenate(out)

    for i in range(6):
        sizes = (3, 3, 4) if i < 4 else (4, 4, 4, 4)
        numbers = [[b.rng.randrange(10) for _ in range(n)] for n in sizes]
        parts = [say([str(d) for d in g], "digits") for g in numbers]
        text = ", ".join(" ".join(DIGITS[d] for d in g) for g in numbers)
        fields = {"text": text, "source": "asterisk-g722", "voice": "asterisk:allison", "category": "digits"}
        items.append(b.endpointing(f"ast-digits-{i}", parts, [b.pause() for _ in numbers[1:]], **fields))
    letter = {"@": "at", ".": "dot"}
    for i, spelled in enumerate(SPELLED):
        groups = [[letter.get(c, c) for c in g] for g in spelled]
        parts = [say(g, "letters") for g in groups]
        text = ", ".join(" ".join(g) for g in groups)
        fields = {
            "text": text,
            "source": "asterisk-g722",
            "voice": "asterisk:allison",
            "category": "spelling",
        }
        items.append(b.endpointing(f"ast-spelled-{i}", parts, [b.pause() for _ in groups[1:]], **fields))
    return items


def build_bargein(b: Builder) -> list[dict[str, Any]]:
    """Commands and interruptions (must interrupt), backchannels and noises (must not)."""
    items = []
    for group, kind, repeats in (
        (texts.COMMANDS, "interrupt", 2),
        (texts.INTERRUPTIONS, "interrupt", 1),
        (texts.BACKCHANNELS, "backchannel", 2),
    ):
        for i, text in enumerate(group * repeats):
            s = b.speaker()
            category = {"interrupt": "command" if group is texts.COMMANDS else "interruption"}.get(kind, kind)
            fields = {"text": text, "source": s.source, "voice": s.label, "category": category}
            items.append(b.bargein(f"{category}-{i}", s.say(texts.SPOKEN.get(text, text)), kind, **fields))
    prompts = _asterisk_prompts()
    names = sorted(
        n
        for n, t in prompts.items()
        if 3 <= len(_spoken_words(t)) <= 12
        and (ASTERISK / f"{n}.wav").exists()
        and asterisk_half(n) == "test"
    )
    b.rng.shuffle(names)
    names = sorted(
        names[:12]
        + [n for n, t in prompts.items() if t.rstrip(".").lower() == "no" and asterisk_half(n) == "test"]
    )
    for name in names:
        category = "command" if len(_spoken_words(prompts[name])) == 1 else "interruption"
        fields = {
            "text": prompts[name],
            "source": "asterisk-g722",
            "voice": "asterisk:allison",
            "category": category,
        }
        items.append(b.bargein(f"ast-{name}", recorded(name, b.notes), "interrupt", **fields))
    for kind in NOISES:
        for j in range(3):
            fields = {"text": "", "source": "synthetic", "voice": "", "category": f"noise-{kind}"}
            items.append(b.bargein(f"noise-{kind}-{j}", noise(kind, b.nrng), "noise", **fields))
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="directory for the WAVs and manifests")
    parser.add_argument("--seed", type=int, default=101)
    args = parser.parse_args()
    if not ASTERISK.is_dir():
        raise SystemExit(
            f"{ASTERISK} is missing: apt-get install asterisk-core-sounds-en-g722 asterisk-core-sounds-en-wav"
        )
    voices, notes = available_voices(args.seed)
    if sum(len(v) for v in voices.values()) < 2:
        raise SystemExit("fewer than two test voices installed: apt-get install flite espeak-ng (see --help)")
    args.out.mkdir(parents=True, exist_ok=True)
    builder = Builder(args.out, voices, args.seed, notes)
    for name, items in (("endpointing", build_endpointing(builder)), ("bargein", build_bargein(builder))):
        manifest = args.out / f"{name}.jsonl"
        manifest.write_text("".join(json.dumps(item) + "\n" for item in items))
        paused = sum(1 for i in items if i.get("pauses"))
        print(
            f"{manifest}: {len(items)} items" + (f" ({paused} with pauses)" if name == "endpointing" else "")
        )
        for key in ("source", "category", "condition"):
            counts = Counter(str(i[key]).split("@")[0] if key == "condition" else i[key] for i in items)
            print(f"  by {key}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for note in notes:
        print(f"note: {note}")


if __name__ == "__main__":
    main()
