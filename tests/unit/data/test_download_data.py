"""Downloads without a network: ``fetch`` is replaced by a local copy; good hashes pass, bad ones leave nothing."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import re
import shutil
import urllib.error

import numpy as np
import pytest

from explainlab.data import DATASETS, DOWNLOADS, RemoteFile, download, load_dataset
from explainlab.data.idx import content_sha256
from explainlab.errors import DataIntegrityError, DataNotFoundError


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def served(tmp_path, monkeypatch):
    """A fake web: URL ``http://test/<name>`` serves ``tmp_path/server/<name>``; records the URLs asked for."""
    server = tmp_path / "server"
    server.mkdir()
    asked: list[str] = []

    def fake_fetch(url, dest, timeout=download.TIMEOUT_S):
        asked.append(url)
        assert timeout > 0
        source = server / url.rsplit("/", 1)[-1]
        if not url.startswith("http://test/") or not source.exists():
            raise urllib.error.URLError("no route to host (test)")
        shutil.copyfile(source, dest)

    monkeypatch.setattr(download, "fetch", fake_fetch)
    return server, asked


def test_good_file_hash_is_accepted(tmp_path, served):
    server, _ = served
    (server / "blob.bin").write_bytes(b"official bytes")
    remote = RemoteFile("blob.bin", ("http://test/blob.bin",), _sha(server / "blob.bin"), size=14)
    dest = download.download_file(remote, tmp_path / "data")
    assert dest.read_bytes() == b"official bytes"
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["blob.bin"]


@pytest.mark.parametrize("size", [None, 999])
def test_bad_hash_or_size_is_refused_and_deleted(tmp_path, served, size):
    server, _ = served
    (server / "blob.bin").write_bytes(b"tampered bytes")
    remote = RemoteFile("blob.bin", ("http://test/blob.bin",), "0" * 64, size=size)
    with pytest.raises(DataIntegrityError, match="blob.bin"):
        download.download_file(remote, tmp_path / "data")
    assert list((tmp_path / "data").iterdir()) == []  # neither the file nor a .part is left behind


def test_content_hash_accepts_a_regzipped_idx(tmp_path, served, mk):
    server, _ = served
    raw = mk.idx_bytes(np.arange(10))
    (server / "labels.gz").write_bytes(gzip.compress(raw, compresslevel=1, mtime=123))
    expected = hashlib.sha256(raw).hexdigest()
    remote = RemoteFile("labels.gz", ("http://test/labels.gz",), expected, hashed="content")
    assert content_sha256(download.download_file(remote, tmp_path / "d")) == expected


def test_mirrors_are_tried_in_order(tmp_path, served):
    server, asked = served
    (server / "f").write_bytes(b"x")
    remote = RemoteFile("f", ("http://offline/f", "http://test/f"), _sha(server / "f"))
    download.download_file(remote, tmp_path / "d")
    assert asked == ["http://offline/f", "http://test/f"]


def test_unreachable_everywhere(tmp_path, served):
    remote = RemoteFile("f", ("http://offline/f",), "0" * 64)
    with pytest.raises(download.DownloadFailed, match="no route to host"):
        download.download_file(remote, tmp_path / "d")
    assert list((tmp_path / "d").iterdir()) == []


def _serve_mnist(mk, server, monkeypatch, tamper: bool = False):
    folder = mk.write_mnist_like(server, n_train=12, n_test=6)
    remote = tuple(
        RemoteFile(f.name, (f"http://test/{f.name}",), "f" * 64 if tamper else content_sha256(f), hashed="content")
        for f in sorted(folder.glob("*.gz"))
    )
    monkeypatch.setitem(DATASETS, "mnist", dataclasses.replace(DATASETS["mnist"], remote=remote))


def test_load_dataset_downloads_into_the_first_root(tmp_path, served, mk, monkeypatch):
    server, _ = served
    _serve_mnist(mk, server, monkeypatch)
    ds = load_dataset("mnist", "test", data_dir=tmp_path / "root", download=True)
    assert len(ds) == 6 and ds.source == str(tmp_path / "root" / "mnist")
    assert len(list((tmp_path / "root" / "mnist").glob("*.gz"))) == 4
    assert len(load_dataset("mnist", "train", data_dir=tmp_path / "root")) == 12  # now found offline


def test_load_dataset_download_into_user_cache(served, mk, monkeypatch, _isolated_data_env):
    server, _ = served
    _serve_mnist(mk, server, monkeypatch)
    ds = load_dataset("mnist", "train", download=True)
    assert ds.source == str(_isolated_data_env / "explainlab" / "data" / "mnist")


def test_load_dataset_bad_download_is_an_integrity_error(tmp_path, served, mk, monkeypatch):
    server, _ = served
    _serve_mnist(mk, server, monkeypatch, tamper=True)
    with pytest.raises(DataIntegrityError, match="sha256"):
        load_dataset("mnist", "test", data_dir=tmp_path / "root", download=True)
    assert list((tmp_path / "root" / "mnist").iterdir()) == []


def test_offline_download_gives_data_not_found(tmp_path, served):
    with pytest.raises(DataNotFoundError) as info:  # the real table's URLs are unreachable in the fake web
        load_dataset("fashion_mnist", "train", data_dir=tmp_path / "root", download=True)
    msg = str(info.value)
    assert "Download failed" in msg and "train-images-idx3-ubyte.gz" in msg and "--data-dir" in msg


def test_cifar_download_verifies_and_unpacks(tmp_path, served, mk, monkeypatch):
    server, _ = served
    batches = mk.write_cifar_batches(tmp_path / "src", per_batch=2)
    tarball = mk.make_tarball(batches, server / "cifar-10-python.tar.gz")
    remote = (RemoteFile(tarball.name, (f"http://test/{tarball.name}",), _sha(tarball)),)
    monkeypatch.setitem(DATASETS, "cifar10", dataclasses.replace(DATASETS["cifar10"], remote=remote))
    ds = load_dataset("cifar10", "train", data_dir=tmp_path / "root", download=True)
    assert len(ds) == 10 and ds.source == str(tmp_path / "root" / "cifar-10-batches-py")


def test_the_download_table():
    assert set(DOWNLOADS) == {"mnist", "fashion_mnist", "cifar10"}
    for name, files in DOWNLOADS.items():
        assert DATASETS[name].remote == files
        for remote in files:
            assert re.fullmatch(r"[0-9a-f]{64}", remote.sha256), remote
            assert remote.hashed in ("file", "content") and remote.urls
            assert all(u.startswith(("https://", "http://")) and u.endswith(remote.filename) for u in remote.urls)
    assert DOWNLOADS["cifar10"][0].sha256 == "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
    assert all(r.hashed == "content" for r in DOWNLOADS["mnist"])
