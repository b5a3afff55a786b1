"""Shared helpers of the serving benchmarks (bench/serve_latency.py, bench/serve_load.py).

* ``server(url=None, compute=..., threads=...)``: the base URL of a running lab, either the one given with ``--url``
  or a fresh ``python -m explainlab serve`` subprocess on a free loopback port (its own empty runs folder, so the
  permalink store of the checkout is left alone), stopped on exit.
* ``Variants``: distinct images for every measured request. The server caches results by content hash, so request i
  sends MNIST gallery image ``i % 20`` with one pixel changed (position and amount follow from ``i // 20``),
  re-encoded as PNG and base64: 20 x 784 x 255 images before one repeats.
* ``percentile`` (linear interpolation between closest ranks, like numpy's default), ``summary``, ``table``,
  ``write_json``, ``git_commit``, ``pick_mnist_models``, ``timed_post``.

This module starts no torch: the client side of a benchmark stays light.
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

from server.launch import spawn, wait_healthy

REPO = Path(__file__).resolve().parents[1]
GALLERY = REPO / "static" / "gallery"
METHOD_ORDER = ("natural", "pgd_at", "egat")  # the lab's default comparison; other methods follow
N_BASE = 20  # MNIST gallery images used as bases
PIXELS = 28 * 28
DELTAS = 255  # a changed pixel gets +1..+255 (mod 256): never its old value
VARIANTS_PER_BASE = PIXELS * DELTAS
CLIENT_TIMEOUT_S = 300.0

# Idle OpenMP threads of the server sleep instead of spinning (the house default on a shared 2-core machine; export
# OMP_WAIT_POLICY=ACTIVE before starting a benchmark to measure a dedicated machine's best case).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


# ---- statistics --------------------------------------------------------------------------------------------------
def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0..100) by linear interpolation between closest ranks; NaN for no values."""
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be in 0..100, got {p}")
    xs = sorted(values)
    if not xs:
        return math.nan
    pos = (len(xs) - 1) * p / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summary(values: Sequence[float]) -> dict[str, float]:
    """n, mean, p50, p90, p99, min and max of ``values`` (NaN where there are none)."""
    n = len(values)
    return {
        "n": n,
        "mean": sum(values) / n if n else math.nan,
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "min": min(values) if n else math.nan,
        "max": max(values) if n else math.nan,
    }


def ratio(measured: float | None, target: float | None) -> float | None:
    if measured is None or target is None or not target or math.isnan(measured):
        return None
    return measured / target


# ---- output ------------------------------------------------------------------------------------------------------
def fmt(value: Any, digits: int = 1) -> str:
    """Numbers rounded for a table; None and NaN as '-'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], right: Sequence[bool] | None = None) -> str:
    """A plain-text table: the first column left-aligned, the others right-aligned unless ``right`` says so."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    right = list(right) if right is not None else [i > 0 for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right, strict=True)))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def write_json(path: str, data: Any) -> None:
    """``data`` as indented JSON at ``path`` ('-': stdout); NaN becomes null."""
    text = json.dumps(_no_nan(data), indent=2) + "\n"
    if path == "-":
        sys.stdout.write(text)
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text)


def _no_nan(data: Any) -> Any:
    if isinstance(data, float) and math.isnan(data):
        return None
    if isinstance(data, dict):
        return {k: _no_nan(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_no_nan(v) for v in data]
    return data


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO, capture_output=True,
                           text=True, timeout=10)  # fmt: skip
    return out.stdout.strip() + ("+dirty" if dirty.returncode == 0 and dirty.stdout.strip() else "")


def hardware(health: dict[str, Any] | None) -> dict[str, Any]:
    """The machine of the client (and, from /healthz, the server's device and torch threads)."""
    health = health or {}
    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "server_device": health.get("device"),
        "server_torch_threads": health.get("torch_threads"),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "loadavg_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


# ---- distinct images ---------------------------------------------------------------------------------------------
def mnist_gallery(n: int = N_BASE) -> list[np.ndarray]:
    """The first ``n`` MNIST gallery images (index.json order) as uint8 (28, 28) arrays."""
    index = json.loads((GALLERY / "index.json").read_text())
    items = [item for item in index["items"] if item["dataset"] == "mnist"][:n]
    if len(items) < n:
        raise SystemExit(f"static/gallery holds {len(items)} MNIST images, the benchmark needs {n}")
    images = []
    for item in items:
        with Image.open(GALLERY / item["file"]) as img:
            arr = np.array(img.convert("L"), dtype=np.uint8)
        if arr.shape != (28, 28):
            raise SystemExit(f"{item['file']}: expected 28x28, got {arr.shape}")
        images.append(arr)
    return images


