"""IDX parsing: round trips (gz and raw), header validation, truncation, content hashes."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from explainlab.data import idx
from explainlab.errors import DataIntegrityError


@pytest.mark.parametrize("gz", [True, False])
def test_round_trip_images_and_labels(tmp_path, mk, gz):
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    ip = mk.write_idx(tmp_path / "imgs", images, gz=gz)
    lp = mk.write_idx(tmp_path / "lbls", labels, gz=gz)
    got_images, got_labels = idx.load_idx_pair(ip, lp)
    assert got_images.shape == (5, 1, 28, 28) and got_images.dtype == np.uint8
    assert np.array_equal(got_images[:, 0], images)
    assert got_labels.dtype == np.int64 and got_labels.tolist() == [3, 1, 4, 1, 5]
    assert got_images.flags.writeable


def test_gzip_detected_by_content_not_name(tmp_path, mk):
    path = mk.write_idx(tmp_path / "labels-without-gz-suffix", np.arange(4), gz=True)
    assert idx.read_idx(path, idx.LABELS_MAGIC).tolist() == [0, 1, 2, 3]


def test_bad_magic_is_refused(tmp_path, mk):
    path = mk.write_idx(tmp_path / "x.gz", np.zeros((2, 4, 4)), magic=0x0000ABCD)
    with pytest.raises(DataIntegrityError, match="bad IDX magic 43981"):
        idx.read_idx(path, idx.IMAGES_MAGIC)


def test_labels_file_passed_as_images_is_refused(tmp_path, mk):
    path = mk.write_idx(tmp_path / "l.gz", np.arange(3))
    with pytest.raises(DataIntegrityError, match="expected 2051"):
        idx.read_idx(path, idx.IMAGES_MAGIC)


@pytest.mark.parametrize("cut", [2, 10, 100])
def test_truncated_raw_file(tmp_path, mk, cut):
    data = mk.idx_bytes(np.zeros((3, 8, 8)))
    path = tmp_path / "t"
    path.write_bytes(data[:cut])
    with pytest.raises(DataIntegrityError, match="truncated"):
        idx.read_idx(path, idx.IMAGES_MAGIC)


def test_truncated_gzip_stream(tmp_path, mk):
    blob = gzip.compress(mk.idx_bytes(np.random.default_rng(0).integers(0, 256, (50, 28, 28))))
    path = tmp_path / "t.gz"
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DataIntegrityError, match="truncated|corrupt"):
        idx.read_idx(path, idx.IMAGES_MAGIC)


def test_trailing_bytes_are_refused(tmp_path, mk):
    path = tmp_path / "t"
    path.write_bytes(mk.idx_bytes(np.arange(3)) + b"\x00")
    with pytest.raises(DataIntegrityError, match="trailing"):
        idx.read_idx(path, idx.LABELS_MAGIC)


def test_image_and_label_counts_must_agree(tmp_path, mk):
    ip = mk.write_idx(tmp_path / "i.gz", np.zeros((3, 4, 4)))
    lp = mk.write_idx(tmp_path / "l.gz", np.zeros(2))
    with pytest.raises(DataIntegrityError, match="3 images but .* 2 labels"):
        idx.load_idx_pair(ip, lp)


def test_header_and_content_hash(tmp_path, mk):
    arr = np.ones((7, 5, 6))
    gz_path = mk.write_idx(tmp_path / "a.gz", arr, gz=True)
    raw_path = mk.write_idx(tmp_path / "a", arr, gz=False)
    assert idx.read_idx_header(gz_path) == (idx.IMAGES_MAGIC, (7, 5, 6))
    assert idx.content_sha256(gz_path) == idx.content_sha256(raw_path)
