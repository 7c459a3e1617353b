"""Writing a file so that an interruption never destroys what was there before.

One helper for one idea: checkpoints (``minidl.save``), search results, downloads and the
tour's progress all write through :func:`replace_atomically`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it: put it straight back
    os.umask(mask)
    return mask


@contextlib.contextmanager
def replace_atomically(path: str | os.PathLike[str], mode: str = "w", *, prefix: str | None = None,
                       suffix: str = ".tmp", **open_kwargs: Any) -> Iterator[IO[Any]]:
    """``with replace_atomically(path, "wb") as f: ...`` writes to a temporary file beside ``path``.

    When the block ends normally, the file is flushed to disk, given a new file's ordinary
    permissions (``mkstemp`` makes 0600) and renamed over ``path`` in one step (``os.replace``).
    When the block raises, the temporary file is removed and ``path`` is left as it was: a
    failed write (disk full, interrupted, a check that failed) never destroys the previous file.
    The folder is created if missing.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}." if prefix is None else prefix, suffix=suffix,
                               dir=path.parent)
    try:
        with os.fdopen(fd, mode, **open_kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
