"""ImageDataset invariants, float conversion, subsets and label histograms."""

from __future__ import annotations

import pytest
import torch

from explainlab.data import ImageDataset, label_histogram


def _ds(n: int = 6) -> ImageDataset:
    images = torch.arange(n * 4, dtype=torch.uint8).reshape(n, 1, 2, 2) * 10
    return ImageDataset("toy", "train", images, torch.arange(n) % 3, ("a", "b", "c"), "test")


def test_basic_properties():
    ds = _ds()
    assert len(ds) == 6 and ds.shape == (1, 2, 2)
    x = ds.float_images()
    assert x.dtype == torch.float32 and x.shape == (6, 1, 2, 2)
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    assert torch.allclose(x * 255, ds.images.float())
    assert "n=6" in repr(ds)


def test_float_images_does_not_alias_uint8_storage():
    ds = _ds()
    ds.float_images().zero_()
    assert int(ds.images.sum()) > 0


def test_subset_and_histogram():
    ds = _ds()
    sub = ds.subset([0, 3])
    assert len(sub) == 2 and sub.labels.tolist() == [0, 0]
    assert ds.subset(slice(0, 2)).labels.tolist() == [0, 1]
    assert ds.histogram() == [2, 2, 2]
    assert label_histogram(torch.tensor([0, 2, 2]), 4) == [1, 0, 2, 0]
    assert label_histogram(torch.tensor([1, 1])) == [0, 2]
    assert label_histogram(ds) == [2, 2, 2]


@pytest.mark.parametrize(
    "images, labels",
    [
        (torch.zeros(2, 1, 2, 2), torch.zeros(2, dtype=torch.int64)),  # float images
        (torch.zeros(2, 2, 2, dtype=torch.uint8), torch.zeros(2, dtype=torch.int64)),  # not NCHW
        (torch.zeros(2, 1, 2, 2, dtype=torch.uint8), torch.zeros(3, dtype=torch.int64)),  # length mismatch
        (torch.zeros(2, 1, 2, 2, dtype=torch.uint8), torch.tensor([0, 5])),  # label out of range
        (torch.zeros(2, 1, 2, 2, dtype=torch.uint8), torch.zeros(2, dtype=torch.int32)),  # wrong label dtype
    ],
)
def test_invalid_datasets_are_refused(images, labels):
    with pytest.raises(ValueError):
        ImageDataset("x", "train", images, labels, ("a", "b"), "test")


def test_frozen():
    ds = _ds()
    with pytest.raises(AttributeError):
        ds.name = "other"  # type: ignore[misc]
