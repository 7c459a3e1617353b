"""Getting dataset files onto the disk: where they live, and downloading them safely.

Where: a *data home* folder holds one subfolder per dataset (``mnist/``,
``fashion-mnist/``). It is, in order of precedence, the ``root`` argument of a loader,
the ``MINIDL_DATA`` environment variable, or ``$XDG_CACHE_HOME/minidl/data`` (by default
``~/.cache/minidl/data``, like PyTorch's ``~/.cache/torch``).

How a file is downloaded, so that a half or wrong file is never used:

1. the mirrors are tried in turn until one delivers the file;
2. the bytes stream into a temporary ``.part`` file beside the destination while their
   MD5 and SHA-256 are computed (a progress bar shows when stderr is a terminal);
3. a connection that closes early, a length that differs from ``Content-Length``, a
   mirror silent for ``timeout`` seconds or slower than the ``deadline`` for the whole
   file (a server trickling bytes never trips the first), or a digest that differs from
   the published one rejects the file: the ``.part`` file is deleted and the next mirror
   is tried;
4. only a verified file is renamed to its real name (``os.replace``, atomic on one
   file system), so an interrupted run leaves nothing that looks complete. It gets the
   permissions of any new file (the umask), so a shared ``MINIDL_DATA`` stays readable.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from minidl.data.idx import DataFileError
from minidl.files import replace_atomically

DEFAULT_TIMEOUT = 30.0  # seconds without a byte before a mirror counts as down
DEFAULT_DEADLINE = 600.0  # seconds for one whole file from one mirror (26 MB at 45 KB/s)
_CHUNK = 1 << 16


class DownloadError(OSError):
    """One download failed: no connection, an HTTP error, or a connection dropped mid-file."""


class ChecksumError(DataFileError):
    """Downloaded bytes whose MD5 or SHA-256 differs from the published digest."""


class DatasetNotAvailableError(FileNotFoundError):
    """A dataset's files are neither on disk nor downloadable (offline, or every mirror failed)."""


@dataclass(frozen=True)
class RemoteFile:
    """A file as its publisher describes it: name, size in bytes, MD5 and SHA-256 (hex).

    ``unpacked_sha256`` is the SHA-256 of the gunzipped contents, so that a copy kept
    unpacked can be verified too (:mod:`minidl.data.verify`); empty when unknown.
    """

    name: str
    size: int
    md5: str
    sha256: str
    unpacked_sha256: str = ""


def cache_home() -> Path:
    """``$XDG_CACHE_HOME/minidl``, or ``~/.cache/minidl`` when that is unset."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "minidl"


def default_data_home() -> Path:
    """``$XDG_CACHE_HOME/minidl/data``, or ``~/.cache/minidl/data`` when that is unset."""
    return cache_home() / "data"


def data_home(root: str | os.PathLike[str] | None = None) -> Path:
    """The data home: ``root`` if given, else ``$MINIDL_DATA``, else :func:`default_data_home`."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("MINIDL_DATA")
    return Path(env).expanduser() if env else default_data_home()


def file_digests(path: str | os.PathLike[str]) -> tuple[str, str]:
    """(MD5, SHA-256) of a file, as lowercase hex."""
    md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            md5.update(chunk)
            sha256.update(chunk)
    return md5.hexdigest(), sha256.hexdigest()


def check_digests(source: str, size: int, md5: str, sha256: str, expected: RemoteFile) -> None:
    """Raise :class:`ChecksumError` unless size, MD5 and SHA-256 all match ``expected``."""
    problems = []
    if size != expected.size:
        problems.append(f"{size:,} bytes instead of {expected.size:,}")
    if md5 != expected.md5:
        problems.append(f"MD5 {md5} instead of {expected.md5}")
    if sha256 != expected.sha256:
        problems.append(f"SHA-256 {sha256} instead of {expected.sha256}")
    if problems:
        raise ChecksumError(f"{source} is not the published {expected.name}: " + "; ".join(problems))


def _progress_enabled(progress: bool | None) -> bool:
    return sys.stderr.isatty() if progress is None else progress


