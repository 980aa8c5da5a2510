"""Build an ASR manifest from recorded human speech in Debian packages.

Sources (install with ``apt install pocketsphinx-testdata asterisk-core-sounds-en-wav
asterisk-core-sounds-en``; ``scripts/setup.sh test`` does it):

* pocketsphinx-testdata: LibriVox read speech and spoken card names, 16 kHz, with transcripts;
* asterisk-core-sounds-en-wav: telephone prompts recorded by a voice actor, 8 kHz; transcripts
  from ``core-sounds-en.txt.gz`` (asterisk-core-sounds-en). Prompts whose transcript is not plain
  speech (``[beep]``) are skipped.

Writes ``<out>/manifest.jsonl`` (``{"wav": ..., "text": ..., "source": ...}``, paths relative to the
manifest) with the WAVs copied beside it::

    python benchmarks/build_asr_manifest.py --out /tmp/asr-bench --asterisk 20

``--asterisk 90`` (100 files, 984 words) is the size that resolves a one-point WER difference
(see ``benchmarks/asr.py``).

``--dev N`` writes a development set instead, to tune options on: ``N`` telephone prompts that
the test manifest (built with the same ``--asterisk``) does not contain, no pocketsphinx audio
and no silence prompts::

    python benchmarks/build_asr_manifest.py --out /tmp/asr-dev --asterisk 20 --dev 30
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import shutil
from pathlib import Path

POCKETSPHINX = Path("/usr/share/pocketsphinx/test/data")
ASTERISK = Path("/usr/share/asterisk/sounds/en")
ASTERISK_TEXT = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
_SPHINX_LINE = re.compile(r"<s>\s*(.*?)\s*</s>\s*\((\S+)\)")


def pocketsphinx_items() -> list[tuple[Path, str, str]]:
    """LibriVox and card utterances with their transcripts."""
    items = []
    for folder, listing in (("librivox", "transcription"), ("cards", "cards.transcription")):
        for line in (POCKETSPHINX / folder / listing).read_text().splitlines():
            match = _SPHINX_LINE.search(line)
            if match:
                text, name = match.groups()
                items.append((POCKETSPHINX / folder / f"{name}.wav", text, f"pocketsphinx/{folder}"))
    return items


def asterisk_items(count: int, dev: int = 0) -> list[tuple[Path, str, str]]:
    """``count`` telephone prompts, spread evenly over the alphabetical list.

    With ``dev``, ``dev`` other prompts instead, spread evenly over those not chosen (and not
    the "(N seconds of silence)" prompts): a development set disjoint from the test selection.
    """
    if count <= 0:
        return []
    prompts = []
    with gzip.open(ASTERISK_TEXT, "rt", encoding="utf-8", errors="replace") as lines:
        for line in lines:
            name, sep, text = line.partition(":")
            text = text.strip()
            wav = ASTERISK / f"{name.strip()}.wav"
            plain = bool(sep) and not line.startswith(";") and "[" not in text
            if plain and len(text.split()) >= 2 and wav.is_file():
                prompts.append((wav, text, "asterisk"))
    prompts.sort()
    step = max(1, len(prompts) // count)
    chosen = prompts[::step][:count]
    if dev:
        rest = [p for p in prompts if p not in set(chosen) and not p[1].startswith("(")]
        return rest[:: max(1, len(rest) // dev)][:dev]
    return chosen


def main() -> None:
    """Parse arguments, copy the audio and write the manifest."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--asterisk", type=int, default=20, help="telephone prompts to include")
    parser.add_argument(
        "--dev", type=int, default=0, help="write N prompts disjoint from the test manifest instead"
    )
    args = parser.parse_args()
    missing = [p for p in (POCKETSPHINX, ASTERISK, ASTERISK_TEXT) if not p.exists()]
    if missing:
        raise SystemExit(
            f"missing {', '.join(map(str, missing))}: apt install pocketsphinx-testdata "
            "asterisk-core-sounds-en-wav asterisk-core-sounds-en"
        )
    audio_dir = args.out / "audio"
    audio_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    items = asterisk_items(args.asterisk, args.dev) if args.dev else pocketsphinx_items()
    if not args.dev:
        items += asterisk_items(args.asterisk)
    for wav, text, source in items:
        target = audio_dir / f"{source.replace('/', '_')}_{wav.name}"
        shutil.copyfile(wav, target)
        rows.append({"wav": str(target.relative_to(args.out)), "text": text, "source": source})
    manifest = args.out / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(row) + "\n" for row in rows))
    print(f"wrote {len(rows)} utterances to {manifest}")


if __name__ == "__main__":
    main()
