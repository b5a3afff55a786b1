"""Synthetic datasets: deterministic per seed, balanced, and learnable by a trivial classifier."""

from __future__ import annotations

import pytest
import torch

from explainlab.data import synthetic_dataset


@pytest.mark.parametrize("kind", ["blobs", "stripes"])
def test_deterministic_and_shaped(kind):
    a = synthetic_dataset(kind, n=30, channels=3, size=12, classes=5, seed=7)
    b = synthetic_dataset(kind, n=30, channels=3, size=12, classes=5, seed=7)
    c = synthetic_dataset(kind, n=30, channels=3, size=12, classes=5, seed=8)
    assert a.images.shape == (30, 3, 12, 12) and a.images.dtype == torch.uint8
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.images, c.images)
    assert a.histogram() == [6, 6, 6, 6, 6]
    assert a.classes == tuple(f"class_{i}" for i in range(5)) and a.source.startswith("synthetic:")


@pytest.mark.parametrize("kind, size, classes", [("blobs", 8, 3), ("blobs", 16, 10), ("stripes", 8, 4)])
def test_learnable_by_nearest_centroid(kind, size, classes):
    train = synthetic_dataset(kind, n=200, size=size, classes=classes, seed=0)
    test = synthetic_dataset(kind, n=100, size=size, classes=classes, seed=1)
    if kind == "stripes":  # phase varies, so compare spectra; the period and orientation decide the class
        feats = [torch.fft.fft2(d.float_images()[:, 0]).abs().flatten(1) for d in (train, test)]
    else:
        feats = [d.float_images().flatten(1) for d in (train, test)]
    centroids = torch.stack([feats[0][train.labels == c].mean(0) for c in range(classes)])
    pred = torch.cdist(feats[1], centroids).argmin(1)
    assert (pred == test.labels).float().mean() >= 0.9


def test_invalid_arguments():
    with pytest.raises(ValueError, match="unknown synthetic kind"):
        synthetic_dataset("noise")
    with pytest.raises(ValueError):
        synthetic_dataset(n=0)
    with pytest.raises(ValueError, match="too small"):
        synthetic_dataset("blobs", size=2, classes=10)
