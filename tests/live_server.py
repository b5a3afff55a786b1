"""The real server for API and browser tests: a subprocess on a free loopback port (server/launch.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from server.launch import REPO, spawn

__all__ = ["REPO", "live_server"]


@contextmanager
def live_server(env: dict[str, str], log: Path, timeout: float = 90.0) -> Iterator[str]:
    """Yield the base URL of a running server (one torch thread unless the test run says otherwise)."""
    threads = {"EXPLAINLAB_THREADS": os.environ.get("EXPLAINLAB_THREADS", "1")}
    with spawn({**threads, **env}, log, timeout) as base:
        yield base
