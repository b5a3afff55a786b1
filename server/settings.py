"""Server settings: defaults, overridden by ``EXPLAINLAB_<NAME>`` environment variables, validated once at start."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "EXPLAINLAB_"


class Settings(BaseModel):
    """Every limit of the server is a setting (design.md §7): over a limit -> 4xx, never a slow death."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field("127.0.0.1", description="interface to bind")
    port: int = Field(8000, ge=1, le=65535)
    models: Path = Field(ROOT / "models", description="the zoo: folders with card.json + weights.safetensors")
    templates_dir: Path = ROOT / "templates"
    static_dir: Path = ROOT / "static"
    runs_dir: Path = Field(ROOT / ".cache" / "runs", description="stored runs behind the permalinks")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int = Field(2, ge=1, le=256, description="torch threads of the compute worker")
    max_upload_bytes: int = Field(10 * 2**20, ge=1024, description="largest accepted image file")
    max_pixels: int = Field(25_000_000, ge=64, description="largest accepted image (width x height)")
    max_models: int = Field(8, ge=1, le=64, description="models per request")
    max_gradient_evals: int = Field(
        400_000, ge=1, description="estimated forward/backward passes per request (steps x restarts x explainer)"
    )
    model_cache: int = Field(12, ge=1, description="models kept loaded (LRU)")
    result_cache: int = Field(512, ge=0, description="results kept in memory (LRU)")
    stored_runs: int = Field(2000, ge=1, description="runs kept on disk for permalinks (oldest removed)")
    queue_depth: int = Field(256, ge=1, description="jobs waiting for the compute worker before 503")
    max_batch: int = Field(32, ge=1, le=1024, description="cheap jobs of concurrent requests run as one batch")
    compute: Literal["worker", "inline"] = Field(
        "worker",
        description="worker: one thread owns torch (default); inline: the naive baseline, torch in each "
        "request thread (for bench/serve_load.py only)",
    )
    request_timeout_s: float = Field(120.0, gt=0, description="a request waiting longer answers 503")
    rate_limit: int = Field(
        0, ge=0, description="compute requests a minute per client address, a sweep one per budget (0: no limit)"
    )
    max_jobs: int = Field(2, ge=1, le=64, description="long jobs (eps sweeps) running at once; more answer 429")
    data: Path | None = Field(
        None, description="datasets for test-set runs (the library's EXPLAINLAB_DATA; unset: its per-user cache)"
    )
    job_piece_s: float = Field(
        0.3,
        gt=0,
        le=60,
        description="compute time a test-set run's batch aims at: requests wait about this long behind a running job",
    )
    max_test_images: int = Field(1000, ge=1, le=10_000, description="test images a test-set run may take")
    access_tokens: Path | None = Field(
        None,
        description="token file ('name token' lines): when set, every page and API call needs one of its tokens "
        "(a lab shown to others; re-read when it changes). Unset: open to whoever reaches the port",
    )
    job_history: int = Field(64, ge=1, description="finished jobs kept in memory (each is also stored with the runs)")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults < ``EXPLAINLAB_*`` variables < keyword overrides; a bad value names the variable."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name in cls.model_fields:
            key = ENV_PREFIX + name.upper()
            if key in environ:
                values[name] = environ[key]
        values.update(overrides)
        try:
            return cls(**values)
        except ValidationError as error:
            first = error.errors()[0]
            name = str(first["loc"][0]) if first["loc"] else "?"
            raise ValueError(f"setting {ENV_PREFIX}{name.upper()}: {first['msg']}") from None
