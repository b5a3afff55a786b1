"""A naturally trained MNIST SmallCNN on the real data, trained once and cached as safetensors under .cache/."""

from __future__ import annotations

import hashlib
import inspect
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from explainlab.data import load_dataset
from explainlab.nets import build_model
from explainlab.training import simple_fit

CACHE = Path(__file__).resolve().parents[2] / ".cache" / "tests"
MNIST_MEAN, MNIST_STD = [0.1307], [0.3081]


def _recipe_key() -> str:
    source = inspect.getsource(simple_fit) + inspect.getsource(build_model)
    return hashlib.sha256(source.encode()).hexdigest()[:12]


@pytest.fixture(scope="session")
def mnist_test(shared_data: Path) -> tuple[torch.Tensor, torch.Tensor]:
    test = load_dataset("mnist", "test", data_dir=shared_data)
    return test.float_images(), test.labels


@pytest.fixture(scope="session")
def natural_mnist(shared_data: Path) -> nn.Module:
    """SmallCNN, 1 epoch of natural training on the 60k MNIST training images (about 99 % test accuracy)."""
    model = build_model("small_cnn", MNIST_MEAN, MNIST_STD)
    weights = CACHE / f"mnist_small_cnn_natural_{_recipe_key()}.safetensors"
    if weights.exists():
        model.load_state_dict(load_file(weights))
    else:
        train = load_dataset("mnist", "train", data_dir=shared_data)
        torch.manual_seed(0)
        model = build_model("small_cnn", MNIST_MEAN, MNIST_STD)
        simple_fit.train_natural(model, train.float_images(), train.labels, epochs=1, seed=0)
        CACHE.mkdir(parents=True, exist_ok=True)
        save_file(model.state_dict(), weights)
    return model.eval()
