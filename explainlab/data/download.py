"""Downloads of the official dataset files: urllib with a timeout, into a temp file, sha256-verified, then renamed.

A file whose checksum does not match is deleted and never used (DataIntegrityError); network failures on
every mirror raise DownloadFailed, which the resolver turns into a DataNotFoundError that says what to do.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import shutil
import urllib.request
from pathlib import Path

from explainlab.data import idx
from explainlab.data.cifar_pickle import extract_batches
from explainlab.data.specs import DatasetSpec, RemoteFile
from explainlab.errors import DataIntegrityError

log = logging.getLogger(__name__)

TIMEOUT_S = 60.0


class DownloadFailed(OSError):
    """No mirror of a file could be reached (offline, HTTP error, timeout)."""


def fetch(url: str, dest: Path, timeout: float = TIMEOUT_S) -> None:
    """Stream ``url`` into ``dest`` (the one network call of the package; tests replace it)."""
    request = urllib.request.Request(url, headers={"User-Agent": "explainlab"})
    with urllib.request.urlopen(request, timeout=timeout) as response, open(dest, "wb") as out:
        shutil.copyfileobj(response, out, 1 << 20)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify(path: Path, remote: RemoteFile, source: str | None = None) -> None:
    """Raise DataIntegrityError unless ``path`` matches the table's size and sha256 for ``remote``."""
    source = source or str(path)
    if remote.size is not None and path.stat().st_size != remote.size:
        raise DataIntegrityError(f"{source}: {path.stat().st_size} bytes, expected {remote.size} for {remote.filename}")
    digest = idx.content_sha256(path) if remote.hashed == "content" else file_sha256(path)
    if digest != remote.sha256:
        what = "decompressed content" if remote.hashed == "content" else "file"
        raise DataIntegrityError(
            f"{source}: sha256 of the {what} is {digest}, expected {remote.sha256} for {remote.filename}; "
            "the download is corrupt or not the official file, and was deleted"
        )


def download_file(remote: RemoteFile, dest_dir: Path, timeout: float = TIMEOUT_S) -> Path:
    """Fetch one file from its mirrors in turn, verify it, and move it to ``dest_dir / filename``."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / remote.filename
    failures: list[str] = []
    bad: list[DataIntegrityError] = []
    for url in remote.urls:
        tmp = dest_dir / f".{remote.filename}.{os.getpid()}.part"
        log.info("downloading %s", url)
        try:
            fetch(url, tmp, timeout)
            verify(tmp, remote, source=url)
        except BaseException as exc:
            tmp.unlink(missing_ok=True)  # never leave an unverified file behind
            if isinstance(exc, DataIntegrityError):
                log.warning("%s", exc)
                bad.append(exc)
            elif isinstance(exc, (OSError, http.client.HTTPException, ValueError)):  # URLError, timeouts
                failures.append(f"{url}: {exc}")
            else:
                raise
            continue
        os.replace(tmp, dest)
        log.info("verified and saved %s", dest)
        return dest
    if bad:
        raise DataIntegrityError("; ".join(str(e) for e in bad))
    raise DownloadFailed(f"could not download {remote.filename}: " + "; ".join(failures))


def download_dataset(spec: DatasetSpec, root: Path, timeout: float = TIMEOUT_S) -> Path:
    """Download (and for CIFAR-10 unpack) every official file of ``spec`` under ``root``; returns the folder."""
    if spec.format == "idx":
        folder = root / spec.dirs[0]
        for remote in spec.remote:
            existing = folder / remote.filename
            if not existing.is_file():
                download_file(remote, folder, timeout)
        return folder
    (remote,) = spec.remote
    tarball = root / remote.filename
    if not tarball.is_file():
        download_file(remote, root, timeout)
    return extract_batches(tarball, root)