def png_bytes(arr: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(arr).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass
class Variants:
    """Image ``i`` (i >= 0) differs from every other image ``j`` and from the gallery originals.

    ``offset`` shifts the whole sequence: a benchmark against a server it did not start (``--url``) picks a random
    one, so that a second run does not meet the first run's cached results.
    """

    offset: int = 0
    bases: list[np.ndarray] = field(default_factory=mnist_gallery)

    def array(self, i: int) -> np.ndarray:
        j = self.offset + i
        if j < 0 or j >= len(self.bases) * VARIANTS_PER_BASE:
            raise ValueError(f"variant {j} out of range")
        base, k = j % len(self.bases), j // len(self.bases)
        pixel, delta = k % PIXELS, 1 + k // PIXELS
        arr = self.bases[base].copy()
        flat = arr.reshape(-1)
        flat[pixel] = (int(flat[pixel]) + delta) % 256
        return arr

    def png(self, i: int) -> bytes:
        return png_bytes(self.array(i))

    def b64(self, i: int) -> str:
        return base64.b64encode(self.png(i)).decode("ascii")


def random_offset() -> int:
    """A start for ``Variants`` far from 0 (leaves room for 10^6 requests before the end of the sequence)."""
    return random.SystemRandom().randrange(1, N_BASE * VARIANTS_PER_BASE - 1_000_000)


# ---- the server --------------------------------------------------------------------------------------------------
@dataclass
class Server:
    url: str
    started: bool  # True: this process started it (and ``env`` holds its EXPLAINLAB_* settings)
    env: dict[str, str]
    log: Path | None = None

    def log_tail(self, chars: int = 3000) -> str:
        if self.log is None or not self.log.is_file():
            return ""
        return self.log.read_text(errors="replace")[-chars:]


@contextmanager
def server(
    url: str | None = None,
    *,
    compute: str = "worker",
    threads: int = 2,
    env: dict[str, str] | None = None,
    startup_timeout: float = 240.0,
) -> Iterator[Server]:
    """The given server (``url``), or a new one started here with ``EXPLAINLAB_COMPUTE=compute`` and
    ``EXPLAINLAB_THREADS=threads`` (other ``EXPLAINLAB_*`` variables of this process are passed on, ``env`` wins)."""
    if url:
        url = url.rstrip("/")
        wait_healthy(url, None, None, 30.0)
        yield Server(url, started=False, env={})
        return
    with tempfile.TemporaryDirectory(prefix="explainlab-bench-") as tmp:
        settings = {
            "EXPLAINLAB_HOST": "127.0.0.1",
            "EXPLAINLAB_RUNS_DIR": str(Path(tmp) / "runs"),
            "EXPLAINLAB_THREADS": str(threads),
            "EXPLAINLAB_COMPUTE": compute,
            **(env or {}),
        }
        log = Path(tmp) / "server.log"
        shown = {**settings, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
        with spawn(settings, log, startup_timeout) as base:
            yield Server(base, started=True, env=shown, log=log)


def client(url: str, timeout: float = CLIENT_TIMEOUT_S) -> httpx.Client:
    """A keep-alive client for ``url`` that ignores proxy variables (loopback only)."""
    return httpx.Client(base_url=url, timeout=timeout, trust_env=False)


def healthz(http: httpx.Client) -> dict[str, Any]:
    response = http.get("/healthz", timeout=10)
    response.raise_for_status()
    return response.json()


def pick_mnist_models(http: httpx.Client, n: int) -> list[str]:
    """Up to ``n`` MNIST model ids of the zoo: the main natural, pgd_at and egat models first (a method's
    representative before its seeds and sweeps), then the others (in /models order)."""
    response = http.get("/models", headers={"Accept": "application/json"})
    response.raise_for_status()
    rows = [r for r in response.json()["models"] if r.get("dataset") == "mnist" and not r.get("error")]
    rank = {m: i for i, m in enumerate(METHOD_ORDER)}
    rows.sort(key=lambda r: (r.get("representative") is False, rank.get(r.get("method"), len(METHOD_ORDER))))
    return [r["id"] for r in rows[:n]]


@dataclass
class Result:
    """One request as the client saw it."""

    status: int
    seconds: float
    body: dict[str, Any] | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.body is not None

    @property
    def cached(self) -> bool | None:
        return None if self.body is None else self.body.get("cached")

    @property
    def server_ms(self) -> float | None:
        return None if self.body is None else self.body.get("total_ms")


def timed_post(http: httpx.Client, path: str, **kwargs: Any) -> Result:
    """POST and read the whole body; ``seconds`` is the client's wall time (send, wait, receive, parse)."""
    start = time.perf_counter()
    try:
        response = http.post(path, **kwargs)
        body = response.json()
        seconds = time.perf_counter() - start
    except (httpx.HTTPError, ValueError) as error:
        return Result(0, time.perf_counter() - start, None, f"{type(error).__name__}: {error}"[:300])
    if not isinstance(body, dict):
        return Result(response.status_code, seconds, None, "the body is not a JSON object")
    return Result(response.status_code, seconds, body)


def explain_body(
    image_b64: str, models: list[str], steps: int = 50, method: str = "integrated_gradients"
) -> dict[str, Any]:
    params = {"steps": steps} if method == "integrated_gradients" else {}
    return {"image": image_b64, "models": models, "method": method, "method_params": params}


def attack_body(image_b64: str, models: list[str], ig_steps: int = 50, pgd_steps: int = 40) -> dict[str, Any]:
    return {
        **explain_body(image_b64, models, ig_steps),
        "attack": "pgd",
        "attack_params": {"eps": 0.3, "steps": pgd_steps, "step_size": 0.01, "restarts": 1},
    }


def start_job(http: httpx.Client, path: str, body: dict[str, Any]) -> str:
    """POST a job (``/jobs/sweep``, ``/jobs/evaluate``) and return its id; anything but 202 is an error."""
    started = http.post(path, json=body)
    if started.status_code != 202:
        raise RuntimeError(f"{path}: {started.status_code} {started.text[:300]}")
    return started.json()["job_id"]


def error_of(result: Result) -> dict[str, Any]:
    """The ``error`` object of an error response ({} when there is none)."""
    error = (result.body or {}).get("error")
    return error if isinstance(error, dict) else {}
