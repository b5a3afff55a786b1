"""Run the lab as a subprocess on a free loopback port and wait until it answers (used by the tests and bench/)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(
    url: str, process: subprocess.Popen | None = None, log: Path | None = None, timeout: float = 90
) -> None:
    """Poll ``url``/healthz until it answers 200; fail early (with the log's tail) if the process exits."""
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log else ""
            raise RuntimeError(f"the server exited with {process.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server at {url} did not answer /healthz within {timeout:.0f} s")
        time.sleep(0.2)


@contextmanager
def spawn(env: dict[str, str], log: Path, timeout: float = 90.0) -> Iterator[str]:
    """``explainlab serve`` with this process's environment plus ``env`` (EXPLAINLAB_* settings); yields the base URL
    and stops the server afterwards."""
    port = free_port()
    full_env = {**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE"), **env}
    command = [sys.executable, "-m", "explainlab", "serve", "--port", str(port), "--log-level", "warning"]
    with open(log, "w") as out:
        process = subprocess.Popen(command, cwd=REPO, env=full_env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, process, log, timeout)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
