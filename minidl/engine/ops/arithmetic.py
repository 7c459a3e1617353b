"""+ − × ÷ and powers, with NumPy broadcasting.

When an input was broadcast, its gradient is summed back to its own shape (``sum_to``):
a bias of shape (10,) added to a batch of shape (32, 10) receives the sum over the batch.
"""

from __future__ import annotations

from typing import Any

from minidl.engine.function import Function
from minidl.engine.ops.shape import sum_to
from minidl.engine.tensor import Tensor, array_of, as_tensor


def broadcast_error(op: str, a: Any, b: Any) -> ValueError:
    return ValueError(f"{op}: shapes {tuple(a.shape)} and {tuple(b.shape)} do not broadcast together")


class Add(Function):
    """z = x + y;   ∂z/∂x = 1,  ∂z/∂y = 1"""

    saved_for = ()
    promotes = True

    def forward(self, x: Any, y: Any) -> Any:
        try:
            return x + y
        except ValueError:
            raise broadcast_error("add", x, y) from None

    def backward(self, gz: Any, x: Any, y: Any) -> tuple[Any, Any]:
        need_x, need_y = self.needs_input_grad
        return (sum_to(gz, x.shape) if need_x else None,
                sum_to(gz, y.shape) if need_y else None)


class Sub(Function):
    """z = x − y;   ∂z/∂x = 1,  ∂z/∂y = −1"""

    saved_for = ()
    promotes = True

    def forward(self, x: Any, y: Any) -> Any:
        try:
            return x - y
        except ValueError:
            raise broadcast_error("sub", x, y) from None

    def backward(self, gz: Any, x: Any, y: Any) -> tuple[Any, Any]:
        need_x, need_y = self.needs_input_grad
        return (sum_to(gz, x.shape) if need_x else None,
                sum_to(-gz, y.shape) if need_y else None)


class Mul(Function):
    """z = x · y;   ∂z/∂x = y,  ∂z/∂y = x"""

    saved_for = ((1,), (0,))
    promotes = True

    def forward(self, x: Any, y: Any) -> Any:
        try:
            return x * y
        except ValueError:
            raise broadcast_error("mul", x, y) from None

    def backward(self, gz: Any, x: Any, y: Any) -> tuple[Any, Any]:
        need_x, need_y = self.needs_input_grad
        return (sum_to(gz * y, x.shape) if need_x else None,
                sum_to(gz * x, y.shape) if need_y else None)


class Div(Function):
    """z = x / y;   ∂z/∂x = 1/y,  ∂z/∂y = −x/y²"""

    saved_for = ((1,), (0, 1))
    promotes = True

    def forward(self, x: Any, y: Any) -> Any:
        try:
            return x / y
        except ValueError:
            raise broadcast_error("div", x, y) from None

    def backward(self, gz: Any, x: Any, y: Any) -> tuple[Any, Any]:
        need_x, need_y = self.needs_input_grad
        gx = gz / y
        return (sum_to(gx, x.shape) if need_x else None,
                sum_to(-gx * x / y, y.shape) if need_y else None)


class Neg(Function):
    """y = −x;   ∂y/∂x = −1"""

    saved_for = ()

    def forward(self, x: Any) -> Any:
        return -x

    def backward(self, gy: Any, x: Any) -> Any:
        return -gy


class Pow(Function):
    """z = xʸ;   ∂z/∂x = y·xʸ⁻¹,  ∂z/∂y = xʸ·ln x  (taken as 0 where x = 0 and y ≥ 0, as PyTorch)"""

    needs_output = True
    promotes = True

    def forward(self, x: Any, y: Any) -> Any:
        try:
            return x ** y
        except ValueError:
            raise broadcast_error("pow", x, y) from None

    def backward(self, gz: Any, x: Any, y: Any, z: Any) -> tuple[Any, Any]:
        from minidl.engine.ops.elementwise import log, where

        need_x, need_y = self.needs_input_grad
        gx = sum_to(gz * y * x ** (y - 1), x.shape) if need_x else None
        gy = None
        if need_y:
            zero_base = (array_of(x) == 0) & (array_of(y) >= 0)  # 0 · ln 0 is taken as 0, not nan
            safe_x = where(zero_base, 1, x)
            gy = sum_to(gz * z * log(safe_x), y.shape)
        return gx, gy


def add(x: Any, y: Any) -> Any:
    """x + y with broadcasting."""
    return Add().apply(x, y)


def sub(x: Any, y: Any) -> Any:
    """x − y with broadcasting."""
    return Sub().apply(x, y)


def mul(x: Any, y: Any) -> Any:
    """x · y elementwise with broadcasting."""
    return Mul().apply(x, y)


def div(x: Any, y: Any) -> Any:
    """x / y elementwise with broadcasting (true division)."""
    return Div().apply(x, y)


def pow(x: Any, y: Any) -> Any:  # noqa: A001 - PyTorch's name
    """xʸ elementwise with broadcasting."""
    return Pow().apply(x, y)


def neg(x: Any) -> Any:
    """−x."""
    return Neg().apply(x)


def clone(x: Tensor) -> Tensor:
    """A copy of ``x`` that stays in the graph."""
    return _Clone()(as_tensor(x))


class _Clone(Function):
    """y = x (a copy);   ∂y/∂x = 1"""

    saved_for = ()

    def forward(self, x: Any) -> Any:
        return x.copy()

    def backward(self, gy: Any, x: Any) -> Any:
        return gy


class Cast(Function):
    """y = x converted to ``dtype``;   ∂y/∂x = gy converted back to x's dtype."""

    saved_for = ()

    def __init__(self, dtype: Any) -> None:
        self.dtype = dtype

    def forward(self, x: Any) -> Any:
        self.input_dtype = x.dtype
        return x.astype(self.dtype)

    def backward(self, gy: Any, x: Any) -> Any:
        return cast(gy, self.input_dtype)


def cast(x: Any, dtype: Any) -> Any:
    """``x`` as ``dtype`` (array or Tensor); a no-op when the dtype already matches."""
    import numpy as np

    dtype = np.dtype(dtype)
    if x.dtype == dtype:
        return x
    if isinstance(x, Tensor):
        if dtype.kind != "f" or x.dtype.kind != "f":
            return Tensor._wrap(x.data.astype(dtype))  # leaving floats: no gradient
        return Cast(dtype)(x)
    return x.astype(dtype)
