"""Finding datasets on disk (and downloading them when asked): ``load_dataset`` and ``describe_data``.

Data roots, in order: the explicit ``data_dir`` (CLI ``--data-dir``), ``$EXPLAINLAB_DATA`` (several roots may
be joined with ``os.pathsep``), then the user cache ``${XDG_CACHE_HOME:-~/.cache}/explainlab/data``. Within a
root, each dataset looks in its spec's sub-folders (``mnist/``, ``fashion-mnist/``, ``fashion-mnist-partial/``,
torchvision's ``MNIST/raw/``, ...); CIFAR-10 prefers the pickle batches (``cifar-10-batches-py/``), then the
official tarball, then an image-folder copy (``cifar10-jpg.zip``, our shared JPEG copy).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from explainlab.data import idx
from explainlab.data.cifar_pickle import BATCH_DIR, load_cifar_pickle
from explainlab.data.dataset import ImageDataset
from explainlab.data.download import download_dataset
from explainlab.data.image_folder import list_image_folder, load_image_folder
from explainlab.data.paths import user_cache_dir
from explainlab.data.specs import DATASETS, DatasetSpec, canonical_name
from explainlab.errors import DataIntegrityError, DataNotFoundError, UnknownNameError

log = logging.getLogger(__name__)

ENV_VAR = "EXPLAINLAB_DATA"
CIFAR_TARBALL = "cifar-10-python.tar.gz"
CIFAR_FOLDERS = ("cifar10-jpg.zip", "cifar10-jpg")


def default_data_root() -> Path:
    """The per-user data root: ``${XDG_CACHE_HOME:-~/.cache}/explainlab/data``."""
    return user_cache_dir() / "data"


def data_roots(data_dir: str | Path | None = None) -> list[tuple[Path, str]]:
    """(root, where it came from) in search order, without duplicates."""
    roots: list[tuple[Path, str]] = []
    if data_dir is not None:
        roots.append((Path(data_dir).expanduser(), "data_dir / --data-dir"))
    for entry in filter(None, os.environ.get(ENV_VAR, "").split(os.pathsep)):
        roots.append((Path(entry).expanduser(), ENV_VAR))
    roots.append((default_data_root(), "user cache"))
    seen: set[Path] = set()
    unique = []
    for root, origin in roots:
        key = root.resolve()
        if key not in seen:
            seen.add(key)
            unique.append((root, origin))
    return unique


@dataclass(frozen=True)
class Located:
    """Where one split of a dataset was found: its format ("idx", "cifar-pickle", "cifar-tarball", "image-folder")."""

    format: str
    path: Path
    files: tuple[Path, ...] = ()


def _idx_file(folder: Path, base: str) -> Path | None:
    for candidate in (f"{base}.gz", base, f"{base.replace('-idx', '.idx')}.gz", base.replace("-idx", ".idx")):
        if (folder / candidate).is_file():
            return folder / candidate
    return None


def _candidates(spec: DatasetSpec, root: Path) -> list[tuple[str, Path]]:
    """(format, path) places one root may hold a dataset, in preference order."""
    if spec.format == "idx":
        return [("idx", root / sub) for sub in spec.dirs]
    places: list[tuple[str, Path]] = []
    for sub in spec.dirs:
        base = root / sub if sub else root
        places += [("cifar-pickle", base / BATCH_DIR), ("cifar-tarball", base / CIFAR_TARBALL)]
        places += [("image-folder", base / name) for name in CIFAR_FOLDERS]
    return places


def _match(spec: DatasetSpec, fmt: str, path: Path, split: str) -> Located | None:
    if fmt == "idx":
        files = [_idx_file(path, base) for base in spec.files[split]]
        return Located(fmt, path, tuple(files)) if all(f is not None for f in files) else None  # type: ignore[arg-type]
    if fmt == "cifar-pickle":
        ok = path.is_dir() and all((path / f).is_file() for f in spec.files[split])
        return Located(fmt, path) if ok else None
    return Located(fmt, path) if path.is_file() or (fmt == "image-folder" and path.is_dir()) else None


def locate(spec: DatasetSpec, split: str, roots: list[tuple[Path, str]]) -> Located | None:
    """The first place, in root order then preference order, that holds ``split`` of ``spec``."""
    for root, _ in roots:
        for fmt, path in _candidates(spec, root):
            found = _match(spec, fmt, path, split)
            if found is not None:
                return found
    return None


def _missing_message(spec: DatasetSpec, split: str, roots: list[tuple[Path, str]], note: str = "") -> str:
    if spec.format == "idx":
        names = ", ".join(f"{base}.gz" for base in spec.files[split])
        files = f"{names} (uncompressed IDX files without .gz also work)"
        where = f"<root>/{spec.dirs[0]}/"
    else:
        batches = ", ".join(spec.files[split])
        files = f"{BATCH_DIR}/{{{batches}}}, or {CIFAR_TARBALL}, or {CIFAR_FOLDERS[0]}"
        where = f"<root>/{BATCH_DIR}/ (or the tarball, or {CIFAR_FOLDERS[0]}, in <root>/)"
    folders = dict.fromkeys(
        (path if spec.format == "idx" else path.parent, origin)
        for root, origin in roots
        for _, path in _candidates(spec, root)
    )
    searched = "\n".join(f"  {folder}  [{origin}]" for folder, origin in folders)
    env = "" if os.environ.get(ENV_VAR) else f"\n  (${ENV_VAR} is not set)"
    urls = "\n".join(f"  {r.urls[0]}" for r in spec.remote)
    return (
        f"dataset {spec.name!r} ({spec.title}, split {split!r}) was not found.\n"
        f"Missing: {files}.\n"
        f"Searched, in order:\n{searched}{env}\n"
        f"Put the files in {where}, where <root> is a data root: pass it with --data-dir <root> "
        f"(Python: data_dir=<root>) or set {ENV_VAR}=<root>; the default root is {default_data_root()}.\n"
        f"Online, --download (Python: download=True) fetches the official files (sha256-verified) from:\n{urls}"
        + (f"\nDownload failed: {note}" if note else "")
    )


def _load_located(spec: DatasetSpec, found: Located, split: str) -> ImageDataset:
    if found.format == "idx":
        images, labels = idx.load_idx_pair(*found.files)
        return ImageDataset(
            spec.name, split, torch.from_numpy(images), torch.from_numpy(labels), spec.classes, str(found.path)
        )
    if found.format in ("cifar-pickle", "cifar-tarball"):
        return load_cifar_pickle(found.path, split, name=spec.name)
    data = load_image_folder(found.path, split, name=spec.name)
    if data.classes != spec.classes:
        raise DataIntegrityError(f"{found.path}: classes {data.classes} are not the {spec.title} classes")
    return data


def _check(spec: DatasetSpec, data: ImageDataset) -> None:
    if data.shape != spec.input_shape:
        raise DataIntegrityError(f"{data.source}: images are {data.shape}, {spec.title} needs {spec.input_shape}")
    if len(data.classes) != len(spec.classes) or (len(data) and int(data.labels.max()) >= len(spec.classes)):
        raise DataIntegrityError(f"{data.source}: labels do not fit the {len(spec.classes)} {spec.title} classes")
    expected = spec.counts[data.split]
    if len(data) != expected:
        log.warning(
            "%s %s: %d of the official %d examples (partial copy at %s)",
            spec.title,
            data.split,
            len(data),
            expected,
            data.source,
        )


def load_dataset(
    name: str, split: str = "train", data_dir: str | Path | None = None, download: bool = False
) -> ImageDataset:
    """Load one split ("train" / "test") of "mnist", "fashion_mnist", "cifar10", or "image_folder" (data_dir = path).

    Looks in ``data_dir``, then ``$EXPLAINLAB_DATA``, then the user cache; with ``download=True`` fetches the
    official files into the first of those roots. Raises DataNotFoundError (saying which files go where) when
    the data is absent, DataIntegrityError when a file is corrupt or fails its checksum.
    """
    key = canonical_name(name)
    if split not in ("train", "test"):
        raise UnknownNameError("split", split, ["train", "test"])
    if key == "image_folder":
        if data_dir is None:
            raise DataNotFoundError("image_folder needs data_dir: a directory or .zip with train/<class>/<image> files")
        return load_image_folder(data_dir, split)
    spec = DATASETS[key]
    roots = data_roots(data_dir)
    found = locate(spec, split, roots)
    note = ""
    if found is None and download:
        target = roots[0][0]
        try:
            download_dataset(spec, target)
        except OSError as exc:  # DownloadFailed (offline, HTTP errors, timeouts) or an unwritable root
            note = str(exc)
        found = locate(spec, split, roots)
    if found is None:
        raise DataNotFoundError(_missing_message(spec, split, roots, note))
    data = _load_located(spec, found, split)
    _check(spec, data)
    return data


def _count(spec: DatasetSpec, found: Located, split: str) -> int:
    """Examples in a split: from IDX headers or a zip listing when cheap, else by loading the labels."""
    if found.format == "idx":
        return idx.read_idx_header(found.files[1])[1][0]
    if found.format == "image-folder":
        return len(list_image_folder(found.path)[0].get(split, []))
    return len(load_cifar_pickle(found.path, split, name=spec.name))


def describe_data(data_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """For each named dataset: found or not, where (per split), counts against the official ones, what was searched."""
    roots = data_roots(data_dir)
    rows = []
    for spec in DATASETS.values():
        splits: dict[str, dict[str, Any]] = {}
        for split in spec.splits:
            found = locate(spec, split, roots)
            entry: dict[str, Any] = {"found": found is not None, "expected": spec.counts[split]}
            if found is not None:
                entry.update(format=found.format, location=str(found.path))
                try:
                    entry["count"] = _count(spec, found, split)
                except (DataIntegrityError, DataNotFoundError, OSError) as exc:
                    entry.update(count=None, error=str(exc))
            splits[split] = entry
        counts = [s.get("count") for s in splits.values()]
        rows.append(
            {
                "name": spec.name,
                "title": spec.title,
                "found": all(s["found"] for s in splits.values()),
                "complete": all(s.get("count") == s["expected"] for s in splits.values()),
                "counts": dict(zip(splits, counts, strict=True)),
                "splits": splits,
                "classes": list(spec.classes),
                "input_shape": list(spec.input_shape),
                "searched": [str(root) for root, _ in roots],
            }
        )
    return rows
