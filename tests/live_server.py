"""Start the real server (uvicorn in a subprocess) on a free loopback port; tests talk to it over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def live_server(env: dict[str, str], log: Path, timeout: float = 90.0) -> Iterator[str]:
    """Yield the base URL of a running server; stop it afterwards. ``env`` adds EXPLAINLAB_* settings."""
    port = free_port()
    full_env = {**os.environ, "EXPLAINLAB_THREADS": os.environ.get("EXPLAINLAB_THREADS", "1"), **env}
    command = [sys.executable, "-m", "explainlab", "serve", "--port", str(port), "--log-level", "warning"]
    with open(log, "w") as out:
        process = subprocess.Popen(command, cwd=REPO, env=full_env, stdout=out, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"server exited with {process.returncode}: {log.read_text()[-3000:]}")
                try:
                    if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server did not answer in {timeout} s: {log.read_text()[-3000:]}")
                time.sleep(0.2)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
