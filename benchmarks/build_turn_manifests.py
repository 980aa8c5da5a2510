"""Build the labelled turn-taking sets for ``benchmarks/turns.py`` from recorded and synthetic speech.

Sources (nothing large is shipped; everything is rebuilt here):

* Debian ``pocketsphinx-testdata``: five 16 kHz LibriVox read-speech utterances with transcripts;
* Debian ``asterisk-core-sounds-en-wav``: hundreds of recorded 8 kHz telephone prompts, with
  their transcripts from ``core-sounds-en.txt.gz`` -- only the dev half of the prompt names
  (:func:`asterisk_half`); the other half is held out for ``build_turn_testsets.py``;
* synthetic speech from ``hibari-tts`` (``hibari.Hibari()``): dictation (phone numbers, emails,
  spelled names) said in chunks with pauses, and backchannels ("mm-hmm", "yeah").

Endpointing items are whole turns. A "pause" is made by cutting a recording at a natural gap
between words inside the sentence (never at its end) and inserting silence there, so the caller
really is mid-sentence during the pause. Dictation items pause between the chunks. Barge-in items
put a clip 0.5 s into a file: real requests (``interrupt``), backchannels and noises (coughs,
clicks, knocks, a breath) that must not interrupt.

    python benchmarks/build_turn_manifests.py --out /tmp/turns   # writes endpointing.jsonl, bargein.jsonl

This is the DEV set: tune on it, and report figures on the held-out test sets of
``build_turn_testsets.py`` (other voices, phrasings and noises, and the other half of the Asterisk
prompts). Set size: the default ``--count 40`` makes 63 endpointing turns, where one false cut-in
is 1.6 points, and three seeds' sets share most prompts; ``--count 47`` or more takes every
eligible prompt of the dev half (70 turns, 42 with pauses).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import re
from pathlib import Path
from typing import Any

import numpy as np

from cascade.audio import load_audio, resample, write_wav

RATE = 16000
POCKETSPHINX = Path("/usr/share/pocketsphinx/test/data/librivox")
ASTERISK = Path("/usr/share/asterisk/sounds/en")
ASTERISK_TEXT = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
LEAD, TAIL = 0.5, 3.0
NOISE_LEVEL = 0.0008

DICTATION = [
    ["My phone number is", "five five five,", "two one eight,", "four four nine zero."],
    ["You can reach me at", "six oh two,", "seven seven one,", "three nine eight two."],
    ["My email is", "john dot miller at", "gmail dot com."],
    ["Send it to", "anna underscore lee at", "outlook dot com."],
    ["My last name is spelled", "K, O,", "W, A,", "L, S, K, I."],
    ["The code is", "A, B,", "seven, nine."],
    ["I'd like to book a table for", "four people on Friday."],
    ["Could you tell me whether the", "pharmacy is open on Sunday?"],
    ["I was thinking that maybe we could", "move the meeting to Thursday."],
    ["The total came to", "two hundred and", "forty dollars."],
]
COMPLETE_TTS = [
    "What time do you close today?",
    "I want to cancel my order.",
    "Yes, that works for me.",
    "Can you send me the invoice again?",
    "No, I already paid it last week.",
]
INTERRUPT_TTS = [
    "Wait, that's not what I asked.",
    "Sorry, can I stop you there?",
    "No no, the other account.",
]
BACKCHANNEL_TTS = [
    "Mm-hmm.", "Yeah.", "Right.", "Okay.", "Uh-huh.", "Yes.", "I see.", "Sure.",
    "Mm-hmm, yeah.", "Right, right.", "Okay, sure.", "Yeah, yeah.", "Got it.", "Uh-huh, okay.",
]  # fmt: skip


def _tts() -> Any:
    import hibari

    return hibari.Hibari()


def _synth(tts: Any, text: str) -> np.ndarray:
    audio = np.asarray(tts(text), dtype=np.float32)
    return _trim(resample(audio, int(tts.sample_rate), RATE))


def _frame_db(audio: np.ndarray, hop: int = 160) -> np.ndarray:
    n = len(audio) // hop
    frames = audio[: n * hop].reshape(n, hop).astype(np.float64)
    return np.asarray(10 * np.log10(np.mean(frames**2, axis=1) + 1e-12))


def _trim(audio: np.ndarray, below_peak: float = 40.0) -> np.ndarray:
    """Cut leading/trailing silence (10 ms resolution)."""
    db = _frame_db(audio)
    loud = np.nonzero(db > db.max() - below_peak)[0]
    if len(loud) == 0:
        return audio
    return audio[loud[0] * 160 : (loud[-1] + 1) * 160]


def _inner_gap(audio: np.ndarray, rng: random.Random) -> tuple[int, int] | None:
    """A silent stretch between words inside the utterance (not near its ends), in samples."""
    db = _frame_db(audio)
    quiet = db < db.max() - 30.0
    n = len(db)
    gaps, start = [], None
    for i, q in enumerate(quiet):
        if q and start is None:
            start = i
        elif not q and start is not None:
            if i - start >= 4 and 0.25 * n < start and i < 0.8 * n:
                gaps.append((start, i))
            start = None
    if not gaps:
        return None
    a, b = rng.choice(gaps)
    return a * 160, b * 160


def join_with_pauses(
    parts: list[np.ndarray], pauses: list[float], lead: float = LEAD, tail: float = TAIL
) -> tuple[np.ndarray, list[list[float]], float]:
    """Lead silence, parts with digital silence of ``pauses[i]`` seconds after part ``i``, tail.

    Returns the audio, the pause spans and the end of speech (seconds, to the millisecond).
    """
    chunks = [np.zeros(round(lead * RATE), np.float32)]
    spans: list[list[float]] = []
    t = lead
    for i, part in enumerate(parts):
        chunks.append(part)
        t += len(part) / RATE
        if i < len(pauses):
            spans.append([round(t, 3), round(t + pauses[i], 3)])
            chunks.append(np.zeros(round(pauses[i] * RATE), np.float32))
            t += pauses[i]
    chunks.append(np.zeros(round(tail * RATE), np.float32))
    return np.concatenate(chunks), spans, round(t, 3)


def _assemble(
    parts: list[np.ndarray], pauses: list[float], rng: np.random.Generator
) -> tuple[np.ndarray, list[list[float]], float]:
    """:func:`join_with_pauses` over a low white-noise floor."""
    audio, spans, end = join_with_pauses(parts, pauses)
    audio += rng.standard_normal(len(audio)).astype(np.float32) * NOISE_LEVEL
    return audio, spans, end


def _split_with_pause(
    audio: np.ndarray, pause: float, rng: random.Random
) -> tuple[list[np.ndarray], list[float]] | None:
    gap = _inner_gap(audio, rng)
    if gap is None:
        return None
    a, b = gap
    return [audio[:a], audio[b:]], [pause + (b - a) / RATE]


def _asterisk_prompts() -> dict[str, str]:
    prompts = {}
    with gzip.open(ASTERISK_TEXT, "rt", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            name, sep, text = line.partition(":")
            if sep and not line.startswith(";") and "[" not in text and "/" not in name:
                prompts[name.strip()] = text.strip()
    return prompts


def asterisk_half(name: str) -> str:
    """``"dev"`` or ``"test"``: the half of the Asterisk prompts a set may use, fixed by the name's
    hash, so no prompt (in any encoding) is both tuned on and measured on."""
    return "dev" if hashlib.sha1(name.encode()).digest()[0] % 2 == 0 else "test"


def _spoken_words(text: str) -> list[str]:
    """The words a prompt's transcript says (its notes in parentheses and ellipses left out)."""
    return re.findall(r"[A-Za-z0-9']+", re.sub(r"\([^)]*\)|\[[^\]]*\]", " ", text))


