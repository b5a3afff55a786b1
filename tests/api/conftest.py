"""API test world: a tiny zoo of three untrained SmallCNNs (MNIST-shaped) in a temp folder, served for real."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import torch

from explainlab.nets import build_model
from explainlab.zoo.card import ModelCard, ThreatModel
from explainlab.zoo.store import save_model
from tests.live_server import live_server
from tests.unit.data.conftest import write_mnist_like

METHODS = ("natural", "pgd_at", "egat")
TEST_IMAGES = 60  # MNIST-shaped random test images in the server's data folder (a partial copy: the loader warns)
MAX_TEST_IMAGES = 50  # EXPLAINLAB_MAX_TEST_IMAGES of the test server


def tiny_zoo(root: Path) -> list[str]:
    ids = []
    for seed, method in enumerate(METHODS):
        torch.manual_seed(seed)
        model = build_model("small_cnn", [0.1307], [0.3081])
        card = ModelCard(
            id=f"tiny-{method}",
            title=f"tiny {method} (untrained)",
            dataset="mnist",
            net="small_cnn",
            classes=[str(i) for i in range(10)],
            input_size=[1, 28, 28],
            mean=[0.1307],
            std=[0.3081],
            method=method,
            threat_model=ThreatModel(norm="linf", eps=0.3),
            seed=seed,
        )
        save_model(root / card.id, model, card)
        ids.append(card.id)
    (root / "broken").mkdir()
    (root / "broken" / "card.json").write_text("{not json")
    return ids


@pytest.fixture(scope="session")
def zoo_ids(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    root = tmp_path_factory.mktemp("zoo")
    return root, tiny_zoo(root)


@pytest.fixture(scope="session")
def server(zoo_ids: tuple[Path, list[str]], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root, _ = zoo_ids
    runs = tmp_path_factory.mktemp("runs")
    data = write_mnist_like(tmp_path_factory.mktemp("data") / "mnist", n_train=10, n_test=TEST_IMAGES).parent
    env = {"EXPLAINLAB_MODELS": str(root), "EXPLAINLAB_RUNS_DIR": str(runs), "EXPLAINLAB_MAX_GRADIENT_EVALS": "50000",
           "EXPLAINLAB_DATA": str(data), "EXPLAINLAB_MAX_TEST_IMAGES": str(MAX_TEST_IMAGES)}  # fmt: skip
    with live_server(env, runs / "server.log") as base:
        yield base


@pytest.fixture(scope="session")
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=60) as c:
        yield c


@pytest.fixture(scope="session")
def ids(zoo_ids: tuple[Path, list[str]]) -> list[str]:
    return zoo_ids[1]
