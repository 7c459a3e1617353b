"""Argument handling shared by the ops: Tensors from anything, PyTorch's and NumPy's names."""

from __future__ import annotations

from typing import Any

import numpy as np

from minidl import backend
from minidl.engine.tensor import Tensor, _Defaults

_ndarray = np.ndarray


def as_tensor(x: Any) -> Tensor:
    """``x`` as a Tensor: Tensors pass through, arrays are wrapped without a copy."""
    if isinstance(x, Tensor):
        return x
    return Tensor(x)


def constant_like(c: Any, like: Tensor) -> Tensor:
    """A Python number as a 0-d constant in ``like``'s array module and dtype.

    The dtype matters: under NumPy 2's promotion rules a float64 constant would silently
    turn a float32 model into float64 (and make it several times slower).
    """
    if isinstance(c, Tensor):
        return c
    dtype = like.data.dtype
    if isinstance(c, (bool, int, float, np.generic)) and not isinstance(c, np.ndarray):
        if dtype.kind != "f" and isinstance(c, (float, np.floating)):
            dtype = _Defaults.dtype  # int tensor * 0.5 -> default float, as in PyTorch
        elif dtype.kind == "b" and not isinstance(c, (bool, np.bool_)):
            dtype = np.dtype("int64")
        xp = backend.get_array_module(like.data)
        return Tensor._wrap(xp.asarray(c, dtype=dtype))
    return as_tensor(c)


def reduction_axis(dim: Any, axis: Any) -> Any:
    """Accept PyTorch's ``dim`` or NumPy's ``axis`` (not both); lists become tuples."""
    if dim is not None and axis is not None:
        raise TypeError("give either dim (PyTorch) or axis (NumPy), not both")
    a = dim if dim is not None else axis
    if isinstance(a, list):
        a = tuple(a)
    return a


def keep_dims(keepdim: Any, keepdims: Any) -> bool:
    """Accept PyTorch's ``keepdim`` or NumPy's ``keepdims``."""
    if keepdim is not None and keepdims is not None and bool(keepdim) != bool(keepdims):
        raise TypeError("give either keepdim (PyTorch) or keepdims (NumPy), not both")
    return bool(keepdim if keepdim is not None else keepdims)


def normalize_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """Reduction axes as a sorted tuple of non-negative ints (all axes for ``None``)."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise IndexError(f"dim {a} is out of range for a tensor with {ndim} dimensions")
        out.append(int(a) % max(ndim, 1))
    return tuple(sorted(out))
