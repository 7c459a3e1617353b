"""Half precision: rounding float32 to float16 or bfloat16, and models that keep 16-bit weights.

- float16 (IEEE half): 1 sign, 5 exponent, 10 mantissa bits. About 3.3 significant digits
  (relative rounding error ≤ 2⁻¹¹), largest value 65504; smaller than 6.1·10⁻⁵ it loses
  precision (subnormals) and below 6·10⁻⁸ it is 0.
- bfloat16: 1 sign, 8 exponent, 7 mantissa bits — the top half of a float32. float32's
  range (up to 3.4·10³⁸), but only about 2.4 digits (relative error ≤ 2⁻⁸).

Unlike integer quantization there is nothing to calibrate: every number carries its own
exponent, so rounding is elementwise, needs no min/max and no scale. (A claim that half
precision "needs min/max range computation" confuses it with integer quantization.)

NumPy has float16 but no bfloat16, so bfloat16 is done here by bit manipulation of float32
with round-to-nearest-even, and stored as uint16. NumPy also has no fast float16 matrix
product, so :class:`HalfLinear` stores 16-bit weights and computes as mixed-precision
hardware does: 16-bit inputs and weights, float32 accumulation, 16-bit output.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from minidl import backend
from minidl.engine.tensor import Tensor
from minidl.nn.linear import Linear
from minidl.nn.module import Module

HALF_DTYPES = ("float16", "bfloat16")


def _array(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def float32_to_bfloat16_bits(x: Any) -> Any:
    """The bfloat16 nearest to each float32 (ties to even), as uint16 bit patterns.

    With u the float32's bits: bits = (u + 0x7FFF + ((u >> 16) & 1)) >> 16. Adding 0x7FFF
    rounds up when the dropped half is above 0x8000; the extra 1 when it is exactly 0x8000
    and the kept part is odd makes ties go to even. Overflow rounds to ±inf as it should;
    NaN stays NaN (its quiet bit is set, so a payload in the dropped bits cannot become inf).
    """
    a = _array(x)
    xp = backend.get_array_module(a)
    u = xp.ascontiguousarray(a.astype(xp.float32)).view(xp.uint32)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    is_nan = (u & 0x7FFFFFFF) > 0x7F800000
    return xp.where(is_nan, (u >> 16) | 0x0040, rounded).astype(xp.uint16)


def bfloat16_bits_to_float32(bits: Any) -> Any:
    """uint16 bfloat16 bit patterns → the float32 values they stand for (exact: append 16 zero bits)."""
    b = _array(bits)
    xp = backend.get_array_module(b)
    if b.dtype != xp.uint16:
        raise TypeError(f"bfloat16 bits must be uint16 (got {b.dtype})")
    return xp.ascontiguousarray(b.astype(xp.uint32) << 16).view(xp.float32)


def _like(x: Any, result: Any) -> Any:
    """A Tensor for a Tensor, an array for an array."""
    return Tensor._wrap(result) if isinstance(x, Tensor) else result


def round_to_bfloat16(x: Any) -> Any:
    """x rounded to the nearest bfloat16 (ties to even), as float32 (a Tensor for a Tensor)."""
    return _like(x, bfloat16_bits_to_float32(float32_to_bfloat16_bits(x)))


def _to_float16(a: Any) -> Any:
    xp = backend.get_array_module(a)
    with np.errstate(over="ignore"):  # beyond ±65504 the answer is ±inf, as IEEE says: not a mistake
        return a.astype(xp.float16)


def round_to_float16(x: Any) -> Any:
    """x rounded to the nearest float16 (ties to even; beyond ±65504 → ±inf), as float32 (a Tensor for a Tensor)."""
    a = _array(x)
    return _like(x, _to_float16(a).astype(backend.get_array_module(a).float32))


def round_to_half(x: Any, dtype: str) -> Any:
    """:func:`round_to_float16` or :func:`round_to_bfloat16`, by name."""
    if dtype == "float16":
        return round_to_float16(x)
    if dtype == "bfloat16":
        return round_to_bfloat16(x)
    raise ValueError(f"dtype must be one of {HALF_DTYPES} (got {dtype!r})")


class HalfLinear(Module):
    """A Linear with 16-bit weights and bias: 16-bit input, float32 accumulation, 16-bit output.

    float16 weights are stored as float16; bfloat16 weights as their uint16 bit patterns.
    Inference only (no gradients).
    """

    def __init__(self, weight: Any, bias: Any, dtype: str = "float16") -> None:
        super().__init__()
        if dtype not in HALF_DTYPES:
            raise ValueError(f"HalfLinear: dtype must be one of {HALF_DTYPES} (got {dtype!r})")
        self.dtype_name = dtype
        w = _array(weight)
        self.out_features, self.in_features = w.shape
        self.register_buffer("weight", Tensor._wrap(self._encode(w)))
        self.register_buffer("bias", None if bias is None else Tensor._wrap(self._encode(_array(bias))))

    @classmethod
    def from_float(cls, lin: Linear, dtype: str = "float16") -> HalfLinear:
        return cls(lin.weight, lin.bias, dtype)

    def _encode(self, a: Any) -> Any:
        return _to_float16(a) if self.dtype_name == "float16" else float32_to_bfloat16_bits(a)

    def _decode(self, a: Any) -> Any:
        xp = backend.get_array_module(a)
        return a.astype(xp.float32) if self.dtype_name == "float16" else bfloat16_bits_to_float32(a)

    def forward(self, x: Tensor) -> Tensor:
        data = round_to_half(_array(x), self.dtype_name)  # an array in, an array out
        y = data @ self._decode(self.weight.data).T
        if self.bias is not None:
            y = y + self._decode(self.bias.data)
        return Tensor._wrap(round_to_half(y, self.dtype_name))

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, dtype={self.dtype_name}"


def to_half(model: Module, dtype: str = "float16", inplace: bool = False) -> Module:
    """A copy of ``model`` with every Linear (at any depth) replaced by a :class:`HalfLinear`."""
    if dtype not in HALF_DTYPES:
        raise ValueError(f"to_half: dtype must be one of {HALF_DTYPES} (got {dtype!r})")
    target = model if inplace else copy.deepcopy(model)
    if isinstance(target, Linear):
        return HalfLinear.from_float(target, dtype)
    for module in list(target.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, Linear):
                setattr(module, name, HalfLinear.from_float(child, dtype))
    return target