def _is_sentence(text: str) -> bool:
    return text[:1].isupper() and text.endswith((".", "?", "!")) and ":" not in text and "..." not in text


def sentence_prompts(prompts: dict[str, str], half: str) -> list[str]:
    """The names of ``half``'s recorded prompts that are one whole sentence of 4 to 20 words:
    many prompts are fragments meant to be chained ("the number i have is"), and a pause between
    two complete sentences is no clear label either way."""
    return sorted(
        n
        for n, t in prompts.items()
        if 4 <= len(t.split()) <= 20
        and _is_sentence(t)
        and len(re.findall(r"[.?!]", t)) == 1
        and (ASTERISK / f"{n}.wav").exists()
        and asterisk_half(n) == half
    )


def _write(out: Path, name: str, audio: np.ndarray) -> str:
    path = out / "audio" / f"{name}.wav"
    write_wav(path, (np.clip(audio, -1, 1) * 32767).astype(np.int16), RATE)
    return str(path.relative_to(out))


def build_endpointing(out: Path, *, tts: Any, count: int, seed: int) -> list[dict[str, Any]]:
    """Whole turns, most of them with pauses inside."""
    rng, nrng = random.Random(seed), np.random.default_rng(seed)
    items: list[dict[str, Any]] = []

    def add(name: str, parts: list[np.ndarray], pauses: list[float], text: str, source: str) -> None:
        audio, spans, end = _assemble(parts, pauses, nrng)
        items.append(
            {
                "wav": _write(out, name, audio),
                "text": text,
                "pauses": spans,
                "end_of_speech": end,
                "source": source,
            }
        )

    transcripts = {}
    for line in (POCKETSPHINX / "transcription").read_text().splitlines():
        m = re.match(r"<s> (.*) </s> \((.*)\)", line.strip())
        if m:
            transcripts[m.group(2)] = m.group(1)
    for i, (utt, text) in enumerate(sorted(transcripts.items())):
        audio = _trim(load_audio(POCKETSPHINX / f"{utt}.wav", RATE).astype(np.float32) / 32768)
        add(f"ps-{i}-whole", [audio], [], text, "pocketsphinx")
        split = _split_with_pause(audio, rng.uniform(0.6, 1.6), rng)
        if split:
            add(f"ps-{i}-pause", split[0], split[1], text, "pocketsphinx")

    prompts = _asterisk_prompts()
    names = sentence_prompts(prompts, "dev")
    rng.shuffle(names)
    for i, name in enumerate(names[:count]):
        audio = _trim(load_audio(ASTERISK / f"{name}.wav", RATE).astype(np.float32) / 32768)
        if not 1.0 <= len(audio) / RATE <= 7.0:
            continue
        split = _split_with_pause(audio, rng.uniform(0.6, 1.6), rng) if i % 3 else None
        if split:
            add(f"ast-{name}-pause", split[0], split[1], prompts[name], "asterisk")
        else:
            add(f"ast-{name}-whole", [audio], [], prompts[name], "asterisk")

    if tts is not None:
        for i, chunks in enumerate(DICTATION):
            parts = [_synth(tts, c) for c in chunks]
            pauses = [rng.uniform(0.7, 1.4) for _ in chunks[1:]]
            add(f"tts-dictation-{i}", parts, pauses, " ".join(chunks), "hibari")
        for i, text in enumerate(COMPLETE_TTS):
            add(f"tts-complete-{i}", [_synth(tts, text)], [], text, "hibari")
    return items


