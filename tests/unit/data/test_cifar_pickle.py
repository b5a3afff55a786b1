"""CIFAR-10 python batches: the restricted unpickler loads real-format batches and refuses everything else."""

from __future__ import annotations

import os
import pickle
import pickletools

import numpy as np
import pytest

from explainlab.data import CIFAR10_CLASSES, load_cifar_pickle
from explainlab.data.cifar_pickle import extract_batches, parse_batch, parse_meta, restricted_loads
from explainlab.errors import DataIntegrityError


def _globals(data: bytes) -> set[str]:
    return {str(arg) for op, arg, _ in pickletools.genops(data) if op.name == "GLOBAL"}


@pytest.mark.parametrize("py2", [False, True])
def test_batch_round_trip(py2, mk):
    images = np.random.default_rng(0).integers(0, 256, (3, 3, 32, 32), dtype=np.uint8)
    data = mk.cifar_batch_bytes(images, [7, 0, 9], py2=py2)
    assert data[:2] == b"\x80\x02"  # protocol 2, as the real files
    if py2:
        assert "_codecs encode" not in _globals(data)  # bytes as Python 2 str opcodes, as the real files
    got_images, got_labels = parse_batch(data, "batch")
    assert np.array_equal(got_images, images) and got_images.flags.writeable
    assert got_labels.dtype == np.int64 and got_labels.tolist() == [7, 0, 9]


def test_raw_dict_keys_are_bytes(mk):
    data = mk.cifar_batch_bytes(np.zeros((1, 3, 32, 32), np.uint8), [1], py2=True)
    batch = restricted_loads(data)
    assert set(batch) == {b"batch_label", b"labels", b"data", b"filenames"}


def test_channel_layout_is_planar_rgb(mk):
    row = np.concatenate([np.full(1024, 10), np.full(1024, 20), np.full(1024, 30)]).astype(np.uint8)
    data = pickle.dumps({b"data": row[None, :], b"labels": [0]}, protocol=2)
    images, _ = parse_batch(data)
    assert images.shape == (1, 3, 32, 32)
    assert [int(images[0, c].mean()) for c in range(3)] == [10, 20, 30]


def test_meta(mk):
    assert parse_meta(mk.cifar_meta_bytes(CIFAR10_CLASSES)) == CIFAR10_CLASSES


class _Evil:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_os_system_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    evil = pickle.dumps({b"data": _Evil(str(marker)), b"labels": [0]}, protocol=2)
    assert any("system" in g for g in _globals(evil))
    with pytest.raises(DataIntegrityError, match=r"refusing to unpickle global (posix|os|nt)\.system"):
        parse_batch(evil, "evil")
    assert not marker.exists()


@pytest.mark.parametrize(
    "payload",
    [
        b"\x80\x02cbuiltins\neval\nq\x00X\x04\x00\x00\x001+1q\x01\x85q\x02Rq\x03.",
        b"\x80\x02cnumpy\nload\nq\x00.",
        b"\x80\x02csubprocess\nPopen\nq\x00.",
    ],
)
def test_other_globals_are_refused(payload):
    with pytest.raises(DataIntegrityError, match="refusing to unpickle global"):
        restricted_loads(payload)


def test_object_dtype_is_refused():
    data = pickle.dumps({b"data": np.array([1, "x"], dtype=object), b"labels": [0]}, protocol=2)
    with pytest.raises(DataIntegrityError, match="object dtype"):
        parse_batch(data)


def test_codecs_encode_only_latin1():
    payload = b"\x80\x02c_codecs\nencode\nq\x00X\x03\x00\x00\x00abcX\x06\x00\x00\x00base64\x86R."
    with pytest.raises(DataIntegrityError, match="codec 'base64'"):
        restricted_loads(payload)


@pytest.mark.parametrize(
    "data, match",
    [
        (b"not a pickle at all", "not a readable CIFAR pickle"),
        (pickle.dumps([1, 2, 3], protocol=2), "expected a dict"),
        (pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, protocol=2), r"\(N, 3072\)"),
        (pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, protocol=2), "labels of shape"),
        (pickle.dumps({b"data": np.zeros((1, 3072), np.uint8), b"labels": [12]}, protocol=2), "outside"),
    ],
)
def test_malformed_batches(data, match):
    with pytest.raises(DataIntegrityError, match=match):
        parse_batch(data, "bad")


def test_truncated_batch(mk):
    data = mk.cifar_batch_bytes(np.zeros((2, 3, 32, 32), np.uint8), [0, 1], py2=True)
    with pytest.raises(DataIntegrityError, match="not a readable CIFAR pickle"):
        parse_batch(data[: len(data) // 2])


@pytest.mark.parametrize("py2", [False, True])
def test_load_from_directory_and_tarball(tmp_path, mk, py2):
    batches = mk.write_cifar_batches(tmp_path / "root", per_batch=4, py2=py2)
    train = load_cifar_pickle(batches, "train")
    test = load_cifar_pickle(batches, "test")
    assert len(train) == 20 and len(test) == 4
    assert train.images.shape == (20, 3, 32, 32) and train.classes == CIFAR10_CLASSES
    tarball = mk.make_tarball(batches, tmp_path / "cifar-10-python.tar.gz")
    from_tar = load_cifar_pickle(tarball, "train")
    assert np.array_equal(from_tar.images.numpy(), train.images.numpy())
    assert from_tar.labels.tolist() == train.labels.tolist()


def test_missing_batch_file(tmp_path, mk):
    batches = mk.write_cifar_batches(tmp_path)
    (batches / "data_batch_3").unlink()
    with pytest.raises(DataIntegrityError, match="data_batch_3"):
        load_cifar_pickle(batches, "train")


def test_extract_only_known_members(tmp_path, mk):
    batches = mk.write_cifar_batches(tmp_path / "src")
    (batches / "extra.sh").write_text("echo hi")
    tarball = mk.make_tarball(batches, tmp_path / "c.tar.gz")
    out = extract_batches(tarball, tmp_path / "dest")
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]
    )


def test_corrupt_tarball(tmp_path):
    bad = tmp_path / "cifar-10-python.tar.gz"
    bad.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(DataIntegrityError, match="corrupt or truncated"):
        load_cifar_pickle(bad, "test")
