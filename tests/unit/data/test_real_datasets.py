"""The real datasets in ../shared/data (skipped loudly when absent): counts, class histograms, shapes, hashes."""

from __future__ import annotations

import time

import pytest
import torch

from explainlab.data import DOWNLOADS, describe_data, label_histogram, load_dataset
from explainlab.data.idx import content_sha256
from explainlab.errors import DataNotFoundError

MNIST_TRAIN = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="session")
def cifar_cache(tmp_path_factory):
    """One decode cache for the session: the first CIFAR-10 load decodes 60k JPEGs, later ones read the .npz."""
    return tmp_path_factory.mktemp("cifar-xdg-cache")


def test_mnist(shared_data):
    train = load_dataset("mnist", "train", data_dir=shared_data)
    test = load_dataset("mnist", "test", data_dir=shared_data)
    assert (len(train), len(test)) == (60000, 10000)
    assert train.images.shape == (60000, 1, 28, 28) and train.images.dtype == torch.uint8
    assert label_histogram(test) == MNIST_TEST
    assert train.histogram() == MNIST_TRAIN
    x = train.float_images()
    assert abs(float(x.mean()) - 0.1307) < 1e-3 and abs(float(x.std()) - 0.3081) < 1e-3


def test_mnist_content_hashes_match_the_download_table(shared_data):
    for remote in DOWNLOADS["mnist"]:
        assert content_sha256(shared_data / "mnist" / remote.filename) == remote.sha256, remote.filename


def test_fashion_mnist_partial(shared_data):
    train = load_dataset("fashion_mnist", "train", data_dir=shared_data)
    test = load_dataset("fashion_mnist", "test", data_dir=shared_data)
    assert (len(train), len(test)) == (1813, 1770)
    assert train.source.endswith("fashion-mnist-partial") and train.shape == (1, 28, 28)
    assert train.histogram() == [174, 196, 178, 180, 172, 182, 175, 194, 179, 183]
    assert test.histogram() == [174, 176, 194, 166, 201, 173, 183, 171, 166, 166]


def test_cifar10_from_the_jpeg_zip(shared_data, cifar_cache, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(cifar_cache))
    start = time.perf_counter()
    train = load_dataset("cifar10", "train", data_dir=shared_data)
    cold = time.perf_counter() - start
    test = load_dataset("cifar10", "test", data_dir=shared_data)
    assert (len(train), len(test)) == (50000, 10000)
    assert train.shape == (3, 32, 32) and test.images.shape == (10000, 3, 32, 32)
    assert train.histogram() == [5000] * 10 and test.histogram() == [1000] * 10
    assert train.classes[0] == "airplane" and train.source.endswith("cifar10-jpg.zip")
    mean = train.subset(slice(None, None, 5)).float_images().mean(dim=(0, 2, 3))  # every 5th: all classes
    assert torch.allclose(mean, torch.tensor([0.4913, 0.4821, 0.4465]), atol=0.005)  # README: JPEG copy's mean
    start = time.perf_counter()
    again = load_dataset("cifar10", "train", data_dir=shared_data)
    warm = time.perf_counter() - start
    assert torch.equal(again.images, train.images) and torch.equal(again.labels, train.labels)
    assert warm < cold
    print(f"CIFAR-10 train: cold {cold:.1f} s, warm {warm:.2f} s")


def test_describe_shared(shared_data):
    rows = {r["name"]: r for r in describe_data(shared_data)}
    assert rows["mnist"]["counts"] == {"train": 60000, "test": 10000} and rows["mnist"]["complete"]
    assert rows["fashion_mnist"]["counts"] == {"train": 1813, "test": 1770} and not rows["fashion_mnist"]["complete"]
    assert rows["cifar10"]["counts"] == {"train": 50000, "test": 10000}
    assert rows["cifar10"]["splits"]["train"]["format"] == "image-folder"


def test_missing_dataset_in_empty_dirs(tmp_path, monkeypatch, _isolated_data_env):
    monkeypatch.setenv("EXPLAINLAB_DATA", str(tmp_path / "empty"))
    with pytest.raises(DataNotFoundError) as info:
        load_dataset("mnist", "train")
    msg = str(info.value)
    assert "train-images-idx3-ubyte.gz" in msg and "train-labels-idx1-ubyte.gz" in msg
    assert str(tmp_path / "empty" / "mnist") in msg and str(_isolated_data_env / "explainlab" / "data") in msg
    assert "--data-dir" in msg and "EXPLAINLAB_DATA" in msg
