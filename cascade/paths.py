"""Where prepared models, side-engine venvs and downloads live (never in the checkout)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """``$CASCADE_CACHE`` or ``$XDG_CACHE_HOME/cascade`` (default ``~/.cache/cascade``), created."""
    root = os.environ.get("CASCADE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "cascade"
    )
    path = Path(root, *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
