"""The array module behind every Tensor: NumPy by default, CuPy when asked for.

minidl never hard-codes ``numpy`` where an input's array module should decide.
Code that creates an array asks for the module first::

    xp = get_array_module(x)      # numpy for NumPy arrays, cupy for CuPy arrays
    mask = xp.zeros(x.shape, dtype=bool)

and code that creates an array from nothing uses the active module ``backend.xp``.
This is DeZero's idiom; it is what lets the same code run on a GPU.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any

import numpy as np

_ndarray = np.ndarray

# Array modules other than NumPy register themselves here: (array type, module).
_extra_modules: list[tuple[type, ModuleType]] = []

xp: ModuleType = np
"""The active array module: arrays created from nothing are created here."""


def register_array_module(array_type: type, module: ModuleType) -> None:
    """Teach :func:`get_array_module` about another array library (CuPy, a test stand-in)."""
    for i, (t, _) in enumerate(_extra_modules):
        if t is array_type:
            _extra_modules[i] = (array_type, module)
            return
    _extra_modules.append((array_type, module))


def get_array_module(*arrays: Any) -> ModuleType:
    """The array module (``numpy``, ``cupy``, …) that owns the given arrays.

    Scalars and other non-arrays are ignored; with no array among the arguments the
    answer is NumPy, as in ``cupy.get_array_module``.
    """
    for a in arrays:
        t = type(a)
        if t is _ndarray:
            continue
        for array_type, module in _extra_modules:
            if isinstance(a, array_type):
                return module
        data = getattr(a, "data", None)  # a Tensor: look at what it wraps
        if data is not None and data is not a and not isinstance(data, memoryview):
            return get_array_module(data)
    return np


def set_backend(name: str) -> None:
    """Make ``name`` ("numpy", or a registered module's name) the active array module."""
    global xp
    if name == "numpy":
        xp = np
        return
    for _, module in _extra_modules:
        if module.__name__ == name or getattr(module, "backend_name", None) == name:
            xp = module
            return
    raise ValueError(f"unknown backend {name!r}: expected 'numpy' or one of "
                     f"{[getattr(m, 'backend_name', m.__name__) for _, m in _extra_modules]}")


def to_numpy(a: Any) -> np.ndarray:
    """A NumPy copy (or view) of an array from any registered module, for printing and saving."""
    if type(a) is _ndarray:
        return a
    module = get_array_module(a)
    if module is not np and hasattr(module, "asnumpy"):
        return module.asnumpy(a)
    return np.asarray(a)  # host


if os.environ.get("MINIDL_BACKEND", "numpy") != "numpy":  # pragma: no cover - set by users
    set_backend(os.environ["MINIDL_BACKEND"])


def to_device(t: Any, device: str) -> Any:
    """A Tensor's data moved to ``device`` ("cpu", or "gpu"/"cuda" when CuPy is active)."""
    from minidl.engine.tensor import Tensor

    if device == "cpu":
        data = to_numpy(t.data)
    elif device in ("gpu", "cuda"):
        gpu = [m for _, m in _extra_modules if getattr(m, "device_name", None) == "gpu"]
        if not gpu:
            raise RuntimeError("no GPU array module is available: install CuPy "
                               "(pip install 'minidl[cupy]') on a machine with a CUDA GPU")
        data = gpu[0].asarray(t.data)
    else:
        raise ValueError(f"device must be 'cpu' or 'gpu' (got {device!r})")
    if data is t.data:
        return t
    out = Tensor._wrap(data, requires_grad=t.requires_grad)
    return out


def synchronize() -> None:
    """Wait for queued GPU work (a no-op on NumPy); call before reading a timer."""
    sync = getattr(xp, "synchronize", None)
    if sync is not None:
        sync()
