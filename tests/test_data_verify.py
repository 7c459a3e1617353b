"""Dataset files found on disk are checked against the published SHA-256, once per file version
(issue 14 §3): an edited pixel or a partial copy is caught offline, with a message that says what to do."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from minidl.data import ChecksumError, load_mnist, verify
from minidl.data.mnist import MNIST

TEST_IMAGES = MNIST.test_images.name


@pytest.fixture
def fresh_verdicts(tmp_path: Path, monkeypatch) -> Path:
    """An empty verdict cache (in memory and on disk) under tmp_path; returns the cache home."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.setattr(verify, "_verified", {})
    return cache


@pytest.fixture
def folder(shared_data: Path, tmp_path: Path) -> Path:
    """A folder holding MNIST's four files; the test images are a real copy that tests may edit."""
    folder = tmp_path / "mnist"
    folder.mkdir()
    for f in MNIST.files:
        if f.name == TEST_IMAGES:
            (folder / f.name).write_bytes((shared_data / "mnist" / f.name).read_bytes())
        else:
            (folder / f.name).symlink_to(shared_data / "mnist" / f.name)
    return folder


def tampered(original: bytes, offset: int = 16 + 28 * 14 + 14) -> bytes:
    """The unpacked IDX bytes with one pixel changed (a centre pixel of the first image): still a valid file."""
    raw = bytearray(gzip.decompress(original))
    raw[offset] = (raw[offset] + 128) % 256
    return bytes(raw)


def hash_calls(monkeypatch) -> list[int]:
    calls: list[int] = []
    real = verify._sha256

    def counting(data: bytes) -> str:
        calls.append(len(data))
        return real(data)

    monkeypatch.setattr(verify, "_sha256", counting)
    return calls


def test_an_edited_pixel_in_a_gzipped_file_is_caught(folder: Path, fresh_verdicts, monkeypatch) -> None:
    path = folder / TEST_IMAGES
    path.write_bytes(gzip.compress(tampered(path.read_bytes())))
    with pytest.raises(ChecksumError) as info:
        load_mnist("test", root=folder, download=False)
    msg = str(info.value)
    assert str(path) in msg and "not the published" in msg
    assert "Delete it" in msg and "python -m minidl.data download mnist" in msg


def test_an_edited_pixel_in_an_unpacked_file_is_caught(folder: Path, fresh_verdicts) -> None:
    path = folder / TEST_IMAGES
    raw = tampered(path.read_bytes())
    path.unlink()
    path.with_suffix("").write_bytes(raw)  # kept unpacked, as some people do
    with pytest.raises(ChecksumError, match=TEST_IMAGES.removesuffix(".gz")):
        load_mnist("test", root=folder, download=False)


def test_unpacked_or_recompressed_official_contents_pass(folder: Path, fresh_verdicts) -> None:
    path = folder / TEST_IMAGES
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw, compresslevel=1))  # other bytes, same published contents
    assert load_mnist("test", root=folder, download=False).labels[:3].tolist() == [7, 2, 1]
    path.unlink()
    path.with_suffix("").write_bytes(raw)
    assert len(load_mnist("test", root=folder, download=False)) == 10_000


def test_the_verdict_is_cached_and_a_changed_file_is_checked_again(folder: Path, fresh_verdicts,
                                                                    monkeypatch) -> None:
    calls = hash_calls(monkeypatch)
    load_mnist("test", root=folder, download=False)
    assert len(calls) == 2  # the two test files, hashed once each
    assert verify.verdict_file().is_file()
    monkeypatch.setattr(verify, "_verified", {})  # a new session: the verdicts come from the JSON file
    load_mnist("test", root=folder, download=False)
    assert len(calls) == 2
    path = folder / TEST_IMAGES
    original = path.read_bytes()
    path.write_bytes(gzip.compress(tampered(original)))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a later modification time
    with pytest.raises(ChecksumError):
        load_mnist("test", root=folder, download=False)


def test_a_read_only_data_folder_and_an_unwritable_cache_still_verify(shared_data: Path, tmp_path: Path,
                                                                       monkeypatch) -> None:
    # ../shared/data is read-only: nothing is written beside the data. With the cache folder
    # unwritable too (here: under a regular file), the verdicts live in memory.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker / "cache"))
    monkeypatch.setattr(verify, "_verified", {})
    before = sorted(os.listdir(shared_data / "mnist"))
    calls = hash_calls(monkeypatch)
    load_mnist("test", root=shared_data, download=False)
    load_mnist("test", root=shared_data, download=False)
    assert len(calls) == 2  # remembered in memory
    assert sorted(os.listdir(shared_data / "mnist")) == before


def test_a_damaged_verdict_file_is_ignored(folder: Path, fresh_verdicts, monkeypatch) -> None:
    verify.verdict_file().parent.mkdir(parents=True)
    verify.verdict_file().write_text("{ not json")
    calls = hash_calls(monkeypatch)
    assert len(load_mnist("test", root=folder, download=False)) == 10_000
    assert len(calls) == 2
