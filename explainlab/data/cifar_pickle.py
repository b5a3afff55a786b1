"""CIFAR-10 "python version" batches, read with a restricted unpickler (never plain ``pickle.load``).

Format (cs.toronto.edu/~kriz/cifar.html): ``cifar-10-batches-py/data_batch_1..5`` and ``test_batch`` are
Python 2 pickles (protocol 2) of a dict with bytes keys: ``b"data"`` a uint8 numpy array (10000, 3072) whose
rows are 1024 red, 1024 green, 1024 blue values of a 32x32 image in row-major order, and ``b"labels"`` a list
of 10000 ints 0..9; ``batches.meta`` holds ``b"label_names"``. The tarball ``cifar-10-python.tar.gz`` holds
the same files under ``cifar-10-batches-py/``.
"""

from __future__ import annotations

import io
import pickle
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch

from explainlab.data.dataset import ImageDataset
from explainlab.errors import DataIntegrityError

try:  # numpy >= 2
    from numpy._core import multiarray as _multiarray
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core import multiarray as _multiarray  # type: ignore[no-redef]

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
BATCH_DIR = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCHES = ("test_batch",)
META_FILE = "batches.meta"
SPLIT_FILES = {"train": TRAIN_BATCHES, "test": TEST_BATCHES}


def _safe_dtype(obj: Any, align: bool = False, copy: bool = False) -> np.dtype:
    """``numpy.dtype`` for plain (non-object) types only: object arrays could smuggle arbitrary objects."""
    dtype = np.dtype(obj, align, copy)
    if dtype.hasobject:
        raise DataIntegrityError(f"refusing to unpickle an object dtype ({dtype}) in a CIFAR batch")
    return dtype


def _latin1_encode(text: str, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """``_codecs.encode`` as Python 3 protocol-2 pickles use it for bytes; only the latin-1 codec is allowed."""
    if not isinstance(text, str) or encoding.lower().replace("_", "-") not in ("latin1", "latin-1"):
        raise DataIntegrityError(f"refusing _codecs.encode with codec {encoding!r} in a CIFAR batch")
    return text.encode("latin-1", errors)


# Exactly the globals a CIFAR batch needs: numpy's array reconstruction (under its numpy 1.x and 2.x module
# names), plus the latin-1 bytes encoder that Python 3 writes for bytes under protocol 2.
_ALLOWED_GLOBALS: dict[tuple[str, str], Callable[..., Any] | type] = {
    ("numpy.core.multiarray", "_reconstruct"): _multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _multiarray._reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _safe_dtype,
    ("_codecs", "encode"): _latin1_encode,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals listed in ``_ALLOWED_GLOBALS`` and refuses all others."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise DataIntegrityError(
                f"refusing to unpickle global {module}.{name}: a CIFAR-10 batch holds only dicts, lists, bytes and "
                "numpy uint8 arrays (the file is corrupt or not a CIFAR batch)"
            ) from None


def restricted_loads(data: bytes, source: str = "<bytes>") -> Any:
    """Unpickle ``data`` with :class:`RestrictedUnpickler` (Python 2 strings come back as bytes)."""
    try:
        return RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
    except DataIntegrityError as exc:
        raise DataIntegrityError(f"{source}: {exc}") from None
    except Exception as exc:  # any malformed stream: UnpicklingError, EOFError, ValueError, TypeError, ...
        raise DataIntegrityError(f"{source}: not a readable CIFAR pickle ({type(exc).__name__}: {exc})") from exc


def _str_keys(obj: Any, source: str) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise DataIntegrityError(f"{source}: expected a dict, got {type(obj).__name__}")
    return {k.decode("latin-1") if isinstance(k, bytes) else str(k): v for k, v in obj.items()}


def parse_batch(data: bytes, source: str = "<bytes>") -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3, 32, 32) uint8 and labels (N,) int64 from the bytes of one batch file."""
    batch = _str_keys(restricted_loads(data, source), source)
    images, labels = batch.get("data"), batch.get("labels")
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 2 or images.shape[1] != 3072:
        got = f"{images.dtype} {images.shape}" if isinstance(images, np.ndarray) else type(images).__name__
        raise DataIntegrityError(f"{source}: 'data' must be a uint8 array (N, 3072), got {got}")
    try:
        labels_arr = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError) as exc:
        raise DataIntegrityError(f"{source}: 'labels' is not a list of ints") from exc
    if labels_arr.shape != (len(images),):
        raise DataIntegrityError(f"{source}: {len(images)} images but labels of shape {labels_arr.shape}")
    if len(labels_arr) and (labels_arr.min() < 0 or labels_arr.max() >= len(CIFAR10_CLASSES)):
        raise DataIntegrityError(f"{source}: labels outside 0..{len(CIFAR10_CLASSES) - 1}")
    return np.array(images.reshape(-1, 3, 32, 32)), labels_arr  # np.array copies: writable, owned


def parse_meta(data: bytes, source: str = "<bytes>") -> tuple[str, ...]:
    """Class names from ``batches.meta``."""
    names = _str_keys(restricted_loads(data, source), source).get("label_names")
    if not isinstance(names, list) or not names:
        raise DataIntegrityError(f"{source}: no 'label_names' list")
    return tuple(n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in names)


def _read_members(path: Path, wanted: tuple[str, ...]) -> dict[str, bytes]:
    """The bytes of the wanted batch files, from a ``cifar-10-batches-py`` directory or the tarball."""
    if path.is_dir():
        return {name: (path / name).read_bytes() for name in wanted if (path / name).is_file()}
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:  # one sequential pass: random access in a .tar.gz re-decompresses
                base = member.name.rsplit("/", 1)[-1]
                if member.isfile() and base in wanted and member.name.startswith(BATCH_DIR + "/"):
                    handle: IO[bytes] | None = tar.extractfile(member)
                    if handle is not None:
                        found[base] = handle.read()
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DataIntegrityError(f"{path}: corrupt or truncated CIFAR-10 tarball ({exc})") from exc
    return found


def load_cifar_pickle(path: str | Path, split: str, name: str = "cifar10") -> ImageDataset:
    """One split of CIFAR-10 from a ``cifar-10-batches-py`` directory or a ``cifar-10-python.tar.gz``."""
    path = Path(path)
    wanted = SPLIT_FILES[split]
    members = _read_members(path, (*wanted, META_FILE))
    missing = [f for f in wanted if f not in members]
    if missing:
        raise DataIntegrityError(f"{path}: missing CIFAR-10 batch files {', '.join(missing)}")
    classes = parse_meta(members[META_FILE], f"{path}/{META_FILE}") if META_FILE in members else CIFAR10_CLASSES
    parts = [parse_batch(members[f], f"{path}/{f}") for f in wanted]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    return ImageDataset(name, split, torch.from_numpy(images), torch.from_numpy(labels), classes, str(path))


def extract_batches(tarball: str | Path, dest: str | Path) -> Path:
    """Write the seven known files of the tarball into ``dest/cifar-10-batches-py`` (no other member is touched)."""
    out = Path(dest) / BATCH_DIR
    out.mkdir(parents=True, exist_ok=True)
    members = _read_members(Path(tarball), (*TRAIN_BATCHES, *TEST_BATCHES, META_FILE))
    for base, data in members.items():
        tmp = out / f".{base}.part"
        tmp.write_bytes(data)
        tmp.replace(out / base)
    return out
