"""Every differentiable op, and the table that makes them Tensor methods and operators.

Each op is written once, as a :class:`~minidl.engine.function.Function` in one of:

- ``arithmetic``  + − × ÷ **, neg, cast
- ``elementwise`` exp, log, sqrt, abs, tanh, sigmoid, relu, leaky_relu, maximum, minimum,
  clamp, where, comparisons
- ``reduction``   sum, mean, max/min, amax/amin, var, std, argmax, logsumexp
- ``shape``       reshape, permute, transpose, squeeze, unsqueeze, flatten, indexing,
  gather, cat, stack, broadcast_to
- ``linalg``      matmul, linear
- ``softmax``     softmax, log_softmax
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minidl.engine.ops.arithmetic import add, cast, clone, div, mul, neg, pow, sub
from minidl.engine.ops.elementwise import (
    abs,
    clamp,
    clip,
    eq,
    exp,
    ge,
    gt,
    le,
    leaky_relu,
    log,
    lt,
    maximum,
    minimum,
    ne,
    relu,
    sigmoid,
    sign,
    sqrt,
    tanh,
    where,
)
from minidl.engine.ops.linalg import linear, matmul
from minidl.engine.ops.reduction import (
    amax,
    amin,
    argmax,
    argmin,
    logsumexp,
    max,
    mean,
    min,
    std,
    sum,
    var,
)
from minidl.engine.ops.shape import (
    broadcast_to,
    cat,
    expand,
    flatten,
    gather,
    getitem,
    permute,
    reshape,
    squeeze,
    stack,
    sum_to,
    transpose,
    unsqueeze,
)
from minidl.engine.ops.softmax import log_softmax, softmax
from minidl.engine.tensor import Tensor

concatenate = cat

__all__ = [
    "abs", "add", "amax", "amin", "argmax", "argmin", "broadcast_to", "cast", "cat", "clamp",
    "clip", "clone", "concatenate", "div", "eq", "exp", "expand", "flatten", "gather", "ge",
    "getitem", "gt", "le", "leaky_relu", "linear", "log", "log_softmax", "logsumexp", "lt",
    "matmul", "max", "maximum", "mean", "min", "minimum", "mul", "ne", "neg", "permute", "pow",
    "relu", "reshape", "sigmoid", "sign", "softmax", "sqrt", "squeeze", "stack", "std", "sub",
    "sum", "sum_to", "tanh", "transpose", "unsqueeze", "var", "where",
]


def _reflected(op: Any) -> Any:
    def method(self: Tensor, other: Any) -> Any:
        return op(other, self)

    method.__name__ = "__r" + op.__name__ + "__"
    return method


def _transpose_method(self: Tensor, *dims: int) -> Tensor:
    """``x.transpose(dim0, dim1)`` swaps two axes (PyTorch); ``x.transpose()`` reverses them all."""
    if not dims:
        return permute(self, tuple(range(self.ndim))[::-1])
    if len(dims) != 2:
        raise TypeError("transpose(dim0, dim1) swaps two axes; use permute(*dims) to reorder all")
    return transpose(self, *dims)


def _to(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    """``x.to(dtype)``, or ``x.to("cpu" | "gpu")`` (devices: see :mod:`minidl.backend`)."""
    target = args[0] if args else kwargs.get("dtype", kwargs.get("device"))
    if isinstance(target, str):
        try:
            target = np.dtype(target)
        except TypeError:  # not a dtype name: a device ("cpu", "gpu", "cuda")
            from minidl.backend import to_device

            data = to_device(self.data, target)
            # As PyTorch's .to: the same Tensor when no copy was needed; a copy is a new leaf
            # that keeps requires_grad.
            return self if data is self.data else Tensor._wrap(data, requires_grad=self.requires_grad)
    return cast(self, target)


_METHODS = {
    # operators
    "__add__": add, "__radd__": _reflected(add),
    "__sub__": sub, "__rsub__": _reflected(sub),
    "__mul__": mul, "__rmul__": _reflected(mul),
    "__truediv__": div, "__rtruediv__": _reflected(div),
    "__pow__": pow, "__rpow__": _reflected(pow),
    "__matmul__": matmul, "__rmatmul__": _reflected(matmul),
    "__neg__": neg, "__pos__": lambda self: self, "__abs__": abs,
    "__getitem__": getitem,
    "__eq__": eq, "__ne__": ne, "__lt__": lt, "__le__": le, "__gt__": gt, "__ge__": ge,
    # maths
    "add": add, "sub": sub, "mul": mul, "div": div, "pow": pow, "matmul": matmul, "neg": neg,
    "exp": exp, "log": log, "sqrt": sqrt, "abs": abs, "tanh": tanh, "sigmoid": sigmoid,
    "relu": relu, "clamp": clamp, "clip": clip, "maximum": maximum, "minimum": minimum,
    "sign": sign, "eq": eq, "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge,
    "softmax": softmax, "log_softmax": log_softmax,
    # reductions
    "sum": sum, "mean": mean, "max": max, "min": min, "amax": amax, "amin": amin, "var": var,
    "std": std, "argmax": argmax, "argmin": argmin, "logsumexp": logsumexp,
    # shapes
    "reshape": reshape, "view": reshape, "permute": permute, "transpose": _transpose_method,
    "swapaxes": transpose, "squeeze": squeeze, "unsqueeze": unsqueeze, "flatten": flatten,
    "expand": expand, "broadcast_to": broadcast_to, "gather": gather,
    # dtypes and devices
    "to": _to,
    "float": lambda self: cast(self, "float32"), "double": lambda self: cast(self, "float64"),
    "half": lambda self: cast(self, "float16"), "long": lambda self: cast(self, "int64"),
    "int": lambda self: cast(self, "int32"), "bool": lambda self: cast(self, "bool"),
    "astype": cast,
}

for _name, _fn in _METHODS.items():
    setattr(Tensor, _name, _fn)

# ``x.T`` reverses the axes (PyTorch's and NumPy's meaning for a matrix); ``x.mT`` swaps the last two.
Tensor.T = property(lambda self: permute(self, tuple(range(self.ndim))[::-1]))  # type: ignore[attr-defined]
Tensor.mT = property(lambda self: transpose(self, -2, -1))  # type: ignore[attr-defined]
