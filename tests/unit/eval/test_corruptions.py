"""Corruptions keep shape, dtype and [0, 1], are reproducible per seed, and grow with severity."""

from __future__ import annotations

import pytest
import torch

from explainlab.eval.corruptions import CORRUPTIONS, SEVERITIES, corrupt, resolution, severity_table


@pytest.fixture(params=[(2, 1, 28, 28), (2, 3, 32, 32)], ids=["28px", "32px"])
def images(request: pytest.FixtureRequest) -> torch.Tensor:
    return torch.rand(request.param, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_shape_range_and_severity_order(name: str, images: torch.Tensor) -> None:
    original = images.clone()
    distances = []
    for severity in (1, 2, 3):
        out = corrupt(images, name, severity, seed=1)
        assert out.shape == images.shape and out.dtype == images.dtype
        assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
        assert torch.equal(out, corrupt(images, name, severity, seed=1)), "same seed, same result"
        distances.append(float((out - images).abs().mean()))
    assert torch.equal(images, original), "input modified"
    assert 0 < distances[0] < distances[1] < distances[2], distances


def test_tables_are_complete_and_documented() -> None:
    import explainlab.eval.corruptions as module

    for column in SEVERITIES.values():
        assert set(column) == set(CORRUPTIONS)
        assert all(len(v) == 3 for v in column.values())
    for name in CORRUPTIONS:
        assert name in module.__doc__


def test_resolution_columns() -> None:
    assert resolution((1, 1, 28, 28)) == "28px" and resolution((1, 3, 32, 32)) == "32px"
    assert severity_table((1, 1, 8, 8)) is SEVERITIES["28px"]


def test_bad_arguments() -> None:
    x = torch.rand(1, 1, 8, 8)
    with pytest.raises(ValueError, match="unknown corruption"):
        corrupt(x, "fog", 1)
    with pytest.raises(ValueError, match="severity"):
        corrupt(x, "contrast", 4)
    with pytest.raises(ValueError, match="expected float images"):
        corrupt(x[0], "contrast", 1)
