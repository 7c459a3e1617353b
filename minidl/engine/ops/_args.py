"""Argument handling shared by the ops: PyTorch's and NumPy's names for axes and dims.

(Operands — ``as_tensor``, ``constant_like``, ``promote`` — live beside ``array_of`` in
:mod:`minidl.engine.tensor`; they are imported here too for the modules that used them from here.)"""

from __future__ import annotations

from typing import Any

import numpy as np

from minidl.engine.tensor import as_tensor, constant_like, promote

__all__ = ["as_tensor", "check_dim", "constant_like", "keep_dims", "normalize_axes", "promote",
           "reduction_axis"]

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


def check_dim(dim: int, ndim: int) -> int:
    """``dim`` as a non-negative axis, with PyTorch's error for one out of range.

    As in PyTorch, a 0-d tensor accepts dim 0 and -1 (it is treated as having one axis).
    """
    low, high = -max(ndim, 1), max(ndim, 1) - 1
    if not low <= dim <= high:
        raise IndexError(f"Dimension out of range (expected to be in range of [{low}, {high}], "
                         f"but got {dim})")
    return int(dim) % max(ndim, 1)


def normalize_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """Reduction axes as a sorted tuple of non-negative ints (all axes for ``None``).

    A 0-d tensor has nothing to reduce: its dim 0 (or -1), which PyTorch accepts, gives ().
    """
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = [check_dim(a, ndim) for a in axes]
    return () if ndim == 0 else tuple(sorted(out))
