"""Dataset resolution: search order, accepted layouts, helpful not-found errors, specs and describe_data."""

from __future__ import annotations

import pytest

from explainlab.data import DATASETS, data_roots, default_data_root, describe_data, get_spec, load_dataset
from explainlab.errors import DataNotFoundError, UnknownNameError


def test_roots_in_order_without_duplicates(tmp_path, monkeypatch, _isolated_data_env):
    monkeypatch.setenv("EXPLAINLAB_DATA", f"{tmp_path / 'env1'}:{tmp_path / 'env2'}")
    roots = data_roots(tmp_path / "explicit")
    assert [r for r, _ in roots] == [
        tmp_path / "explicit",
        tmp_path / "env1",
        tmp_path / "env2",
        _isolated_data_env / "explainlab" / "data",
    ]
    assert default_data_root() == _isolated_data_env / "explainlab" / "data"
    assert len(data_roots(_isolated_data_env / "explainlab" / "data")) == 3  # the cache is not listed twice


@pytest.mark.parametrize("layout", ["mnist", "MNIST/raw"])
@pytest.mark.parametrize("gz", [True, False])
def test_mnist_layouts(tmp_path, mk, layout, gz):
    mk.write_mnist_like(tmp_path / layout, n_train=20, n_test=10, gz=gz)
    train = load_dataset("mnist", "train", data_dir=tmp_path)
    test = load_dataset("MNIST", "test", data_dir=tmp_path)
    assert (len(train), len(test)) == (20, 10)
    assert train.images.shape[1:] == (1, 28, 28) and train.classes == tuple("0123456789")
    assert train.name == "mnist" and train.source == str(tmp_path / layout)


def test_fashion_layouts_prefer_full_over_partial(tmp_path, mk):
    mk.write_mnist_like(tmp_path / "fashion-mnist-partial", n_train=5, n_test=5)
    assert len(load_dataset("fashion-mnist", "train", data_dir=tmp_path)) == 5
    mk.write_mnist_like(tmp_path / "fashion-mnist", n_train=8, n_test=5)
    ds = load_dataset("fashion_mnist", "train", data_dir=tmp_path)
    assert len(ds) == 8 and ds.classes[0] == "T-shirt/top"


def test_search_order_data_dir_env_cache(tmp_path, mk, monkeypatch, _isolated_data_env):
    mk.write_mnist_like(_isolated_data_env / "explainlab" / "data" / "mnist", n_train=3)
    assert len(load_dataset("mnist", "train")) == 3
    mk.write_mnist_like(tmp_path / "env" / "mnist", n_train=4)
    monkeypatch.setenv("EXPLAINLAB_DATA", str(tmp_path / "env"))
    assert len(load_dataset("mnist", "train")) == 4
    mk.write_mnist_like(tmp_path / "explicit" / "mnist", n_train=5)
    assert len(load_dataset("mnist", "train", data_dir=tmp_path / "explicit")) == 5


def test_cifar_prefers_pickle_then_tarball_then_zip(tmp_path, mk):
    from explainlab.data.cifar_pickle import CIFAR10_CLASSES

    files = mk.image_folder_files(classes=CIFAR10_CLASSES, per_class=1, size=32)
    mk.write_zip(tmp_path / "cifar10-jpg.zip", files)
    ds = load_dataset("cifar10", "train", data_dir=tmp_path)
    assert len(ds) == 10 and ds.source.endswith("cifar10-jpg.zip") and ds.shape == (3, 32, 32)
    batches = mk.write_cifar_batches(tmp_path / "tar-src", per_batch=2)
    mk.make_tarball(batches, tmp_path / "cifar-10-python.tar.gz")
    ds = load_dataset("cifar-10", "train", data_dir=tmp_path)
    assert len(ds) == 10 and ds.source.endswith("cifar-10-python.tar.gz")
    mk.write_cifar_batches(tmp_path, per_batch=3)
    ds = load_dataset("cifar10", "test", data_dir=tmp_path)
    assert len(ds) == 3 and ds.source.endswith("cifar-10-batches-py")


