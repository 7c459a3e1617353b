"""The download path, against HTTP servers on 127.0.0.1 (never the internet): verified files,
corrupt copies, dropped connections, mirror fallback in order, and the offline message."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import socket
import threading
import time
from pathlib import Path

import pytest

from minidl.data import ChecksumError, DatasetNotAvailableError, DownloadError, load_mnist
from minidl.data.download import RemoteFile, data_home, default_data_home, download_file, fetch
from minidl.data.mnist import MNIST, dataset_files


def remote_for(name: str, data: bytes) -> RemoteFile:
    return RemoteFile(name, len(data), hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest())


class Mirror:
    """A tiny HTTP server: serves ``files`` (name → bytes) with a chosen misbehaviour."""

    def __init__(self, files: dict[str, bytes], mode: str = "ok") -> None:
        self.files, self.mode, self.requests = files, mode, []
        mirror = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                name = self.path.rsplit("/", 1)[-1]
                mirror.requests.append(name)
                data = mirror.files.get(name)
                if data is None or mirror.mode == "missing":
                    self.send_error(404, "not here")
                    return
                if mirror.mode == "corrupt":
                    data = data[:100] + bytes([data[100] ^ 0xFF]) + data[101:]
                self.send_response(200)
                if mirror.mode != "drop-no-length":
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if mirror.mode == "slow":
                    time.sleep(1.0)
                if mirror.mode == "trickle":  # 100 bytes every 50 ms: never silent for long, never done
                    try:
                        for start in range(0, len(data), 100):
                            self.wfile.write(data[start:start + 100])
                            self.wfile.flush()
                            time.sleep(0.05)
                    except OSError:  # the client gave up
                        pass
                    return
                if mirror.mode.startswith("drop"):
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/data/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def mirror():
    servers: list[Mirror] = []

    def start(files: dict[str, bytes], mode: str = "ok") -> Mirror:
        servers.append(Mirror(files, mode))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


@pytest.fixture
def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (a refused connection, like being offline)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


PAYLOAD = bytes(range(256)) * 40  # 10 KiB: big enough for several chunks' worth of progress


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_verifies_and_renames(mirror, tmp_path):
    remote = remote_for("blob.bin", PAYLOAD)
    server = mirror({"blob.bin": PAYLOAD})
    path = download_file(server.url + "blob.bin", tmp_path / "blob.bin", remote, progress=False)
    assert path.read_bytes() == PAYLOAD
    assert leftovers(tmp_path) == ["blob.bin"]  # no .part file left behind


def test_progress_bar_shows_the_file_name(mirror, tmp_path, capsys):
    server = mirror({"blob.bin": PAYLOAD})
    remote = remote_for("blob.bin", PAYLOAD)
    download_file(server.url + "blob.bin", tmp_path / "blob.bin", remote, progress=True)
    assert "blob.bin" in capsys.readouterr().err


@pytest.mark.parametrize("mode, error, match, options", [
    ("corrupt", ChecksumError, "MD5 .* instead of .*SHA-256", {}),  # a corrupt copy is rejected, never used
    ("drop", DownloadError, f"connection closed after 5,120 of {len(PAYLOAD):,} bytes", {}),  # dropped mid-file
    ("drop-no-length", ChecksumError, "5,120 bytes instead of 10,240", {}),  # no length: the checksum catches it
    ("slow", DownloadError, "timed out|interrupted", {"timeout": 0.2}),  # a stalled server times out
])
def test_a_failed_download_raises_and_leaves_nothing(mirror, tmp_path, mode, error, match, options):
    server = mirror({"blob.bin": PAYLOAD}, mode=mode)
    with pytest.raises(error, match=match):
        download_file(server.url + "blob.bin", tmp_path / "blob.bin", remote_for("blob.bin", PAYLOAD),
                      progress=False, **options)
    assert leftovers(tmp_path) == []


def test_mirrors_are_tried_in_order_until_one_delivers(mirror, tmp_path):
    files = {"blob.bin": PAYLOAD}
    order = [mirror(files, "missing"), mirror(files, "corrupt"), mirror(files, "drop"), mirror(files, "ok"),
             mirror(files, "ok")]
    path = fetch(remote_for("blob.bin", PAYLOAD), tmp_path, [m.url for m in order], progress=False)
    assert path.read_bytes() == PAYLOAD
    assert [len(m.requests) for m in order] == [1, 1, 1, 1, 0]  # the last good one was never needed


def test_when_every_mirror_fails_the_error_lists_each(mirror, tmp_path, closed_port_url):
    files = {"blob.bin": PAYLOAD}
    urls = [mirror(files, "missing").url, mirror(files, "corrupt").url, closed_port_url]
    with pytest.raises(DownloadError) as info:
        fetch(remote_for("blob.bin", PAYLOAD), tmp_path, urls, progress=False)
    message = str(info.value)
    assert "HTTP 404" in message and "SHA-256" in message and "cannot connect" in message
    assert leftovers(tmp_path) == []


def test_load_mnist_downloads_once_then_works_offline(shared_data, mirror, tmp_path, closed_port_url):
    originals = {f.name: (shared_data / "mnist" / f.name).read_bytes() for f in MNIST.files}
    dropping, good = mirror(originals, "drop"), mirror(originals, "ok")
    train = load_mnist("test", root=tmp_path, mirrors=[dropping.url, good.url], progress=False)
    assert len(train) == 10000 and train.labels[:5].tolist() == [7, 2, 1, 0, 4]
    assert leftovers(tmp_path / "mnist") == sorted(f.name for f in MNIST.files)
    assert sorted(good.requests) == sorted(f.name for f in MNIST.files)
    # the second time nothing is fetched: an unreachable mirror does not matter
    again = load_mnist("val", root=tmp_path, mirrors=[closed_port_url], download=True)
    assert len(again) == 10000
    assert len(good.requests) == 4


def test_only_missing_files_are_downloaded(shared_data, mirror, tmp_path):
    originals = {f.name: (shared_data / "mnist" / f.name).read_bytes() for f in MNIST.files}
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(originals["train-images-idx3-ubyte.gz"])
    server = mirror(originals, "ok")
    dataset_files(MNIST, root=tmp_path, mirrors=[server.url], progress=False)
    assert sorted(server.requests) == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
                                       "train-labels-idx1-ubyte.gz"]


def test_offline_error_says_what_to_do(tmp_path, closed_port_url):
    with pytest.raises(DatasetNotAvailableError) as info:
        load_mnist(root=tmp_path, mirrors=[closed_port_url], progress=False)
    message = str(info.value)
    assert isinstance(info.value, FileNotFoundError)  # the CLI reports it as a clean error
    for needed in ("MNIST is not available", "cannot connect", "train-images-idx3-ubyte.gz",
                   "t10k-labels-idx1-ubyte.gz", "root=", "MINIDL_DATA",
                   "python -m minidl.data download mnist"):
        assert needed in message
    assert leftovers(tmp_path / "mnist") == []


def test_download_false_never_touches_the_network(tmp_path):
    with pytest.raises(DatasetNotAvailableError, match="download=False"):
        load_mnist(root=tmp_path, download=False)
    assert not (tmp_path / "mnist").exists()


def test_data_home_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv("MINIDL_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_data_home() == tmp_path / "xdg" / "minidl" / "data"
    assert data_home() == default_data_home()
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_data_home() == Path.home() / ".cache" / "minidl" / "data"
    monkeypatch.setenv("MINIDL_DATA", str(tmp_path / "env"))
    assert data_home() == tmp_path / "env"
    assert data_home(tmp_path / "arg") == tmp_path / "arg"


def test_minidl_data_points_at_a_folder_of_files(shared_data, monkeypatch):
    monkeypatch.setenv("MINIDL_DATA", str(shared_data / "mnist"))  # the four files themselves
    assert len(load_mnist("test", download=False)) == 10000
    monkeypatch.setenv("MINIDL_DATA", str(shared_data))  # a data home with mnist/ inside
    assert len(load_mnist("test", download=False)) == 10000


def test_download_command_reports_offline_failure(tmp_path, capsys, monkeypatch, closed_port_url):
    from minidl.data import __main__ as cli

    monkeypatch.setitem(cli.DATASETS, "mnist", dataclasses.replace(MNIST, mirrors=(closed_port_url,)))
    assert cli.main(["download", "mnist", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "MNIST is not available" in err and len(err.strip().splitlines()) == 1  # one line, as every CLI error


def test_a_trickling_mirror_hits_the_deadline(mirror, tmp_path):
    server = mirror({"blob.bin": PAYLOAD}, mode="trickle")  # would need 5 s for the whole file
    start = time.monotonic()
    with pytest.raises(DownloadError, match=r"too slow: .* bytes after .* s \(deadline 0.5 s per file\)"):
        download_file(server.url + "blob.bin", tmp_path / "blob.bin", remote_for("blob.bin", PAYLOAD),
                      timeout=2, deadline=0.5, progress=False)
    assert time.monotonic() - start < 3  # the deadline, plus at most one read's timeout
    assert leftovers(tmp_path) == []


def test_after_the_deadline_the_next_mirror_is_tried(mirror, tmp_path):
    files = {"blob.bin": PAYLOAD}
    slow, good = mirror(files, "trickle"), mirror(files, "ok")
    path = fetch(remote_for("blob.bin", PAYLOAD), tmp_path, [slow.url, good.url], timeout=2, deadline=0.4,
                 progress=False)
    assert path.read_bytes() == PAYLOAD and good.requests == ["blob.bin"]


def test_load_mnist_timeout_moves_on_to_the_next_mirror(shared_data, mirror, tmp_path):
    originals = {f.name: (shared_data / "mnist" / f.name).read_bytes() for f in MNIST.files}
    slow, good = mirror(originals, "trickle"), mirror(originals, "ok")
    start = time.monotonic()
    test = load_mnist("test", root=tmp_path, mirrors=[slow.url, good.url], timeout=0.5, progress=False)
    assert len(test) == 10_000
    assert sorted(good.requests) == sorted(f.name for f in MNIST.files)
    assert time.monotonic() - start < 30
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        load_mnist("test", root=tmp_path, timeout=0)


def test_downloaded_files_get_the_umask_not_0600(mirror, tmp_path):
    import os

    server = mirror({"blob.bin": PAYLOAD})
    old = os.umask(0o022)
    try:
        path = download_file(server.url + "blob.bin", tmp_path / "blob.bin", remote_for("blob.bin", PAYLOAD),
                             progress=False)
    finally:
        os.umask(old)
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)  # readable by others sharing MINIDL_DATA
