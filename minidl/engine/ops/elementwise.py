"""Elementwise functions: exp, log, activations, max/min of two tensors, clamp, where.

Where a derivative is a 0/1 pattern (relu, clamp, abs), the pattern is computed from the
values as a constant mask: its own derivative is zero, which is also the truth almost
everywhere, so second derivatives come out right.
"""

from __future__ import annotations

from typing import Any

from minidl import backend
from minidl.engine.function import Function
from minidl.engine.ops.shape import sum_to
from minidl.engine.tensor import Tensor, array_of
from minidl.kernels.activation import SMALL as _KERNEL_MIN_SIZE
from minidl.kernels.activation import relu as _relu_on_every_core


class Exp(Function):
    """y = eˣ;   ∂y/∂x = eˣ = y"""

    needs_output = True
    saved_for = ()

    def forward(self, x: Any) -> Any:
        return backend.get_array_module(x).exp(x)

    def backward(self, gy: Any, x: Any, y: Any) -> Any:
        return gy * y


class Log(Function):
    """y = ln x;   ∂y/∂x = 1/x"""

    def forward(self, x: Any) -> Any:
        return backend.get_array_module(x).log(x)

    def backward(self, gy: Any, x: Any) -> Any:
        return gy / x


class Sqrt(Function):
    """y = √x;   ∂y/∂x = 1/(2√x) = 1/(2y)"""

    needs_output = True
    saved_for = ()

    def forward(self, x: Any) -> Any:
        return backend.get_array_module(x).sqrt(x)

    def backward(self, gy: Any, x: Any, y: Any) -> Any:
        return gy / (y * 2)


class Abs(Function):
    """y = |x|;   ∂y/∂x = sign(x), with sign(0) = 0 (PyTorch's subgradient)"""

    def forward(self, x: Any) -> Any:
        return backend.get_array_module(x).abs(x)

    def backward(self, gy: Any, x: Any) -> Any:
        xd = array_of(x)
        return gy * backend.get_array_module(xd).sign(xd)


class Tanh(Function):
    """y = tanh x;   ∂y/∂x = 1 − y²"""

    needs_output = True
    saved_for = ()

    def forward(self, x: Any) -> Any:
        return backend.get_array_module(x).tanh(x)

    def backward(self, gy: Any, x: Any, y: Any) -> Any:
        return gy * (1 - y * y)


class Sigmoid(Function):
    """y = σ(x) = 1/(1 + e⁻ˣ);   ∂y/∂x = y(1 − y)

    Computed as ½ + ½·tanh(x/2), which equals σ(x) and never overflows.
    """

    needs_output = True
    saved_for = ()

    def forward(self, x: Any) -> Any:
        return backend.get_array_module(x).tanh(x * 0.5) * 0.5 + 0.5

    def backward(self, gy: Any, x: Any, y: Any) -> Any:
        return gy * y * (1 - y)


class ReLU(Function):
    """y = max(x, 0);   ∂y/∂x = 1 where x > 0, else 0 (0 at x = 0, as PyTorch)"""

    def forward(self, x: Any) -> Any:
        if x.size < _KERNEL_MIN_SIZE:  # the plain ufunc, without dispatch's microsecond (small MLPs)
            return backend.get_array_module(x).maximum(x, 0)
        return _relu_on_every_core(x)

    def backward(self, gy: Any, x: Any) -> Any:
        if isinstance(gy, Tensor):  # create_graph: the mask is a constant, gy stays in the graph
            return gy * (array_of(x) > 0)
        from minidl.kernels.activation import relu_backward

        return relu_backward(gy, x)


class LeakyReLU(Function):
    """y = x where x > 0, else a·x;   ∂y/∂x = 1 where x > 0, else a"""

    def __init__(self, negative_slope: float) -> None:
        self.negative_slope = negative_slope

    def forward(self, x: Any) -> Any:
        return backend.get_array_module(x).where(x > 0, x, x * self.negative_slope)

    def backward(self, gy: Any, x: Any) -> Any:
        xd = array_of(x)
        slope = backend.get_array_module(xd).where(xd > 0, 1, self.negative_slope).astype(xd.dtype)
        return gy * slope


class Maximum(Function):
    """z = max(x, y);   ∂z/∂x = 1 where x > y, ½ where x = y, else 0 (PyTorch splits ties)

    ``Minimum`` is the same with ``<``: one class attribute, ``pick``, says which.
    """

    promotes = True
    pick = "maximum"  # the ufunc; x "wins" where pick(x, y) = x

    def forward(self, x: Any, y: Any) -> Any:
        return getattr(backend.get_array_module(x, y), self.pick)(x, y)

    def backward(self, gz: Any, x: Any, y: Any) -> tuple[Any, Any]:
        xd, yd = array_of(x), array_of(y)
        wins = xd > yd if self.pick == "maximum" else xd < yd
        share = (wins + (xd == yd) * 0.5).astype(gz.dtype)
        return sum_to(gz * share, x.shape), sum_to(gz * (1 - share), y.shape)