def _check_times(timeout: float, deadline: float | None) -> None:
    for name, value in (("timeout", timeout), ("deadline", deadline)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not value > 0):
            raise ValueError(f"{name} must be a positive number of seconds (got {value!r})")


def download_file(url: str, dest: str | os.PathLike[str], expected: RemoteFile, *,
                  timeout: float = DEFAULT_TIMEOUT, deadline: float | None = DEFAULT_DEADLINE,
                  progress: bool | None = None) -> Path:
    """Download ``url`` to ``dest``, verified against ``expected``; returns ``dest``.

    ``timeout`` bounds each wait for bytes (connecting, every read); ``deadline`` the
    whole file (``None``: no limit). The deadline is checked between reads, so a transfer
    ends at most ``timeout`` seconds after it. Raises :class:`DownloadError` when the
    transfer fails or is too slow and :class:`ChecksumError` when the bytes are not the
    published file; in both cases nothing is left at ``dest`` or beside it.
    """
    _check_times(timeout, deadline)
    dest = Path(dest)
    with replace_atomically(dest, "wb", suffix=".part") as out:  # a failed check leaves nothing behind
        received, md5, sha256 = _stream(url, out, expected, timeout, deadline, progress)
        check_digests(url, received, md5, sha256, expected)
    return dest


def _stream(url: str, out, expected: RemoteFile, timeout: float, deadline: float | None,
            progress: bool | None) -> tuple[int, str, str]:
    """Copy the response body into ``out``; returns (bytes received, MD5, SHA-256)."""
    from tqdm.auto import tqdm

    from minidl import __version__

    request = urllib.request.Request(url, headers={"User-Agent": f"minidl/{__version__}"})
    md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    received = 0
    start = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            with tqdm(total=total or expected.size, unit="B", unit_scale=True, unit_divisor=1024,
                      desc=expected.name, disable=not _progress_enabled(progress), leave=False) as bar:
                # read1: whatever has arrived (up to a chunk), so a trickle still returns to the deadline check
                while chunk := response.read1(_CHUNK):
                    out.write(chunk)
                    md5.update(chunk)
                    sha256.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
                    elapsed = time.monotonic() - start
                    if deadline is not None and elapsed > deadline:
                        raise DownloadError(f"too slow: {received:,} of {total or expected.size:,} bytes "
                                            f"after {elapsed:.1f} s (deadline {deadline:g} s per file)")
    except urllib.error.HTTPError as e:
        raise DownloadError(f"HTTP {e.code} {e.reason}") from e
    except urllib.error.URLError as e:
        raise DownloadError(f"cannot connect ({e.reason})") from e
    except http.client.IncompleteRead as e:
        raise DownloadError(f"connection closed after {received + len(e.partial):,} of "
                            f"{expected.size:,} bytes") from e
    except (TimeoutError, http.client.HTTPException, ConnectionError) as e:
        raise DownloadError(f"transfer interrupted after {received:,} bytes "
                            f"({type(e).__name__}: {e})") from e
    if total is not None and received != total:
        raise DownloadError(f"connection closed after {received:,} of {total:,} bytes")
    return received, md5.hexdigest(), sha256.hexdigest()


def fetch(expected: RemoteFile, folder: str | os.PathLike[str], mirrors: Sequence[str], *,
          timeout: float = DEFAULT_TIMEOUT, deadline: float | None = DEFAULT_DEADLINE,
          progress: bool | None = None) -> Path:
    """``folder/expected.name``, downloaded from the first mirror that delivers it intact.

    Mirrors are base URLs tried in the order given. If all fail, the
    :class:`DownloadError` lists what each one answered.
    """
    if not mirrors:
        raise ValueError("fetch needs at least one mirror URL")
    attempts = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + expected.name
        try:
            return download_file(url, Path(folder) / expected.name, expected,
                                 timeout=timeout, deadline=deadline, progress=progress)
        except (DownloadError, ChecksumError) as e:
            attempts.append(f"{url}: {e}")
    raise DownloadError(f"could not download {expected.name} from any mirror:\n  - "
                        + "\n  - ".join(attempts))
