"""The array module behind every Tensor: NumPy by default, CuPy on a GPU.

minidl never hard-codes ``numpy`` where the data's own array module should decide. Code
that creates an array asks for the module first (DeZero's idiom)::

    xp = get_array_module(x)          # numpy for NumPy arrays, cupy for CuPy arrays
    mask = xp.zeros(x.shape, dtype=bool)

and code that creates an array from nothing uses the active module, ``backend.xp``.
That is all it takes for the same code to run on a GPU.

- ``set_backend("cupy")`` (or ``MINIDL_BACKEND=cupy``) makes new Tensors, weights and
  datasets live on the GPU; ``set_backend("numpy")`` goes back.
- ``tensor.to("gpu")``, ``module.to("gpu")`` and ``.to("cpu")`` move existing objects.
- ``"standin"`` is a NumPy-backed imitation of CuPy for tests (see
  :mod:`minidl.backend.standin`): it refuses to mix with plain NumPy, the way CuPy does,
  so a NumPy array leaking into GPU code fails on a machine without a GPU.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable, Iterator

import numpy as np

_ndarray = np.ndarray


@dataclass(frozen=True)
class Backend:
    """An array module and what minidl needs to know about it."""

    name: str                       # "numpy", "cupy", "standin"
    module: ModuleType              # what ``xp`` is
    array_type: type                # its ndarray class
    device: str                     # "cpu" or "gpu"
    to_numpy: Callable[[Any], np.ndarray]
    synchronize: Callable[[], None]


NUMPY = Backend("numpy", np, np.ndarray, "cpu", np.asarray, lambda: None)

_backends: dict[str, Backend] = {"numpy": NUMPY}
_by_type: dict[type, Backend] = {np.ndarray: NUMPY}

xp: ModuleType = np
"""The active array module: arrays created from nothing are created here."""
_active: Backend = NUMPY


def register(backend: Backend) -> Backend:
    """Make an array library known to minidl (done for CuPy and the stand-in on first use)."""
    _backends[backend.name] = backend
    _by_type[backend.array_type] = backend
    return backend


def _load(name: str) -> Backend:
    """The backend called ``name``, importing its module on first use, with errors that say why."""
    if name in _backends:
        return _backends[name]
    if name == "cupy":
        from minidl.backend.cupy_backend import load_cupy

        return register(load_cupy())
    if name == "standin":
        import minidl.backend.standin  # noqa: F401 - registers itself on import

        return _backends["standin"]
    raise ValueError(f"unknown backend {name!r}: expected 'numpy', 'cupy' or 'standin'")


def backend_of(a: Any) -> Backend:
    """The backend that owns array ``a`` (NumPy for anything that is not a known array)."""
    t = type(a)
    if t is _ndarray:
        return NUMPY
    found = _by_type.get(t)
    if found is not None:
        return found
    for array_type, b in _by_type.items():
        if isinstance(a, array_type):
            return b
    return NUMPY


def get_array_module(*arrays: Any) -> ModuleType:
    """The array module (``numpy``, ``cupy``, …) of the given arrays, as ``cupy.get_array_module``.

    Scalars and other non-arrays are ignored; with no array among the arguments the answer
    is NumPy.
    """
    for a in arrays:
        if type(a) is _ndarray:
            continue
        b = backend_of(a)
        if b is not NUMPY:
            return b.module
    return np


def device_of(a: Any) -> str:
    """``"cpu"`` or ``"gpu"`` for an array."""
    return backend_of(a).device


def set_backend(name: str) -> None:
    """Make ``name`` ("numpy", "cupy" or "standin") the module new arrays are created in.

    Asking for CuPy where it is not installed, or where it finds no GPU, raises a
    RuntimeError that says which.
    """
    global xp, _active
    b = _load(name)
    _active, xp = b, b.module


def get_backend() -> str:
    """The name of the active backend."""
    return _active.name


@contextlib.contextmanager
def use(name: str) -> Iterator[ModuleType]:
    """``with backend.use("standin"): ...`` — a backend for a block, restored afterwards."""
    previous = _active.name
    set_backend(name)
    try:
        yield xp
    finally:
        set_backend(previous)


def to_numpy(a: Any) -> np.ndarray:
    """A NumPy copy (or view) of an array from any backend: for printing, saving, plotting."""
    if type(a) is _ndarray:
        return a
    return backend_of(a).to_numpy(a)


def gpu_backend() -> Backend:
    """The backend that ``.to("gpu")`` moves to: CuPy when it works here, else a registered stand-in."""
    if _active.device == "gpu":
        return _active
    try:
        return _load("cupy")
    except RuntimeError as cupy_error:
        for b in _backends.values():
            if b.device == "gpu":
                return b
        raise cupy_error


def to_device(a: Any, device: str) -> Any:
    """Array ``a`` on ``device`` ("cpu", or "gpu"/"cuda"): ``a`` itself if it is there already,
    else a copy in that device's array module.

    Arrays only: the backend sits below the engine and knows nothing of Tensors. A Tensor
    moves with ``tensor.to(device)``, a model with ``module.to(device)``; both call this on
    their arrays and wrap the result themselves.
    """
    if hasattr(a, "grad_fn"):
        raise TypeError("backend.to_device moves arrays; move a Tensor with tensor.to(device)")
    if device in ("cuda", "gpu"):
        target = gpu_backend()
    elif device == "cpu":
        target = NUMPY
    else:
        raise ValueError(f"device must be 'cpu' or 'gpu' (got {device!r})")
    source = backend_of(a)
    if source is target:
        return a
    host = source.to_numpy(a)
    return host if target is NUMPY else target.module.asarray(host)


def synchronize() -> None:
    """Wait for queued GPU work (a no-op on NumPy); call before reading a timer."""
    _active.synchronize()


def check_same_device(arrays: tuple[Any, ...], op: str) -> None:
    """Raise a clear error when the arrays of one op live on different devices."""
    if len(_by_type) == 1:  # only NumPy is known, so every array is on the host: 0.4 µs a call saved
        return
    owners = {backend_of(a).name: backend_of(a) for a in arrays if hasattr(a, "shape")}
    if len(owners) > 1:
        where = ", ".join(f"{b.device} ({name})" for name, b in owners.items())
        raise RuntimeError(f"{op}: expected all tensors on the same device, found {where}; "
                           "move them with .to('gpu') or .to('cpu') first")


if os.environ.get("MINIDL_BACKEND", "numpy") != "numpy":
    set_backend(os.environ["MINIDL_BACKEND"])