def _noise(kind: str, rng: np.random.Generator) -> np.ndarray:
    """Non-speech sounds a caller makes: cough, click, knock, breath."""
    if kind == "click":
        burst = np.zeros(round(0.03 * RATE), np.float32)
        burst[:40] = rng.standard_normal(40) * 0.6
        return burst
    if kind == "knock":
        out = []
        for _ in range(3):
            t = np.arange(round(0.08 * RATE)) / RATE
            out.append((np.sin(2 * np.pi * 180 * t) * np.exp(-t * 60) * 0.6).astype(np.float32))
            out.append(np.zeros(round(0.12 * RATE), np.float32))
        return np.concatenate(out)
    seconds = {"cough": 0.25, "breath": 0.5}[kind]
    n = round(seconds * RATE)
    env = np.hanning(n) ** (0.5 if kind == "cough" else 1.5)
    noise = rng.standard_normal(n).astype(np.float32)
    if kind == "cough":  # broadband burst with a low resonance
        kernel = np.exp(-np.arange(60) / 12.0)
        noise = np.convolve(noise, kernel / kernel.sum(), mode="same") * 3
    level = 0.35 if kind == "cough" else 0.05
    return (noise * env * level).astype(np.float32)


def build_bargein(out: Path, *, tts: Any, count: int, seed: int) -> list[dict[str, Any]]:
    """Clips to play over the bot: interruptions, backchannels and noises."""
    rng, nrng = random.Random(seed + 1), np.random.default_rng(seed + 1)
    items: list[dict[str, Any]] = []

    def add(name: str, clip: np.ndarray, kind: str, text: str, source: str) -> None:
        audio, _, _ = _assemble([clip], [], nrng)
        items.append(
            {
                "wav": _write(out, f"bi-{name}", audio),
                "speech_start": LEAD,
                "kind": kind,
                "text": text,
                "source": source,
            }
        )

    prompts = _asterisk_prompts()
    # requests of 3 to 12 spoken words: not a fragment like "... for ..." or "IAX (note: ...)"
    names = sorted(
        n
        for n, t in prompts.items()
        if 3 <= len(_spoken_words(t)) <= 12 and (ASTERISK / f"{n}.wav").exists() and asterisk_half(n) == "dev"
    )
    rng.shuffle(names)
    for name in names[:count]:
        clip = _trim(load_audio(ASTERISK / f"{name}.wav", RATE).astype(np.float32) / 32768)
        add(f"ast-{name}", clip, "interrupt", prompts[name], "asterisk")
    short = {"yes": "backchannel", "okay": "backchannel", "no": "interrupt"}
    for name, text in sorted(prompts.items()):
        kind = short.get(text.rstrip(".").lower())
        if kind and asterisk_half(name) == "dev" and (ASTERISK / f"{name}.wav").exists():
            clip = _trim(load_audio(ASTERISK / f"{name}.wav", RATE).astype(np.float32) / 32768)
            add(f"ast-short-{name}", clip, kind, text, "asterisk")
    for i, text in enumerate(BACKCHANNEL_TTS if tts is not None else []):
        add(f"tts-bc-{i}", _synth(tts, text), "backchannel", text, "hibari")
    for i, text in enumerate(INTERRUPT_TTS if tts is not None else []):
        add(f"tts-int-{i}", _synth(tts, text), "interrupt", text, "hibari")
    for kind in ("cough", "click", "knock", "breath"):
        for j in range(3):
            add(f"noise-{kind}-{j}", _noise(kind, nrng), "noise", "", "synthetic")
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="directory for the WAVs and manifests")
    parser.add_argument(
        "--count", type=int, default=40, help="recorded prompts per set (default 40; 84 or more: all)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-tts", action="store_true", help="recorded speech only")
    args = parser.parse_args()
    for path in (POCKETSPHINX, ASTERISK, ASTERISK_TEXT):
        if not path.exists():
            raise SystemExit(
                f"{path} is missing: apt-get install pocketsphinx-testdata asterisk-core-sounds-en-wav"
            )
    tts = None if args.no_tts else _tts()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, items in (
        ("endpointing", build_endpointing(args.out, tts=tts, count=args.count, seed=args.seed)),
        ("bargein", build_bargein(args.out, tts=tts, count=args.count, seed=args.seed)),
    ):
        manifest = args.out / f"{name}.jsonl"
        manifest.write_text("".join(json.dumps(item) + "\n" for item in items))
        print(f"{manifest}: {len(items)} items")


if __name__ == "__main__":
    main()
