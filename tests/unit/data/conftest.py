"""Data-test world: a private cache and no EXPLAINLAB_DATA, plus writers of tiny IDX / CIFAR / image-folder files."""

from __future__ import annotations

import gzip
import io
import pickle
import struct
import tarfile
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(autouse=True)
def _isolated_data_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every data test gets its own XDG_CACHE_HOME (never the real ~/.cache) and no EXPLAINLAB_DATA."""
    cache = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.delenv("EXPLAINLAB_DATA", raising=False)
    return cache


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """IDX encoding of a uint8 array: big-endian magic (0x0800 | ndim by default) and dims, then the data."""
    array = np.asarray(array, dtype=np.uint8)
    magic = 0x0800 | array.ndim if magic is None else magic
    return struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.tobytes()


def write_idx(path: Path, array: np.ndarray, gz: bool = True, magic: int | None = None) -> Path:
    """Write ``array`` as an IDX file (gzip-compressed when ``gz``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = idx_bytes(array, magic)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def write_mnist_like(folder: Path, n_train: int = 20, n_test: int = 10, gz: bool = True, seed: int = 0) -> Path:
    """The four MNIST file names with random 28x28 images and labels 0..9."""
    rng = np.random.default_rng(seed)
    suffix = ".gz" if gz else ""
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", rng.integers(0, 256, (n, 28, 28)), gz)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", np.arange(n) % 10, gz)
    return folder


class Py2Pickler(pickle._Pickler):  # type: ignore[name-defined]
    """Writes bytes as Python 2 ``str`` opcodes (SHORT_BINSTRING / BINSTRING), exactly as the real CIFAR files."""

    dispatch = pickle._Pickler.dispatch.copy()  # type: ignore[attr-defined]

    def save_bytes(self, obj: bytes) -> None:
        n = len(obj)
        if n < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([n]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", n) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_bytes


def cifar_batch_bytes(images: np.ndarray, labels: list[int], py2: bool = False) -> bytes:
    """A CIFAR batch dict (bytes keys) pickled with protocol 2; ``images`` is (N, 3, 32, 32) uint8."""
    batch = {
        b"batch_label": b"synthetic batch",
        b"labels": list(labels),
        b"data": np.ascontiguousarray(images, dtype=np.uint8).reshape(len(images), 3072),
        b"filenames": [f"img_{i}.png".encode() for i in range(len(images))],
    }
    if not py2:
        return pickle.dumps(batch, protocol=2)
    buf = io.BytesIO()
    Py2Pickler(buf, protocol=2).dump(batch)
    return buf.getvalue()


def cifar_meta_bytes(names: tuple[str, ...]) -> bytes:
    return pickle.dumps({b"label_names": [n.encode() for n in names], b"num_cases_per_batch": 10}, protocol=2)


def write_cifar_batches(folder: Path, per_batch: int = 4, seed: int = 0, py2: bool = False) -> Path:
    """``folder/cifar-10-batches-py`` with 5 train batches, a test batch and batches.meta."""
    from explainlab.data.cifar_pickle import CIFAR10_CLASSES

    rng = np.random.default_rng(seed)
    out = folder / "cifar-10-batches-py"
    out.mkdir(parents=True, exist_ok=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        images = rng.integers(0, 256, (per_batch, 3, 32, 32), dtype=np.uint8)
        labels = [int(x) for x in rng.integers(0, 10, per_batch)]
        (out / name).write_bytes(cifar_batch_bytes(images, labels, py2))
    (out / "batches.meta").write_bytes(cifar_meta_bytes(CIFAR10_CLASSES))
    return out


def make_tarball(batches_dir: Path, tar_path: Path) -> Path:
    with tarfile.open(tar_path, "w:gz") as tar:
        tar.add(batches_dir, arcname="cifar-10-batches-py")
    return tar_path


def png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def image_folder_files(
    classes: tuple[str, ...] = ("cat", "ant", "bee"), per_class: int = 3, size: int = 6, rgb: bool = True
) -> dict[str, bytes]:
    """{relative path: PNG bytes} for train/ and test/ splits; the pixel value encodes (class, index)."""
    files = {}
    for split in ("train", "test"):
        for ci, cls in enumerate(classes):
            for i in range(per_class):
                value = 10 * ci + i + (100 if split == "test" else 0)
                shape = (size, size, 3) if rgb else (size, size)
                files[f"{split}/{cls}/{i:04d}.png"] = png_bytes(np.full(shape, value))
    return files


def write_zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for rel, data in files.items():
            zf.writestr(rel, data)
    return path


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


@pytest.fixture
def mk() -> SimpleNamespace:
    """The file writers above, as ``mk.write_idx(...)`` (tests never import conftest)."""
    return SimpleNamespace(
        idx_bytes=idx_bytes,
        write_idx=write_idx,
        write_mnist_like=write_mnist_like,
        cifar_batch_bytes=cifar_batch_bytes,
        cifar_meta_bytes=cifar_meta_bytes,
        write_cifar_batches=write_cifar_batches,
        make_tarball=make_tarball,
        png_bytes=png_bytes,
        image_folder_files=image_folder_files,
        write_zip=write_zip,
        write_tree=write_tree,
    )
