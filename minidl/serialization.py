"""``save`` / ``load``: state dicts (nested dicts of Tensors, arrays and numbers) as ``.npz`` files.

Arrays are stored exactly (bit for bit) as NumPy ``.npy`` members; the nesting, the
numbers and the strings are stored as one JSON member. Nothing is pickled, so loading a
file can never run code. A save goes to a temporary file first and replaces the target
only when complete: an interrupted save never destroys the previous checkpoint.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from typing import Any

import numpy as np

from minidl import backend
from minidl.engine.tensor import Tensor

_META = "__minidl__"
_FORMAT = 1


def _encode(obj: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(obj, Tensor):
        key = f"a{len(arrays)}"
        arrays[key] = backend.to_numpy(obj.data)
        return {"__tensor__": key}
    if isinstance(obj, np.ndarray) or backend.backend_of(obj) is not backend.NUMPY:
        key = f"a{len(arrays)}"
        arrays[key] = backend.to_numpy(obj)
        return {"__array__": key}
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, dict):
        return {"__dict__": [[_encode(k, arrays), _encode(v, arrays)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, arrays) for v in obj]}
    if isinstance(obj, list):
        return [_encode(v, arrays) for v in obj]
    from minidl.nn.module import Module

    if isinstance(obj, Module):
        raise TypeError("minidl.save stores state dicts, not modules: save model.state_dict() and "
                        "load it with model.load_state_dict(minidl.load(path))")
    raise TypeError(f"minidl.save cannot store a {type(obj).__name__}: use dicts, lists, tuples, "
                    "Tensors, arrays, numbers, strings and None")


def _decode(obj: Any, arrays: Any) -> Any:
    if isinstance(obj, list):
        return [_decode(v, arrays) for v in obj]
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return Tensor(_to_backend(arrays[obj["__tensor__"]]))
        if "__array__" in obj:
            return _to_backend(arrays[obj["__array__"]])
        if "__tuple__" in obj:
            return tuple(_decode(v, arrays) for v in obj["__tuple__"])
        if "__dict__" in obj:
            return {_decode(k, arrays): _decode(v, arrays) for k, v in obj["__dict__"]}
    return obj


def _to_backend(a: np.ndarray) -> Any:
    return a if backend.xp is np else backend.xp.asarray(a)


def save(obj: Any, path: str | os.PathLike[str]) -> None:
    """Write ``obj`` (e.g. ``model.state_dict()``) to ``path`` (``.npz``), atomically."""
    arrays: dict[str, np.ndarray] = {}
    meta = {"format": _FORMAT, "object": _encode(obj, arrays)}
    arrays[_META] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".minidl-save-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a checkpoint gets ordinary permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def load(path: str | os.PathLike[str]) -> Any:
    """Read what :func:`save` wrote: Tensors come back as Tensors, arrays as arrays."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        archive = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as e:
        raise ValueError(f"{path} is not a minidl checkpoint (.npz): {e}") from None
    with archive:
        if _META not in archive.files:
            raise ValueError(f"{path} is an .npz file but not one written by minidl.save "
                             f"(no {_META} entry); open it with numpy.load instead")
        meta = json.loads(archive[_META].tobytes().decode())
        if meta.get("format") != _FORMAT:
            raise ValueError(f"{path} has checkpoint format {meta.get('format')}, this minidl reads {_FORMAT}")
        arrays = {k: archive[k] for k in archive.files if k != _META}
    return _decode(meta["object"], arrays)
