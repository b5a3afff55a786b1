"""A lab shown in public: EXPLAINLAB_RATE_LIMIT caps compute requests per client over real HTTP (429 with
Retry-After), a sweep costs one per budget, reads are never limited, and clients behind a local proxy are told apart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.live_server import live_server

pytestmark = pytest.mark.xdist_group("api")


@pytest.fixture(scope="module")
def limited(zoo_ids: tuple[Path, list[str]], tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    root, _ = zoo_ids
    runs = tmp_path_factory.mktemp("runs-limited")
    env = {"EXPLAINLAB_MODELS": str(root), "EXPLAINLAB_RUNS_DIR": str(runs), "EXPLAINLAB_RATE_LIMIT": "8"}
    with live_server(env, runs / "server.log") as base, httpx.Client(base_url=base, timeout=60) as client:
        yield client


def test_compute_requests_are_capped_per_client(limited: httpx.Client, ids: list[str]) -> None:
    body = {"gallery": "mnist-1", "models": ids[:1], "method": "saliency"}
    assert all(limited.post("/explain", json=body).status_code == 200 for _ in range(8))
    refused = limited.post("/attack", json={**body, "attack": "fgsm"})
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 8 and "at most 8 a minute" in refused.json()["error"]["message"]
    # reads cost nothing, and the server keeps serving
    assert limited.get("/models").status_code == 200 and limited.get("/healthz").json()["status"] == "ok"
    # behind a reverse proxy on this host (uvicorn trusts 127.0.0.1's X-Forwarded-For) each client has its own bucket
    other = limited.post("/explain", json=body, headers={"x-forwarded-for": "203.0.113.7"})
    assert other.status_code == 200


def test_a_sweep_bigger_than_the_budget_is_refused_with_advice(limited: httpx.Client, ids: list[str]) -> None:
    body = {"gallery": "mnist-2", "models": ids[:1], "attack": "fgsm", "eps": [0.01 * i for i in range(1, 10)]}
    refused = limited.post("/jobs/sweep", json=body)
    assert refused.status_code == 429 and "send fewer budgets" in refused.json()["error"]["message"]