class Minimum(Maximum):
    """z = min(x, y);   ∂z/∂x = 1 where x < y, ½ where x = y, else 0"""

    pick = "minimum"


class Clamp(Function):
    """y = min(max(x, lo), hi);   ∂y/∂x = 1 where lo ≤ x ≤ hi (inclusive, as PyTorch), else 0"""

    def __init__(self, lo: float | None, hi: float | None) -> None:
        self.lo, self.hi = lo, hi

    def forward(self, x: Any) -> Any:
        return backend.get_array_module(x).clip(x, self.lo, self.hi)

    def backward(self, gy: Any, x: Any) -> Any:
        xd = array_of(x)
        inside = backend.get_array_module(xd).ones(xd.shape, dtype=bool)
        if self.lo is not None:
            inside &= xd >= self.lo
        if self.hi is not None:
            inside &= xd <= self.hi
        return gy * inside


class Where(Function):
    """z = x where cond else y;   ∂z/∂x = 1 where cond,  ∂z/∂y = 1 where not cond"""

    saved_for = ()
    promotes = True

    def __init__(self, cond: Any) -> None:
        self.cond = cond

    def forward(self, x: Any, y: Any) -> Any:
        return backend.get_array_module(x, y).where(self.cond, x, y)

    def backward(self, gz: Any, x: Any, y: Any) -> tuple[Any, Any]:
        need_x, need_y = self.needs_input_grad
        return (sum_to(where(self.cond, gz, 0), x.shape) if need_x else None,
                sum_to(where(self.cond, 0, gz), y.shape) if need_y else None)


# -- the public functions ------------------------------------------------------------------
# One short function per op on purpose (not generated): each carries PyTorch's signature and
# its own docstring, and a call costs nothing more than Op().apply(x) on this hot path.


def exp(x: Any) -> Any:
    """eˣ elementwise."""
    return Exp().apply(x)


def log(x: Any) -> Any:
    """Natural logarithm elementwise."""
    return Log().apply(x)


def sqrt(x: Any) -> Any:
    """√x elementwise."""
    return Sqrt().apply(x)


def abs(x: Any) -> Any:  # noqa: A001 - PyTorch's name
    """|x| elementwise."""
    return Abs().apply(x)


def tanh(x: Any) -> Any:
    """Hyperbolic tangent elementwise."""
    return Tanh().apply(x)


def sigmoid(x: Any) -> Any:
    """Logistic sigmoid 1/(1 + e⁻ˣ) elementwise."""
    return Sigmoid().apply(x)


def relu(x: Any) -> Any:
    """max(x, 0) elementwise."""
    return ReLU().apply(x)


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Any:
    """x where x > 0, else negative_slope·x (PyTorch's default slope 0.01)."""
    return LeakyReLU(negative_slope).apply(x)


def clamp(x: Any, min: float | None = None, max: float | None = None) -> Any:  # noqa: A002
    """Limit values to [min, max] (either may be None); ``clip`` is the same."""
    if min is None and max is None:
        raise ValueError("clamp needs at least one of min and max")
    if min is not None and max is not None and min > max:
        raise ValueError(f"clamp: min must not exceed max (got min={min}, max={max})")
    return Clamp(min, max).apply(x)


clip = clamp


def maximum(x: Any, y: Any) -> Any:
    """Elementwise max of two tensors with broadcasting (ties share the gradient)."""
    return Maximum().apply(x, y)


def minimum(x: Any, y: Any) -> Any:
    """Elementwise min of two tensors with broadcasting (ties share the gradient)."""
    return Minimum().apply(x, y)


def where(cond: Any, x: Any, y: Any) -> Any:
    """x where ``cond`` is true, else y; ``cond`` is a boolean array or Tensor (no gradient)."""
    return Where(array_of(cond)).apply(x, y)


# -- comparisons: boolean results, outside the graph ---------------------------------------


def _compare(op: str, x: Any, y: Any) -> Tensor:
    return Tensor._wrap(getattr(array_of(x), op)(array_of(y)))


def eq(x: Any, y: Any) -> Tensor:
    return _compare("__eq__", x, y)


def ne(x: Any, y: Any) -> Tensor:
    return _compare("__ne__", x, y)


def lt(x: Any, y: Any) -> Tensor:
    return _compare("__lt__", x, y)


def le(x: Any, y: Any) -> Tensor:
    return _compare("__le__", x, y)


def gt(x: Any, y: Any) -> Tensor:
    return _compare("__gt__", x, y)


def ge(x: Any, y: Any) -> Tensor:
    return _compare("__ge__", x, y)


def sign(x: Any) -> Tensor:
    """−1, 0 or +1 elementwise (no gradient: its derivative is zero almost everywhere)."""
    xd = array_of(x)
    return Tensor._wrap(backend.get_array_module(xd).sign(xd))
