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
from typing import Any

import numpy as np

from minidl import backend
from minidl.engine.tensor import Tensor
from minidl.files import replace_atomically

_META = "__minidl__"
_FORMAT = 1


def _storable(array: np.ndarray, where: str) -> np.ndarray:
    """``array`` if an ``.npy`` member holds it without pickling, else a ``TypeError`` naming ``where``."""
    if array.dtype.hasobject:  # NumPy would pickle it, and load (allow_pickle=False) would refuse it
        raise TypeError(f"minidl.save cannot store {where}: an array of dtype {array.dtype} holds Python "
                        "objects, which only pickle can store (minidl never pickles: loading a file must "
                        "not run code). Convert it to a numeric array, or to a list of numbers and strings")
    return array


def _is_key(k: Any) -> bool:
    """Whether ``k`` comes back from the JSON member as an equal, hashable dict key."""
    if k is None or isinstance(k, (bool, int, float, str)):
        return True
    if isinstance(k, np.generic):
        return k.dtype.kind in "biuf"  # comes back as the equal Python number
    return isinstance(k, tuple) and all(_is_key(v) for v in k)


def _encode(obj: Any, arrays: dict[str, np.ndarray], where: str = "the object") -> Any:
    """``obj`` as JSON-ready values, its arrays moved into ``arrays``; raises ``TypeError`` for
    anything that cannot be stored without pickle, naming where in ``obj`` it sits."""
    if isinstance(obj, Tensor):
        key = f"a{len(arrays)}"
        arrays[key] = _storable(backend.to_numpy(obj.data), where)
        return {"__tensor__": key}
    if isinstance(obj, np.ndarray) or backend.backend_of(obj) is not backend.NUMPY:
        key = f"a{len(arrays)}"
        arrays[key] = _storable(backend.to_numpy(obj), where)
        return {"__array__": key}
    if isinstance(obj, np.generic):
        value = obj.item()
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        raise TypeError(f"minidl.save cannot store {where}: a NumPy {obj.dtype} scalar "
                        "(numbers, strings and arrays only)")
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, dict):
        for k in obj:
            if not _is_key(k):
                raise TypeError(f"minidl.save cannot store {where}: a dict key must be a number, a "
                                f"string, None or a tuple of them (got a {type(k).__name__})")
        return {"__dict__": [[_encode(k, arrays, where), _encode(v, arrays, f"{where}[{k!r}]")]
                             for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]
    from minidl.nn.module import Module

    if isinstance(obj, Module):
        raise TypeError("minidl.save stores state dicts, not modules: save model.state_dict() and "
                        "load it with model.load_state_dict(minidl.load(path))")
    raise TypeError(f"minidl.save cannot store {where}: a {type(obj).__name__} (use dicts, lists, "
                    "tuples, Tensors, arrays, numbers, strings and None)")


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
    """Write ``obj`` (e.g. ``model.state_dict()``) to ``path`` (``.npz``), atomically.

    Everything is checked before anything is written: a value that cannot be stored
    without pickle (an object array, a set, a Module, ...) raises ``TypeError`` naming
    where it sits in ``obj``, and the file at ``path`` is left as it was.
    """
    arrays: dict[str, np.ndarray] = {}
    try:
        meta = {"format": _FORMAT, "object": _encode(obj, arrays)}
    except RecursionError:
        raise ValueError("minidl.save cannot store an object that contains itself "
                         "(or is nested thousands of levels deep)") from None
    arrays[_META] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with replace_atomically(path, "wb", prefix=".minidl-save-", suffix="") as f:
        np.savez(f, allow_pickle=False, **arrays)  # a second guard: _encode refused objects


def load(path: str | os.PathLike[str]) -> Any:
    """Read what :func:`save` wrote: Tensors come back as Tensors, arrays as arrays.

    A file that is not a whole, unaltered minidl checkpoint (another format, a plain
    ``.npy``, flipped or missing bytes, an edited metadata member) raises ``ValueError``
    naming the file and what is wrong with it.
    """
    with open(path, "rb") as f:
        data = f.read()
    if data.startswith(b"\x93NUMPY"):
        raise ValueError(f"{path} is a single NumPy array (.npy), not a minidl checkpoint (.npz): "
                         "read it with numpy.load(path)")
    try:
        archive = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as e:
        raise ValueError(f"{path} is not a minidl checkpoint (.npz): {e}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):  # e.g. a text or pickle file numpy.load accepted
        raise ValueError(f"{path} is not a minidl checkpoint (.npz)")
    with archive:
        if _META not in archive.files:
            raise ValueError(f"{path} is an .npz file but not one written by minidl.save "
                             f"(no {_META} entry); open it with numpy.load instead")
        try:
            # the zip's CRC-32 per member catches flipped bytes as each member is read
            meta = json.loads(archive[_META].tobytes().decode())
            arrays = {k: archive[k] for k in archive.files if k != _META}
        except ValueError as e:
            if "allow_pickle" not in str(e):
                raise ValueError(f"{path} is damaged: a member of the checkpoint cannot be read "
                                 f"({type(e).__name__}: {e}). Use an earlier copy of the file") from None
            raise ValueError(f"{path} holds a pickled object array (an older minidl.save wrote those): "
                             "loading it would mean unpickling, which can run code, so minidl refuses. "
                             "If you trust the file, read it with numpy.load(path, allow_pickle=True)") from None
        except Exception as e:
            raise ValueError(f"{path} is damaged: a member of the checkpoint cannot be read "
                             f"({type(e).__name__}: {e}). Use an earlier copy of the file") from None
    if not isinstance(meta, dict) or "object" not in meta:
        raise ValueError(f"{path} is damaged: its {_META} member is not minidl's metadata")
    if meta.get("format") != _FORMAT:
        raise ValueError(f"{path} has checkpoint format {meta.get('format')}, this minidl reads {_FORMAT}")
    try:
        return _decode(meta["object"], arrays)
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise ValueError(f"{path} is damaged: its {_META} member refers to data the file does not hold "
                         f"({type(e).__name__}: {e})") from None
