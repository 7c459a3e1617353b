"""Reductions over axes: sum, mean, max/min, var, argmax, logsumexp.

Each accepts PyTorch's ``dim``/``keepdim`` and NumPy's ``axis``/``keepdims`` so both habits
work. Their gradients spread ``gy`` back over the reduced axes.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np

from minidl import backend
from minidl.engine.function import Function
from minidl.engine.ops._args import as_tensor, check_dim, keep_dims, normalize_axes, reduction_axis
from minidl.engine.ops.shape import broadcast_to, reshape
from minidl.engine.tensor import Tensor, array_of


def _kept_shape(shape: tuple[int, ...], axes: tuple[int, ...] | None) -> tuple[int, ...]:
    """``shape`` with the reduced axes set to 1 (what ``keepdims=True`` gives)."""
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _spread(gy: Any, x_shape: tuple[int, ...], axes: tuple[int, ...] | None) -> Any:
    """gy of a reduction, broadcast back over the reduced axes to ``x_shape`` (None: all axes)."""
    if axes is not None and len(axes) < len(x_shape):
        gy = reshape(gy, _kept_shape(x_shape, axes))
    return broadcast_to(gy, x_shape)


class Sum(Function):
    """y = Σ x over ``axes``;   ∂y/∂x = 1 (gy is copied back over the summed axes)"""

    saved_for = ()

    def __init__(self, axes: tuple[int, ...] | None, keepdims: bool) -> None:
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x: Any) -> Any:
        return x.sum(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy: Any, x: Any) -> Any:
        return _spread(gy, x.shape, self.axes)


class Mean(Function):
    """y = (1/n) Σ x over ``axes`` (n elements);   ∂y/∂x = 1/n"""

    saved_for = ()

    def __init__(self, axes: tuple[int, ...], keepdims: bool) -> None:
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x: Any) -> Any:
        if x.dtype.kind in "iub":
            raise TypeError(f"mean of an integer tensor: convert it with .float() first (dtype {x.dtype})")
        if x.size == 0:  # the mean of nothing is NaN, as in PyTorch (and without NumPy's warning)
            shape = x.sum(axis=self.axes, keepdims=self.keepdims).shape
            return backend.get_array_module(x).full(shape, float("nan"), dtype=x.dtype)
        return x.mean(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy: Any, x: Any) -> Any:
        n = 1
        for a in (range(len(x.shape)) if self.axes is None else self.axes):
            n *= x.shape[a]
        # n = 0 only for an empty x, whose gradient is empty: any scale will do there.
        return _spread(gy * (1.0 / n if n else 1.0), x.shape, self.axes)


class Amax(Function):
    """y = max x over ``axes``;   ∂y/∂x = 1/k at each of the k maxima, else 0 (ties share)"""

    needs_output = True
    reduce = "max"

    def __init__(self, axes: tuple[int, ...], keepdims: bool) -> None:
        self.axes, self.keepdims = axes, keepdims

    def forward(self, x: Any) -> Any:
        if x.size == 0:
            raise ValueError(f"{self.reduce} of an empty tensor (shape {x.shape}) has no value")
        return getattr(x, self.reduce)(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy: Any, x: Any, y: Any) -> Any:
        xd, yd = array_of(x), array_of(y)
        hit = xd == yd.reshape(_kept_shape(xd.shape, self.axes))
        share = hit / hit.sum(axis=self.axes, keepdims=True)
        return _spread(gy, xd.shape, self.axes) * share.astype(xd.dtype)


class Amin(Amax):
    """y = min x over ``axes``;   ∂y/∂x = 1/k at each of the k minima, else 0 (ties share)"""

    reduce = "min"


def _axes_and_keep(x: Any, dim: Any, keepdim: Any, axis: Any, keepdims: Any) -> tuple[tuple[int, ...] | None, bool]:
    """Sorted non-negative reduction axes, or None for all axes (NumPy's fastest path)."""
    if dim is None and axis is None:
        return None, keep_dims(keepdim, keepdims)
    return normalize_axes(reduction_axis(dim, axis), x.ndim), keep_dims(keepdim, keepdims)


def sum(x: Any, dim: Any = None, keepdim: Any = None, *, axis: Any = None,  # noqa: A001
        keepdims: Any = None) -> Any:
    """Σ x over ``dim`` (all axes when None)."""
    x = x if hasattr(x, "shape") else as_tensor(x)
    axes, keep = _axes_and_keep(x, dim, keepdim, axis, keepdims)
    return Sum(axes, keep).apply(x)


def mean(x: Any, dim: Any = None, keepdim: Any = None, *, axis: Any = None,
         keepdims: Any = None) -> Any:
    """Arithmetic mean over ``dim`` (all axes when None)."""
    x = x if hasattr(x, "shape") else as_tensor(x)
    axes, keep = _axes_and_keep(x, dim, keepdim, axis, keepdims)
    return Mean(axes, keep).apply(x)


MaxResult = namedtuple("MaxResult", ["values", "indices"])


def _extreme(cls: type[Function], arg: str, x: Any, dim: Any, keepdim: Any, axis: Any, keepdims: Any) -> Any:
    x = x if hasattr(x, "shape") else as_tensor(x)
    if dim is not None and isinstance(dim, int) and axis is None:
        # PyTorch: ``x.max(dim)`` returns (values, indices); the gradient goes to that index.
        from minidl.engine.ops.shape import gather, squeeze

        keep = keep_dims(keepdim, keepdims)
        xd = array_of(x)
        if xd.size == 0:
            raise ValueError(f"{cls.reduce} of an empty tensor (shape {xd.shape}) has no value")
        d = check_dim(dim, xd.ndim)
        if xd.ndim == 0:  # PyTorch: the value itself, at index 0
            xp = backend.get_array_module(xd)
            return MaxResult(x, Tensor._wrap(xp.zeros((), dtype=np.int64)) if isinstance(x, Tensor)
                             else xp.zeros((), dtype=np.int64))
        idx = getattr(xd, arg)(axis=d, keepdims=True)
        values = (gather(x, d, idx) if isinstance(x, Tensor)
                  else backend.get_array_module(xd).take_along_axis(xd, idx, d))
        if not keep:
            values, idx = squeeze(values, d), idx.squeeze(d)
        return MaxResult(values, Tensor._wrap(idx) if isinstance(x, Tensor) else idx)
    axes, keep = _axes_and_keep(x, dim, keepdim, axis, keepdims)
    return cls(axes, keep).apply(x)


def max(x: Any, dim: Any = None, keepdim: Any = None, *, axis: Any = None,  # noqa: A001
        keepdims: Any = None) -> Any:
    """Largest value over all axes, or over ``axis`` (NumPy), or ``(values, indices)`` along ``dim``.

    ``x.max()`` and ``x.max(axis=1)`` return values, sharing the gradient among ties (as
    PyTorch's ``amax``); ``x.max(dim=1)`` returns PyTorch's ``(values, indices)`` pair and
    sends the gradient to the returned index. For the elementwise max of two tensors use
    :func:`maximum`.
    """
    return _extreme(Amax, "argmax", x, dim, keepdim, axis, keepdims)


def min(x: Any, dim: Any = None, keepdim: Any = None, *, axis: Any = None,  # noqa: A001
        keepdims: Any = None) -> Any:
    """Smallest value; the same forms as :func:`max`."""
    return _extreme(Amin, "argmin", x, dim, keepdim, axis, keepdims)


def amax(x: Any, dim: Any = None, keepdim: Any = None, *, axis: Any = None, keepdims: Any = None) -> Any:
    """Largest values over ``dim`` (values only; ties share the gradient)."""
    x = x if hasattr(x, "shape") else as_tensor(x)
    axes, keep = _axes_and_keep(x, dim, keepdim, axis, keepdims)
    return Amax(axes, keep).apply(x)


def amin(x: Any, dim: Any = None, keepdim: Any = None, *, axis: Any = None, keepdims: Any = None) -> Any:
    """Smallest values over ``dim`` (values only; ties share the gradient)."""
    x = x if hasattr(x, "shape") else as_tensor(x)
    axes, keep = _axes_and_keep(x, dim, keepdim, axis, keepdims)
    return Amin(axes, keep).apply(x)


def _arg(name: str, x: Any, dim: Any, keepdim: Any, axis: Any, keepdims: Any) -> Tensor:
    xd = array_of(x)
    a = reduction_axis(dim, axis)
    keep = keep_dims(keepdim, keepdims)
    if a is None:
        idx = getattr(xd.reshape(-1), name)()
        if keep:
            idx = idx.reshape((1,) * xd.ndim)
    else:
        idx = getattr(xd, name)(axis=a, keepdims=keep)
    xp = backend.get_array_module(xd)
    return Tensor._wrap(xp.asarray(idx, dtype=np.int64))


def argmax(x: Any, dim: Any = None, keepdim: Any = None, *, axis: Any = None, keepdims: Any = None) -> Tensor:
    """Index of the largest value (flattened when ``dim`` is None); no gradient."""
    return _arg("argmax", x, dim, keepdim, axis, keepdims)


def argmin(x: Any, dim: Any = None, keepdim: Any = None, *, axis: Any = None, keepdims: Any = None) -> Tensor:
    """Index of the smallest value (flattened when ``dim`` is None); no gradient."""
    return _arg("argmin", x, dim, keepdim, axis, keepdims)


def var(x: Any, dim: Any = None, *, correction: int | None = None, keepdim: Any = None,
        unbiased: bool | None = None, axis: Any = None, keepdims: Any = None, ddof: int | None = None) -> Tensor:
    """Variance Σ(x − x̄)² / (n − correction) over ``dim``.

    The default ``correction=1`` (the unbiased estimator) is PyTorch's; NumPy's ``var``
    defaults to ``ddof=0``. ``unbiased=False`` or ``ddof=0`` give the population variance.
    """
    given = [c for c in (correction, ddof, None if unbiased is None else int(unbiased)) if c is not None]
    if len(given) > 1:
        raise TypeError("give one of correction, unbiased and ddof")
    corr = given[0] if given else 1
    x = as_tensor(x)
    axes, keep = _axes_and_keep(x, dim, keepdim, axis, keepdims)
    axes = tuple(range(x.ndim)) if axes is None else axes
    n = 1
    for a in axes:
        n *= x.shape[a]
    if n - corr <= 0:
        raise ValueError(f"var over {n} element(s) with correction={corr} divides by {n - corr}: "
                         "use correction=0 or reduce over more elements")
    centered = x - mean(x, dim=axes, keepdim=True)
    return sum(centered * centered, dim=axes, keepdim=keep) / (n - corr)


def std(x: Any, dim: Any = None, *, correction: int | None = None, keepdim: Any = None,
        unbiased: bool | None = None, axis: Any = None, keepdims: Any = None, ddof: int | None = None) -> Tensor:
    """Standard deviation √var (same arguments and default correction as :func:`var`)."""
    from minidl.engine.ops.elementwise import sqrt

    return sqrt(var(x, dim, correction=correction, keepdim=keepdim, unbiased=unbiased,
                    axis=axis, keepdims=keepdims, ddof=ddof))


def logsumexp(x: Any, dim: Any = None, keepdim: Any = None, *, axis: Any = None, keepdims: Any = None) -> Tensor:
    """log Σ exp(x) over ``dim``, computed as m + log Σ exp(x − m) with m the max (never overflows)."""
    from minidl.engine.ops.elementwise import exp, log

    x = as_tensor(x)
    axes, keep = _axes_and_keep(x, dim, keepdim, axis, keepdims)
    axes = tuple(range(x.ndim)) if axes is None else axes
    m = Tensor._wrap(x.data.max(axis=axes, keepdims=True))  # a constant shift: the gradient ignores it
    out = log(sum(exp(x - m), dim=axes, keepdim=True)) + m
    return out if keep else reshape(out, tuple(n for i, n in enumerate(x.shape) if i not in axes))
