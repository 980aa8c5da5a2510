"""Prepare everything the embedded default needs, once, into the cache (``cascade prepare``).

Each component registers a preparer here as ``"module:function"``; a preparer is idempotent (a
second call only checks) and shows progress for long steps.
"""

from __future__ import annotations

import importlib
import logging
import time

PREPARERS: list[str] = [
    "cascade.turn.smart_turn:prepare_smart_turn",
    "cascade.turn.text_turn:prepare_text_turn",
    "cascade.llm.prepare:prepare",
    "cascade.asr.models:prepare",
]
"""``"module:function"`` of each component's preparation step, in order."""

log = logging.getLogger("cascade.prepare")


def prepare_all(only: list[str] | None = None) -> None:
    """Run every registered preparer (or those whose module path contains one of ``only``)."""
    for spec in PREPARERS:
        if only and not any(word in spec for word in only):
            continue
        module, func = spec.split(":")
        started = time.monotonic()
        getattr(importlib.import_module(module), func)()
        log.info("prepared %s in %.1fs", spec, time.monotonic() - started)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    prepare_all()
