"""Image folders: ``train/<class>/<image>`` and ``test/<class>/<image>`` in a directory or a ``.zip``.

Class names are the sub-folder names, sorted alphabetically; the label is the index in that order (the
torchvision ImageFolder convention). The train split keeps the listing's order (class by class; training shuffles it);
the test split is read round-robin over the classes (``class_interleaved``), so that the first N test images, which
every evaluation here takes, cover the classes evenly as the official CIFAR-10 test order does. A single top-level
folder around the splits is allowed (``cifar10/train/cat/0001.jpg``). Images are decoded with Pillow to uint8: all
grayscale gives 1 channel, anything else 3 (RGB). Decoded splits are cached as uncompressed ``.npz``
(allow_pickle=False) in ``${XDG_CACHE_HOME:-~/.cache}/explainlab/image_folder``, keyed by the source's path, size and
mtime.
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import os
import struct
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from explainlab.data.dataset import ImageDataset
from explainlab.data.paths import user_cache_dir
from explainlab.errors import DataIntegrityError, DataNotFoundError

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".ppm", ".pgm", ".tif", ".tiff"})
SPLITS = ("train", "test")
_GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "F"})
_CACHE_VERSION = 1

Listing = dict[str, list[tuple[str, str]]]  # split -> [(class, member path)], sorted by path


def _parse(rel: str) -> tuple[str, str] | None:
    """(split, class) of one relative posix path, or None if it is not ``[top/]split/class/image``."""
    parts = rel.split("/")
    last = parts[-1]
    if last.rfind(".") <= 0 or last[last.rfind(".") :].lower() not in IMAGE_EXTENSIONS:
        return None
    if any(p.startswith(".") or p == "__MACOSX" for p in parts):
        return None
    if len(parts) == 4:
        parts = parts[1:]
    if len(parts) != 3 or parts[0] not in SPLITS:
        return None
    return parts[0], parts[1]


@functools.lru_cache(maxsize=8)
def _zip_names(path: str, size: int, mtime_ns: int) -> tuple[str, ...]:
    """File names in a zip, memoized per (path, size, mtime): listing 60k entries takes about a second."""
    try:
        with zipfile.ZipFile(path) as zf:
            return tuple(i.filename for i in zf.infolist() if not i.is_dir())
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataIntegrityError(f"{path}: neither a directory nor a readable zip file ({exc})") from exc


def list_image_folder(path: str | Path) -> tuple[Listing, tuple[str, ...]]:
    """The entries of each split found and the sorted class names; reads no image."""
    path = Path(path)
    if path.is_dir():
        names = [p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()]
    elif path.is_file():
        st = path.stat()
        names = list(_zip_names(str(path.resolve()), st.st_size, st.st_mtime_ns))
    else:
        raise DataNotFoundError(f"image folder {path} does not exist")
    listing: Listing = {}
    for rel in sorted(names):
        parsed = _parse(rel)
        if parsed:
            listing.setdefault(parsed[0], []).append((parsed[1], rel))
    tops = {rel.split("/")[0] for entries in listing.values() for _, rel in entries if rel.count("/") == 3}
    if len(tops) > 1:
        raise DataIntegrityError(f"{path}: splits under several top-level folders {sorted(tops)}; expected one")
    classes = tuple(sorted({c for entries in listing.values() for c, _ in entries}))
    return listing, classes


_FORMAT_HINTS = {".jpg": ("JPEG",), ".jpeg": ("JPEG",), ".png": ("PNG",)}


def _open_image(data: bytes, rel: str) -> Image.Image:
    """Open with the format its extension names (skips Pillow's format probing), else let Pillow detect it."""
    hint = _FORMAT_HINTS.get(rel[rel.rfind(".") :].lower())
    if hint is not None:
        try:
            return Image.open(io.BytesIO(data), formats=hint)
        except UnidentifiedImageError:
            pass
    return Image.open(io.BytesIO(data))


def _decode_all(read: Callable[[str], bytes], members: list[str], source: Path) -> np.ndarray:
    """Decode every member to one (N, C, H, W) uint8 array; sizes must agree."""
    out: np.ndarray | None = None
    all_gray = True
    for k, rel in enumerate(members):
        try:
            with _open_image(read(rel), rel) as im:
                gray = im.mode in _GRAY_MODES
                im = im.convert("L" if gray else "RGB") if im.mode not in ("L", "RGB") else im
                if out is None:
                    out = np.empty((len(members), im.height, im.width, 3), dtype=np.uint8)
                if (im.height, im.width) != out.shape[1:3]:
                    raise DataIntegrityError(
                        f"{source}: {rel} is {im.width}x{im.height} but the first image is "
                        f"{out.shape[2]}x{out.shape[1]}; an image folder needs one image size"
                    )
                arr = np.asarray(im)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise DataIntegrityError(f"{source}: cannot decode {rel} ({exc})") from exc
        all_gray &= gray
        out[k] = arr[..., None] if gray else arr
    if out is None:
        raise DataNotFoundError(f"{source}: no images")
    out = out[..., :1] if all_gray else out
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2))


