"""Helpers for the LLM tests: turns as frames."""

from __future__ import annotations

from cascade.frames import EndOfTurn


def turns(*texts: str, every: float = 10.0) -> list[EndOfTurn]:
    """One EndOfTurn per text, ``every`` seconds apart (starting at 0.1 s)."""
    return [EndOfTurn(pts=0.1 + i * every, text=text) for i, text in enumerate(texts)]
