"""softmax and log_softmax along one axis, computed stably (shifted by the max)."""

from __future__ import annotations

from typing import Any

from minidl import backend
from minidl.engine.function import Function
from minidl.engine.ops._args import check_dim
from minidl.engine.ops.elementwise import exp


class _AlongAxis(Function):
    """What Softmax and LogSoftmax share: one axis, and a backward that reads the output y."""

    needs_output = True
    saved_for = ()

    def __init__(self, axis: int) -> None:
        self.axis = axis


class Softmax(_AlongAxis):
    """yᵢ = e^{xᵢ} / Σⱼ e^{xⱼ};   ∂L/∂x = y ⊙ (gy − Σ gy ⊙ y)

    Shifting x by its max leaves y unchanged and keeps e^x from overflowing.
    """

    def forward(self, x: Any) -> Any:
        xp = backend.get_array_module(x)
        e = xp.exp(x - x.max(axis=self.axis, keepdims=True))
        return e / e.sum(axis=self.axis, keepdims=True)

    def backward(self, gy: Any, x: Any, y: Any) -> Any:
        return y * (gy - (gy * y).sum(axis=self.axis, keepdims=True))


class LogSoftmax(_AlongAxis):
    """yᵢ = xᵢ − log Σⱼ e^{xⱼ};   ∂L/∂x = gy − softmax(x) · Σ gy  (softmax(x) = e^y)

    Computed as (x − m) − log Σ e^{x − m} with m the max: finite for logits of ±1e4.
    """

    def forward(self, x: Any) -> Any:
        xp = backend.get_array_module(x)
        shifted = x - x.max(axis=self.axis, keepdims=True)
        return shifted - xp.log(xp.exp(shifted).sum(axis=self.axis, keepdims=True))

    def backward(self, gy: Any, x: Any, y: Any) -> Any:
        return gy - exp(y) * gy.sum(axis=self.axis, keepdims=True)


def _dim(x: Any, dim: int | None, axis: int | None) -> int:
    """PyTorch's ``dim`` or NumPy's ``axis`` (default: the last axis), checked against x."""
    dim = axis if axis is not None else -1 if dim is None else dim
    check_dim(dim, x.ndim)
    return dim


def softmax(x: Any, dim: int | None = None, *, axis: int | None = None) -> Any:
    """Softmax along ``dim`` (default: the last axis)."""
    return Softmax(_dim(x, dim, axis)).apply(x)


def log_softmax(x: Any, dim: int | None = None, *, axis: int | None = None) -> Any:
    """log(softmax(x)) along ``dim``, without ever taking the log of 0."""
    return LogSoftmax(_dim(x, dim, axis)).apply(x)
