"""Per-user locations: ``${XDG_CACHE_HOME:-~/.cache}/explainlab`` holds downloaded data and decoded caches."""

from __future__ import annotations

import os
from pathlib import Path


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/explainlab``, or ``~/.cache/explainlab`` when the variable is unset or empty."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "explainlab"
