"""Write the LLM benchmark manifest (JSONL): prompts plus knowledge text from Debian's licence files.

usage: python benchmarks/build_llm_manifest.py OUT_DIR

``/usr/share/common-licenses`` ships with every Debian system (base-files), so the long-context
inputs need no download. Each line is one input; ``path`` is relative to the manifest.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

LICENSES = Path("/usr/share/common-licenses")
PROMPTS = [
    "Say hello and ask how you can help, in one sentence.",
    "Explain in two sentences why the sky is blue.",
    "Give me three tips for sleeping better, briefly.",
    "What should I pack for a weekend trip to the mountains?",
]
TURNS = [
    "Hi, I have a question about this licence.",
    "Can I sell copies of software under it?",
    "Do I have to share my changes?",
    "What about using it only inside my company?",
    "Is there a warranty?",
    "What happens if I break the terms?",
    "Can I combine it with Apache code?",
    "Does it cover patents?",
    "How do I apply it to my own program?",
    "Thanks. Summarize the key point in one sentence.",
]


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    knowledge = out / "knowledge.txt"
    text = "\n\n".join((LICENSES / name).read_text() for name in ("GPL-3", "Apache-2.0", "GPL-2", "LGPL-3"))
    knowledge.write_text(text)
    shutil.copy(LICENSES / "GPL-3", out / "gpl3.txt")
    lines = [{"kind": "prompt", "text": p} for p in PROMPTS]
    lines += [{"kind": "turn", "text": t} for t in TURNS]
    lines.append({"kind": "knowledge", "path": "knowledge.txt"})
    lines.append({"kind": "tool_prompt", "text": "What is the weather in Paris?"})
    (out / "llm.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    print(out / "llm.jsonl")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/data/llm"))
