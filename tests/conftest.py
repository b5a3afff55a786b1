"""Test world: runtime settings, seeds, tiny nets and tiny images built here (no network, no downloads)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch import nn

from explainlab.nets import Normalized
from explainlab.runtime import configure_runtime

configure_runtime()

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("EXPLAINLAB_SHARED_DATA", REPO.parent / "shared" / "data"))


class TinyCNN(nn.Module):
    """conv4-relu-pool-fc: small enough for closed-form-ish checks, with a conv layer for Grad-CAM."""

    cam_layer = "relu1"

    def __init__(self, channels: int = 1, size: int = 8, classes: int = 3) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 4, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.pool = nn.AvgPool2d(2)
        self.fc = nn.Linear(4 * (size // 2) ** 2, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.relu1(self.conv1(x))).flatten(1))


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture
def tiny_model() -> nn.Module:
    """A 1x8x8 -> 3 class CNN wrapped in Normalized, in eval mode."""
    torch.manual_seed(0)
    return Normalized(TinyCNN(), [0.5], [0.5]).eval()


@pytest.fixture
def tiny_rgb_model() -> nn.Module:
    """A 3x8x8 -> 3 class CNN wrapped in Normalized, in eval mode."""
    torch.manual_seed(0)
    return Normalized(TinyCNN(channels=3), [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]).eval()


@pytest.fixture
def tiny_images() -> torch.Tensor:
    """(4, 1, 8, 8) float images in [0, 1]."""
    return torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(1))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real datasets beside the checkout (../shared/data). Missing data skips locally but fails in CI."""
    if not SHARED_DATA.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"real data not found at {SHARED_DATA} (CI must have ../shared/data)")
        pytest.skip(f"real data not found at {SHARED_DATA}")
    return SHARED_DATA
