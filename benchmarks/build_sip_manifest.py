"""Build the SIP benchmark manifest from recorded speech in Debian's pocketsphinx-testdata.

    python benchmarks/build_sip_manifest.py --out /tmp/sip-bench

Writes ``manifest.jsonl`` with one ``{"wav": ..., "text": ...}`` line per LibriVox utterance
(copied as 8 kHz WAV next to the manifest, so paths are relative to it).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cascade.audio import load_audio, write_wav

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    wavs = sorted(LIBRIVOX.glob("*.wav"))
    if not wavs:
        raise SystemExit(f"no WAV files in {LIBRIVOX}: apt-get install pocketsphinx-testdata")
    args.out.mkdir(parents=True, exist_ok=True)
    lines = []
    for wav in wavs:
        text_file = wav.with_suffix(".txt")
        text = text_file.read_text().strip() if text_file.exists() else ""
        target = write_wav(args.out / wav.name, load_audio(wav, 8000), 8000)
        lines.append(json.dumps({"wav": target.name, "text": text}))
    (args.out / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    print(args.out / "manifest.jsonl")


if __name__ == "__main__":
    main()
