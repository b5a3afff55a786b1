"""Image folders (directory or zip): layout, labels, channels, errors, and the .npz decode cache."""

from __future__ import annotations

import os
import zipfile

import numpy as np
import pytest

from explainlab.data import image_folder, load_image_folder
from explainlab.errors import DataIntegrityError, DataNotFoundError


@pytest.fixture(params=["dir", "zip"])
def folder(request, tmp_path, mk):
    files = mk.image_folder_files(classes=("cat", "ant", "bee"), per_class=3, size=6)
    if request.param == "zip":
        return mk.write_zip(tmp_path / "pets.zip", files)
    return mk.write_tree(tmp_path / "pets", files)


def test_layout_labels_and_pixels(folder):
    train = load_image_folder(folder, "train")
    test = load_image_folder(folder, "test")
    assert train.classes == ("ant", "bee", "cat")  # sorted alphabetically
    assert train.images.shape == (9, 3, 6, 6) and len(test) == 9
    # pixel value 10 * (index in the given order) + i; cat was written first (value 0..2) and is label 2
    values = train.images[:, 0, 0, 0].tolist()
    labels = train.labels.tolist()
    assert dict(zip(values, labels, strict=True)) == {10: 0, 11: 0, 12: 0, 20: 1, 21: 1, 22: 1, 0: 2, 1: 2, 2: 2}
    assert test.images[:, 0, 0, 0].min() >= 100
    assert train.name == "pets" and train.source == str(folder)


def test_grayscale_gives_one_channel(tmp_path, mk):
    path = mk.write_zip(tmp_path / "g.zip", mk.image_folder_files(rgb=False, size=5))
    ds = load_image_folder(path, "train")
    assert ds.images.shape == (9, 1, 5, 5)


def test_mixed_gray_and_rgb_gives_rgb(tmp_path, mk):
    files = mk.image_folder_files(rgb=False, size=4)
    files["train/ant/0001.png"] = mk.png_bytes(np.full((4, 4, 3), 77))
    ds = load_image_folder(mk.write_tree(tmp_path / "m", files), "train")
    assert ds.images.shape[1] == 3
    gray = ds.images[ds.labels == 2][0]
    assert bool((gray[0] == gray[1]).all() and (gray[1] == gray[2]).all())


def test_top_level_folder_and_junk_are_tolerated(tmp_path, mk):
    files = {f"top/{k}": v for k, v in mk.image_folder_files().items()}
    files["top/README.txt"] = b"hello"
    files["__MACOSX/top/train/cat/._0000.png"] = b"junk"
    files["top/train/cat/.hidden.png"] = b"junk"
    ds = load_image_folder(mk.write_zip(tmp_path / "t.zip", files), "test")
    assert len(ds) == 9 and ds.classes == ("ant", "bee", "cat")


def test_size_mismatch_is_an_integrity_error(tmp_path, mk):
    files = mk.image_folder_files(size=6)
    files["train/cat/0009.png"] = mk.png_bytes(np.zeros((7, 6, 3)))
    with pytest.raises(DataIntegrityError, match="0009.png is 6x7"):
        load_image_folder(mk.write_tree(tmp_path / "s", files), "train", cache=False)


def test_undecodable_image(tmp_path, mk):
    files = mk.image_folder_files()
    files["train/cat/0005.jpg"] = b"not a jpeg"
    with pytest.raises(DataIntegrityError, match="cannot decode train/cat/0005.jpg"):
        load_image_folder(mk.write_zip(tmp_path / "u.zip", files), "train")


def test_missing_split_path_and_bad_file(tmp_path, mk):
    only_train = {k: v for k, v in mk.image_folder_files().items() if k.startswith("train/")}
    path = mk.write_zip(tmp_path / "o.zip", only_train)
    with pytest.raises(DataNotFoundError, match="no 'test/<class>/<image>' entries"):
        load_image_folder(path, "test")
    with pytest.raises(DataNotFoundError, match="does not exist"):
        load_image_folder(tmp_path / "nope.zip", "train")
    (tmp_path / "fake.zip").write_bytes(b"PK not really")
    with pytest.raises(DataIntegrityError, match="zip"):
        load_image_folder(tmp_path / "fake.zip", "train")


def test_cache_is_written_reused_and_invalidated(tmp_path, mk, monkeypatch, _isolated_data_env):
    path = mk.write_zip(tmp_path / "c.zip", mk.image_folder_files())
    first = load_image_folder(path, "train")
    cached = list((_isolated_data_env / "explainlab" / "image_folder").glob("c-*-train.npz"))
    assert len(cached) == 1
    with np.load(cached[0], allow_pickle=False) as z:  # plain arrays only, no pickles
        assert set(z.files) == {"version", "images", "labels", "classes"}

    def no_decode(*args, **kwargs):
        raise AssertionError("decoded again despite a valid cache")

    monkeypatch.setattr(image_folder, "_decode_split", no_decode)
    second = load_image_folder(path, "train")
    assert np.array_equal(first.images.numpy(), second.images.numpy()) and second.classes == first.classes
    assert second.labels.tolist() == first.labels.tolist()

    # a changed zip (new size / mtime) has a new key, so it is decoded again
    files = mk.image_folder_files(per_class=4)
    mk.write_zip(path, files)
    os.utime(path, ns=(1, 1))
    with pytest.raises(AssertionError, match="decoded again"):
        load_image_folder(path, "train")


def test_corrupt_cache_is_ignored(tmp_path, mk, _isolated_data_env):
    path = mk.write_zip(tmp_path / "c.zip", mk.image_folder_files())
    load_image_folder(path, "test")
    (cache_file,) = (_isolated_data_env / "explainlab" / "image_folder").glob("*.npz")
    cache_file.write_bytes(b"garbage")
    ds = load_image_folder(path, "test")
    assert len(ds) == 9
    assert zipfile.is_zipfile(cache_file)  # rewritten as a valid npz


def test_cache_can_be_disabled_or_redirected(tmp_path, mk, _isolated_data_env):
    path = mk.write_zip(tmp_path / "c.zip", mk.image_folder_files())
    load_image_folder(path, "train", cache=False)
    assert not (_isolated_data_env / "explainlab").exists()
    load_image_folder(path, "train", cache_dir=tmp_path / "elsewhere")
    assert len(list((tmp_path / "elsewhere").glob("*.npz"))) == 1


def test_the_test_split_is_read_round_robin_over_the_classes(folder):
    train, test = load_image_folder(folder, "train"), load_image_folder(folder, "test")
    assert train.labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]  # class by class, as listed
    assert test.labels.tolist() == [0, 1, 2, 0, 1, 2, 0, 1, 2]  # the first N cover every class
    listed = {c: train.images[train.labels == c, 0, 0, 0].tolist() for c in range(3)}
    read = {c: test.images[test.labels == c, 0, 0, 0].tolist() for c in range(3)}
    assert {c: [v - 100 for v in values] for c, values in read.items()} == listed  # each class in listing order


def test_class_interleaved_with_classes_of_different_sizes():
    labels = np.array([0, 0, 0, 1, 2, 2])
    order = image_folder.class_interleaved(labels)
    assert order.tolist() == [0, 3, 4, 1, 5, 2] and labels[order].tolist() == [0, 1, 2, 0, 2, 0]
    assert image_folder.class_interleaved(np.array([], dtype=np.int64)).tolist() == []
