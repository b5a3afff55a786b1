"""Eval-test world: a SmallCNN trained for a few steps on synthetic 28x28 blobs, stored with a card in a tmp zoo,
and its synthetic test split written as MNIST IDX files so that ``load_dataset("mnist", data_dir=...)`` finds it."""

from __future__ import annotations

import gzip
import struct
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from explainlab.data import synthetic_dataset
from explainlab.eval.benchmark import EvalSettings
from explainlab.eval.checks import CheckSettings
from explainlab.nets import build_model
from explainlab.zoo import ModelCard, ThreatModel, save_model

MODEL_ID = "mnist-small_cnn-natural-s0"


def write_idx(path: Path, array: np.ndarray) -> None:
    """A gzipped IDX file of a uint8 array (magic 0x08 << 8 | ndim, big-endian dims)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(f">I{array.ndim}I", 0x0800 | array.ndim, *array.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(header + array.tobytes()))


def _tiny_settings(**overrides: object) -> EvalSettings:
    """Settings small enough for a unit test (seconds on one thread)."""
    base: dict = {
        "n_eval": 40, "n_attribution": 6, "n_gini": 6, "pgd_steps": 5, "pgd_restarts": 1, "apgd_steps": 5,
        "gini_ig_steps": 8, "rar": {"steps": 2, "restarts": 1, "attack_ig_steps": 2, "ig_steps": 8},
        "checks": CheckSettings(n=20, sweep_steps=5, blackbox_n=10, blackbox_queries=20),
    }  # fmt: skip
    return EvalSettings(**{**base, **overrides})


@pytest.fixture(scope="session")
def tiny_settings() -> Callable[..., EvalSettings]:
    """``tiny_settings(**overrides)``: EvalSettings small enough for a unit test (seconds on one thread)."""
    return _tiny_settings


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    root = tmp_path_factory.mktemp("world")
    torch.manual_seed(0)
    train = synthetic_dataset("blobs", n=400, size=28, classes=10, seed=0)
    test = synthetic_dataset("blobs", n=60, size=28, classes=10, seed=1, split="test")
    model = build_model("small_cnn", [0.1307], [0.3081])
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    x, y = train.float_images(), train.labels
    model.train()
    for _ in range(3):
        for i in range(0, len(y), 50):
            loss = F.cross_entropy(model(x[i : i + 50]), y[i : i + 50])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    card = ModelCard(
        id=MODEL_ID, title="tiny test model", dataset="mnist", net="small_cnn", classes=[str(i) for i in range(10)],
        input_size=[1, 28, 28], mean=[0.1307], std=[0.3081], method="natural", threat_model=ThreatModel(eps=0.0),
        train_seconds=1.5, hardware="CPU (test)",
    )  # fmt: skip
    models_dir = root / "models"
    save_model(models_dir / MODEL_ID, model, card)
    data_dir = root / "data"
    write_idx(data_dir / "mnist" / "t10k-images-idx3-ubyte.gz", test.images[:, 0].numpy())
    write_idx(data_dir / "mnist" / "t10k-labels-idx1-ubyte.gz", test.labels.numpy())
    return SimpleNamespace(
        root=root, models_dir=models_dir, model_dir=models_dir / MODEL_ID, data_dir=data_dir, model=model, card=card,
        x=test.float_images(), y=test.labels,
    )  # fmt: skip
