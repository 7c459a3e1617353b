"""Checking dataset files already on disk against their published SHA-256, once per file.

A download is verified as it arrives (:mod:`minidl.data.download`), but a file found on
disk may have been altered since, or copied only in part: its IDX structure can still be
valid (a pixel changed, a gzip stream recompressed from edited data), so only the digest
tells. Hashing MNIST's four files takes a fraction of a second, so it is done once per
version of a file: the verdict "the file at this path, of this size and modification
time, is the published one" is remembered in ``$XDG_CACHE_HOME/minidl/verified.json``
(``~/.cache/minidl/verified.json``) and in memory. Nothing is ever written beside the data,
so a read-only or shared data folder works as well as one's own; when the cache folder
cannot be written either, the verdicts live in memory for the session.

A file kept gzipped as published is checked against the published digest; a file kept
unpacked (or recompressed) is checked against the digest of the published contents.

This guards against accidents (an edited copy, an interrupted ``cp``), not against an
attacker, who could also edit the verdict file.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import tempfile
import zlib
from pathlib import Path
from typing import Any

from minidl.data.download import ChecksumError, RemoteFile, cache_home

_GZIP_SIGNATURE = b"\x1f\x8b"
_verified: dict[str, list[Any]] = {}  # this session's verdicts: path -> [size, mtime_ns, sha256]


def verdict_file() -> Path:
    """Where verdicts are remembered between sessions: ``<cache home>/verified.json``."""
    return cache_home() / "verified.json"


def _stamp(path: Path, expected: RemoteFile) -> tuple[str, list[Any]]:
    stat = path.stat()
    return str(path.resolve()), [stat.st_size, stat.st_mtime_ns, expected.sha256]


def _remembered() -> dict[str, Any]:
    try:
        data = json.loads(verdict_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):  # absent, unreadable or damaged: verify again
        return {}
    return data if isinstance(data, dict) else {}


def _remember(key: str, stamp: list[Any]) -> None:
    _verified[key] = stamp
    target = verdict_file()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        verdicts = _remembered()
        verdicts[key] = stamp
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".verified-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(verdicts, f, indent=0)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    except OSError:  # a read-only cache folder: the in-memory verdict serves this session
        pass


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verify_local_file(path: str | os.PathLike[str], expected: RemoteFile, fix: str = "") -> None:
    """Raise :class:`~minidl.data.ChecksumError` unless ``path`` holds the published ``expected``.

    The file may be gzipped (as published, or recompressed) or unpacked; ``fix`` is
    appended to the error (what to do, e.g. which command downloads it again). A file whose
    size and modification time are unchanged since it last passed is not hashed again.
    """
    path = Path(path)
    key, stamp = _stamp(path, expected)
    if _verified.get(key) == stamp or _remembered().get(key) == stamp:
        _verified[key] = stamp
        return
    data = path.read_bytes()
    if _sha256(data) == expected.sha256:
        _remember(key, stamp)
        return
    if expected.unpacked_sha256:
        try:
            contents = gzip.decompress(data) if data.startswith(_GZIP_SIGNATURE) else data
        except (EOFError, OSError, zlib.error):
            contents = None
        if contents is not None and _sha256(contents) == expected.unpacked_sha256:
            _remember(key, stamp)  # the published contents, unpacked or compressed anew
            return
    elif path.name != expected.name:
        return  # kept in a form (e.g. unpacked) whose digest is not known: nothing to check against
    raise ChecksumError(
        f"{path} is not the published {expected.name}: its contents differ from the official file's "
        f"(SHA-256 {_sha256(data)[:16]}..., {len(data):,} bytes; the published file is "
        f"{expected.size:,} bytes with SHA-256 {expected.sha256[:16]}...). It was altered or only "
        f"partly copied. Delete it and copy or download it again{fix}.")


def remember_verified(path: str | os.PathLike[str], expected: RemoteFile) -> None:
    """Record that ``path`` was just verified (e.g. by the download), so it is not hashed again."""
    key, stamp = _stamp(Path(path), expected)
    _remember(key, stamp)