def _source_key(path: Path) -> str:
    """Hash of the resolved path plus size and mtime (of the zip, or of every file of a directory)."""
    path = path.resolve()
    h = hashlib.sha256(str(path).encode())
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for p in files:
        st = p.stat()
        h.update(f"|{p.relative_to(path.parent)}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def _cache_file(path: Path, split: str, cache_dir: Path | None) -> Path:
    root = cache_dir if cache_dir is not None else user_cache_dir() / "image_folder"
    return root / f"{path.stem}-{_source_key(path)}-{split}.npz"


def _read_stored_array(file: Path, key: str) -> np.ndarray:
    """One array of an uncompressed ``.npz``, read with one ``fromfile`` at its offset (np.load copies 3 times)."""
    with zipfile.ZipFile(file) as zf:
        info = zf.getinfo(f"{key}.npy")
    if info.compress_type != zipfile.ZIP_STORED:
        raise ValueError(f"{key}.npy is compressed")
    with open(file, "rb") as f:
        f.seek(info.header_offset)
        local = f.read(30)
        if len(local) != 30 or local[:4] != b"PK\x03\x04":
            raise ValueError(f"bad zip local header for {key}.npy")
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        f.seek(info.header_offset + 30 + name_len + extra_len)
        return np.lib.format.read_array(f, allow_pickle=False)


def _read_cache(file: Path) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]] | None:
    """(images, labels, classes) from a cache file, or None when it is stale, foreign or unreadable."""
    try:
        with np.load(file, allow_pickle=False) as z:
            if int(z["version"]) != _CACHE_VERSION:
                return None
            labels, classes = z["labels"], tuple(str(c) for c in z["classes"])
        images = _read_stored_array(file, "images")
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        log.warning("ignoring unreadable image-folder cache %s (%s)", file, exc)
        return None
    if images.dtype != np.uint8 or images.ndim != 4 or labels.shape != (len(images),) or labels.dtype != np.int64:
        return None
    if len(labels) and (labels.min() < 0 or labels.max() >= len(classes)):
        return None
    return images, labels, classes


def _write_cache(file: Path, images: np.ndarray, labels: np.ndarray, classes: tuple[str, ...]) -> None:
    tmp = file.with_name(f".{file.name}.{os.getpid()}.part")
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            np.savez(f, version=np.int64(_CACHE_VERSION), images=images, labels=labels, classes=np.array(classes))
        os.replace(tmp, file)
    except OSError as exc:
        log.warning("could not write image-folder cache %s (%s)", file, exc)
        tmp.unlink(missing_ok=True)


def _decode_split(path: Path, members: list[str]) -> np.ndarray:
    if path.is_dir():
        return _decode_all(lambda rel: (path / rel).read_bytes(), members, path)
    try:
        with zipfile.ZipFile(path) as zf:
            return _decode_all(zf.read, members, path)
    except (zipfile.BadZipFile, EOFError) as exc:  # also a CRC mismatch
        raise DataIntegrityError(f"{path}: corrupt zip ({exc})") from exc


def load_image_folder(
    path: str | Path,
    split: str = "train",
    *,
    name: str | None = None,
    cache: bool = True,
    cache_dir: str | Path | None = None,
) -> ImageDataset:
    """One split of an image folder (directory or ``.zip``), decoded to uint8 NCHW; cached as ``.npz``."""
    path = Path(path)
    if not path.exists():
        raise DataNotFoundError(f"image folder {path} does not exist")
    file = _cache_file(path, split, Path(cache_dir) if cache_dir is not None else None) if cache else None
    cached = _read_cache(file) if file is not None and file.is_file() else None
    if cached is not None:
        images, labels, classes = cached
        log.info("loaded %s/%s from cache %s", path, split, file)
    else:
        images, labels, classes = _decode_listed(path, split)
        if file is not None:
            _write_cache(file, images, labels, classes)
    if split == "test":  # evaluations take the first N test images: let them cover every class
        order = class_interleaved(labels)
        images, labels = images[order], labels[order]
    return ImageDataset(
        name or path.stem, split, torch.from_numpy(images), torch.from_numpy(labels), classes, str(path)
    )


def class_interleaved(labels: np.ndarray) -> np.ndarray:
    """The order that reads a class-by-class split round-robin: the first image of every class (in class order), then
    the second of every class, and so on; a class that runs out drops out. An image folder lists its images class by
    class, so without it the first 1000 CIFAR-10 test images would all be airplanes."""
    rank = np.empty(len(labels), dtype=np.int64)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        rank[members] = np.arange(len(members))
    return np.lexsort((labels, rank))  # by rank within the class, then by class


def _decode_listed(path: Path, split: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    listing, classes = list_image_folder(path)
    if split not in listing:
        raise DataNotFoundError(
            f"{path}: no '{split}/<class>/<image>' entries (found splits: {', '.join(listing) or 'none'}); "
            f"expected a layout like {split}/<class>/0001.png"
        )
    index = {c: i for i, c in enumerate(classes)}
    labels = np.array([index[c] for c, _ in listing[split]], dtype=np.int64)
    start = time.perf_counter()
    images = _decode_split(path, [rel for _, rel in listing[split]])
    log.info("decoded %d images of %s/%s in %.1f s", len(images), path, split, time.perf_counter() - start)
    return images, labels, classes