def test_cifar_zip_with_wrong_classes_is_refused(tmp_path, mk):
    from explainlab.errors import DataIntegrityError

    mk.write_zip(tmp_path / "cifar10-jpg.zip", mk.image_folder_files(size=32))
    with pytest.raises(DataIntegrityError, match="not the CIFAR-10 classes"):
        load_dataset("cifar10", "train", data_dir=tmp_path)


def test_image_folder_by_path(tmp_path, mk):
    path = mk.write_zip(tmp_path / "mine.zip", mk.image_folder_files())
    ds = load_dataset("image_folder", "test", data_dir=path)
    assert len(ds) == 9 and ds.name == "mine"
    with pytest.raises(DataNotFoundError, match="needs data_dir"):
        load_dataset("image_folder", "train")


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10"])
def test_missing_dataset_message(tmp_path, monkeypatch, name, _isolated_data_env):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("EXPLAINLAB_DATA", str(empty))
    with pytest.raises(DataNotFoundError) as info:
        load_dataset(name, "test", data_dir=tmp_path / "given")
    msg = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    for expected in ("--data-dir", "EXPLAINLAB_DATA", "download=True", str(tmp_path / "given"), str(empty)):
        assert expected in msg
    assert str(_isolated_data_env / "explainlab" / "data") in msg
    if name == "cifar10":
        assert "test_batch" in msg and "cifar-10-python.tar.gz" in msg and "cifar10-jpg.zip" in msg
    else:
        assert "t10k-images-idx3-ubyte.gz" in msg and "t10k-labels-idx1-ubyte.gz" in msg
        assert str(empty / get_spec(name).dirs[0]) in msg
    assert not (_isolated_data_env / "explainlab").exists()  # looking does not create anything


def test_half_present_split_names_what_is_missing(tmp_path, mk):
    folder = mk.write_mnist_like(tmp_path / "mnist")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    assert len(load_dataset("mnist", "train", data_dir=tmp_path)) == 20
    with pytest.raises(DataNotFoundError, match="t10k-labels-idx1-ubyte.gz"):
        load_dataset("mnist", "test", data_dir=tmp_path)


def test_unknown_names():
    with pytest.raises(UnknownNameError, match="valid: mnist, fashion_mnist, cifar10, image_folder"):
        load_dataset("imagenet")
    with pytest.raises(UnknownNameError, match="split"):
        load_dataset("mnist", "validation")


def test_specs():
    assert get_spec("mnist").mean == (0.1307,) and get_spec("mnist").std == (0.3081,)
    assert get_spec("Fashion-MNIST").mean == (0.2860,) and get_spec("fashion_mnist").std == (0.3530,)
    cifar = get_spec("cifar10")
    assert cifar.mean == (0.4914, 0.4822, 0.4465) and cifar.std == (0.2470, 0.2435, 0.2616)
    assert cifar.input_shape == (3, 32, 32) and cifar.classes[0] == "airplane" and cifar.classes[-1] == "truck"
    for spec in DATASETS.values():
        assert len(spec.classes) == 10 and len(spec.mean) == len(spec.std) == spec.input_shape[0]


def test_describe_data(tmp_path, mk):
    mk.write_mnist_like(tmp_path / "mnist", n_train=20, n_test=10)
    mk.write_cifar_batches(tmp_path, per_batch=2)
    rows = {r["name"]: r for r in describe_data(tmp_path)}
    assert set(rows) == {"mnist", "fashion_mnist", "cifar10"}
    assert rows["mnist"]["found"] and rows["mnist"]["counts"] == {"train": 20, "test": 10}
    assert rows["mnist"]["splits"]["train"]["location"] == str(tmp_path / "mnist")
    assert not rows["mnist"]["complete"]
    assert rows["cifar10"]["counts"] == {"train": 10, "test": 2}
    assert rows["cifar10"]["splits"]["test"]["format"] == "cifar-pickle"
    assert not rows["fashion_mnist"]["found"] and rows["fashion_mnist"]["counts"] == {"train": None, "test": None}
    assert rows["fashion_mnist"]["searched"][0] == str(tmp_path)
