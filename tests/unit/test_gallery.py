"""The committed sample gallery (static/gallery) agrees with its index.json, and scripts/make_gallery.py works.

Needs no real data: the gallery is checked as committed, and the script is run on tiny IDX files made here.
"""

from __future__ import annotations

import gzip
import json
import struct
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from explainlab.data import get_spec
from tests.scripts_loader import load_script

REPO = Path(__file__).resolve().parents[2]
GALLERY = REPO / "static" / "gallery"
MODES = {1: "L", 3: "RGB"}


@pytest.fixture(scope="module")
def index() -> dict:
    path = GALLERY / "index.json"
    assert path.is_file(), "static/gallery/index.json is missing: run scripts/make_gallery.py"
    return json.loads(path.read_text())


def test_index_header(index: dict):
    assert index["version"] == 1
    assert isinstance(index["source"], str) and "JPEG" in index["source"]  # the CIFAR-10 caveat is stated
    assert index["items"], "empty gallery"


def test_ids_unique_and_well_formed(index: dict):
    ids = [item["id"] for item in index["items"]]
    assert len(ids) == len(set(ids)), [i for i, n in Counter(ids).items() if n > 1]
    for item in index["items"]:
        assert set(item) >= {"id", "dataset", "split", "index", "label", "class_name", "file"}
        assert item["split"] == "test"
        assert isinstance(item["index"], int) and item["index"] >= 0
        assert item["id"] == f"{item['dataset']}-{item['index']}"
        assert item["file"] == f"{item['id']}.png"


def test_labels_match_the_dataset_classes(index: dict):
    for item in index["items"]:
        classes = get_spec(item["dataset"]).classes
        assert isinstance(item["label"], int) and 0 <= item["label"] < len(classes), item
        assert item["class_name"] == classes[item["label"]], item


def test_every_file_exists_and_decodes_to_its_native_size(index: dict):
    for item in index["items"]:
        path = GALLERY / item["file"]
        assert path.is_file(), f"{item['id']}: {path} is missing"
        channels, height, width = get_spec(item["dataset"]).input_shape
        with Image.open(path) as im:
            assert im.format == "PNG", item["file"]
            assert im.size == (width, height), item["file"]
            assert im.mode == MODES[channels], item["file"]
            im.load()  # decodes the whole file


def test_no_unlisted_images(index: dict):
    listed = {item["file"] for item in index["items"]}
    on_disk = {p.name for p in GALLERY.glob("*.png")}
    assert on_disk == listed


@pytest.mark.parametrize("dataset", ["mnist", "cifar10"])
def test_required_datasets_cover_every_class(index: dict, dataset: str):
    labels = {item["label"] for item in index["items"] if item["dataset"] == dataset}
    assert labels == set(range(10)), f"{dataset}: classes present {sorted(labels)}"


# ---- the script itself, on tiny synthetic IDX files -------------------------------------------------------------


def _write_idx(path: Path, array: np.ndarray) -> None:
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">I", 0x0800 | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())


def test_pick_indices_takes_the_first_of_each_class_in_order():
    script = load_script("make_gallery")
    labels = np.array([2, 0, 2, 1, 0, 2, 0])
    assert script.pick_indices(labels, 3, 2) == [1, 4, 3, 0, 2]  # class 1 has one example only
    assert script.pick_indices(labels, 3, 1) == [1, 3, 0]


def test_script_writes_pngs_and_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("EXPLAINLAB_DATA", raising=False)
    rng = np.random.default_rng(0)
    labels = np.array([7, 2, 1, 0, 4, 1, 4, 9, 5, 9, 0, 6, 9, 0, 1, 5, 9, 7, 3, 4, 9, 6, 6, 5, 4, 0, 7, 4, 0, 1, 3, 1,
                       3, 4, 7, 2, 7, 1, 2, 1, 8, 8])  # fmt: skip
    images = rng.integers(0, 256, size=(len(labels), 28, 28), dtype=np.uint8)
    mnist = tmp_path / "data" / "mnist"
    mnist.mkdir(parents=True)
    _write_idx(mnist / "t10k-images-idx3-ubyte.gz", images)
    _write_idx(mnist / "t10k-labels-idx1-ubyte.gz", labels)
    out = tmp_path / "gallery"

    script = load_script("make_gallery")
    assert script.main(["--data-dir", str(tmp_path / "data"), "--out", str(out), "--datasets", "mnist,cifar10"]) == 0

    index = json.loads((out / "index.json").read_text())
    items = index["items"]
    assert {item["dataset"] for item in items} == {"mnist"}  # cifar10 is absent and skipped
    assert [item["index"] for item in items] == [3, 10, 2, 5, 1, 35, 18, 30, 4, 6, 8, 15, 11, 21, 0, 17, 40, 41, 7, 9]
    for item in items:
        with Image.open(out / item["file"]) as im:
            assert im.mode == "L" and im.size == (28, 28)
            np.testing.assert_array_equal(np.asarray(im), images[item["index"]])  # lossless
        assert item["label"] == labels[item["index"]]
