"""Making Tensors: ``tensor``, ``zeros``, ``randn``… with PyTorch's names and dtype rules."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.random import Generator

from minidl import backend, random
from minidl.engine.tensor import Tensor, _Defaults, array_of, check_numeric


def _shape(size: tuple[Any, ...]) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for n in size:
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"sizes must be non-negative ints (got {size})")
    return tuple(int(n) for n in size)


def _dtype(dtype: Any) -> np.dtype:
    return _Defaults.dtype if dtype is None else np.dtype(dtype)


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """A new Tensor holding a copy of ``data`` (Python floats → float32, ints → int64).

    Like ``torch.tensor`` it copies; :func:`from_numpy` shares the array instead.
    """
    if isinstance(data, Tensor):
        data = data.data
    xp = backend.get_array_module(data)
    if hasattr(data, "shape"):
        data = xp.array(data, dtype=dtype, copy=True)
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def from_numpy(array: np.ndarray) -> Tensor:
    """A CPU Tensor sharing memory with ``array`` (changes to one show in the other)."""
    if type(array) is not np.ndarray:
        raise TypeError(f"from_numpy expects a NumPy array (got {type(array).__name__})")
    check_numeric(array, array)
    return Tensor._wrap(array)


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(backend.xp.zeros(_shape(size), dtype=_dtype(dtype)), requires_grad=requires_grad)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(backend.xp.ones(_shape(size), dtype=_dtype(dtype)), requires_grad=requires_grad)


def full(size: Any, fill_value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(backend.xp.full(_shape((size,)), fill_value, dtype=_dtype(dtype)),
                  requires_grad=requires_grad)


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(backend.xp.empty(_shape(size), dtype=_dtype(dtype)), requires_grad=requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(backend.xp.eye(n, m, dtype=_dtype(dtype)), requires_grad=requires_grad)


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None) -> Tensor:
    """Evenly spaced values in [start, end); integer arguments give int64, as in PyTorch."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = np.int64 if ints else _Defaults.dtype
    return Tensor(backend.xp.arange(start, end, step, dtype=dtype))


def linspace(start: float, end: float, steps: int, dtype: Any = None) -> Tensor:
    return Tensor(backend.xp.linspace(start, end, steps, dtype=_dtype(dtype)))


def _like(x: Any) -> tuple[Any, tuple[int, ...], np.dtype]:
    data = array_of(x)
    return backend.get_array_module(data), data.shape, data.dtype


def zeros_like(x: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    xp, shape, dt = _like(x)
    return Tensor(xp.zeros(shape, dtype=dtype or dt), requires_grad=requires_grad)


def ones_like(x: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    xp, shape, dt = _like(x)
    return Tensor(xp.ones(shape, dtype=dtype or dt), requires_grad=requires_grad)


def full_like(x: Any, fill_value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    xp, shape, dt = _like(x)
    return Tensor(xp.full(shape, fill_value, dtype=dtype or dt), requires_grad=requires_grad)


def rand(*size: Any, dtype: Any = None, requires_grad: bool = False,
         generator: Generator | None = None) -> Tensor:
    """U[0, 1) samples from minidl's seeded generator (see :func:`minidl.manual_seed`)."""
    data = random.uniform(_shape(size), 0.0, 1.0, _dtype(dtype), backend.xp, generator)
    return Tensor(data, requires_grad=requires_grad)


def randn(*size: Any, dtype: Any = None, requires_grad: bool = False,
          generator: Generator | None = None) -> Tensor:
    """N(0, 1) samples from minidl's seeded generator (see :func:`minidl.manual_seed`)."""
    data = random.normal(_shape(size), 0.0, 1.0, _dtype(dtype), backend.xp, generator)
    return Tensor(data, requires_grad=requires_grad)


def randint(low: int, high: int | None = None, size: Any = (), dtype: Any = None,
            generator: Generator | None = None) -> Tensor:
    """Integers in [low, high) (int64) from minidl's seeded generator."""
    if high is None:
        low, high = 0, low
    a = random.host_rng(generator).integers(low, high, size=_shape((size,)) if size != () else ())
    a = np.asarray(a, dtype=dtype or np.int64)  # host: drawn on the host, moved below
    return Tensor(a if backend.xp is np else backend.xp.asarray(a))


def randperm(n: int, generator: Generator | None = None) -> Tensor:
    """A random permutation of 0..n-1 (int64)."""
    a = random.host_rng(generator).permutation(n).astype(np.int64)
    return Tensor(a if backend.xp is np else backend.xp.asarray(a))
