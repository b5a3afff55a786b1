"""IDX files (MNIST, Fashion-MNIST), gzip-compressed or not.

Format (yann.lecun.com/exdb/mnist): a big-endian uint32 magic whose low bytes give the element type
(0x08 = uint8) and the number of dims, then one big-endian uint32 per dim, then the row-major data.
Images: magic 2051 (0x00000803), dims N, rows, cols. Labels: magic 2049 (0x00000801), dim N.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
import zlib
from pathlib import Path

import numpy as np

from explainlab.errors import DataIntegrityError

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
_GZIP_MAGIC = b"\x1f\x8b"


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == _GZIP_MAGIC


def read_bytes(path: str | Path) -> bytes:
    """The decompressed content of an IDX file (gzip detected by its magic bytes, not by the name)."""
    path = Path(path)
    try:
        if _is_gzip(path):
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataIntegrityError(f"{path}: corrupt or truncated gzip stream ({exc})") from exc


def content_sha256(path: str | Path) -> str:
    """SHA-256 of the decompressed IDX content: stable when a file is re-gzipped."""
    return hashlib.sha256(read_bytes(path)).hexdigest()


def parse_idx(data: bytes, expected_magic: int, source: str = "<bytes>") -> np.ndarray:
    """Parse IDX bytes into a uint8 array, checking the magic and that the data length matches the dims."""
    if len(data) < 4:
        raise DataIntegrityError(f"{source}: truncated IDX file ({len(data)} bytes, no header)")
    (magic,) = struct.unpack(">I", data[:4])
    if magic != expected_magic:
        kind = {IMAGES_MAGIC: "images", LABELS_MAGIC: "labels"}[expected_magic]
        raise DataIntegrityError(
            f"{source}: bad IDX magic {magic} (0x{magic:08x}); expected {expected_magic} for an IDX {kind} file"
        )
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataIntegrityError(f"{source}: truncated IDX header ({len(data)} of {header} bytes)")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(data) != expected:
        what = "truncated" if len(data) < expected else "has trailing bytes"
        raise DataIntegrityError(
            f"{source}: IDX file {what}: header says dims {dims} ({expected} bytes), content is {len(data)} bytes"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def read_idx(path: str | Path, expected_magic: int) -> np.ndarray:
    """Read one IDX file (``.gz`` or raw) and validate its header."""
    return parse_idx(read_bytes(path), expected_magic, str(path))


def read_idx_header(path: str | Path) -> tuple[int, tuple[int, ...]]:
    """(magic, dims) from the first bytes only: cheap, for listing what is on disk."""
    path = Path(path)
    opener = gzip.open if _is_gzip(path) else open
    try:
        with opener(path, "rb") as f:
            head = f.read(16)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataIntegrityError(f"{path}: corrupt gzip stream ({exc})") from exc
    if len(head) < 8:
        raise DataIntegrityError(f"{path}: truncated IDX header")
    (magic,) = struct.unpack(">I", head[:4])
    ndim = magic & 0xFF
    if magic >> 8 != 0x08 or not 1 <= ndim <= 3 or len(head) < 4 + 4 * ndim:
        raise DataIntegrityError(f"{path}: bad IDX magic {magic} (0x{magic:08x})")
    return magic, struct.unpack(f">{ndim}I", head[4 : 4 + 4 * ndim])


def load_idx_pair(images_path: str | Path, labels_path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 1, H, W) uint8 and labels (N,) int64 from one IDX images file and one IDX labels file."""
    images = read_idx(images_path, IMAGES_MAGIC)
    labels = read_idx(labels_path, LABELS_MAGIC)
    if images.ndim != 3:
        raise DataIntegrityError(f"{images_path}: expected 3 dims (N, rows, cols), got {images.shape}")
    if len(images) != len(labels):
        raise DataIntegrityError(f"{images_path} has {len(images)} images but {labels_path} has {len(labels)} labels")
    return images[:, None, :, :].copy(), labels.astype(np.int64)  # copies: frombuffer arrays are read-only
