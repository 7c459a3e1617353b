"""Quantization parameters: which integers, and the scale and zero point that map reals onto them.

A *b*-bit quantizer represents a real x by an integer q in [qmin, qmax] and maps it back as
x̂ = (q − Z)·S. This file decides qmin, qmax (from bits, signedness, narrow range) and S, Z
(from an observed range [min, max]), with PyTorch's formulas
(``torch.ao.quantization.observer._calculate_qparams``).

How the options map onto PyTorch's:

=====================================  =================================================
minidl                                  PyTorch
=====================================  =================================================
``bits=8, signed=False``                ``dtype=torch.quint8`` (the default), [0, 255]
``bits=8, signed=True``                 ``dtype=torch.qint8``, [−128, 127]
``bits=4, signed=True``                 ``quant_min=-8, quant_max=7``
``narrow_range=True``                   TFLite's weights: [−127, 127] (``quant_min=-127``)
``symmetric=True``                      ``qscheme=per_tensor_symmetric``
``ch_axis=0``                           ``qscheme=per_channel_*``, ``ch_axis=0``
=====================================  =================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from minidl import backend
from minidl.engine.tensor import Tensor

FLOAT32_EPS = 1.1920928955078125e-07
"""``torch.finfo(torch.float32).eps``: the smallest scale an observer returns (PyTorch's floor)."""


def quant_range(bits: int = 8, signed: bool = False, narrow_range: bool = False) -> tuple[int, int]:
    """[qmin, qmax] of a b-bit integer: [−2^(b−1), 2^(b−1) − 1] signed, [0, 2^b − 1] unsigned.

    ``narrow_range`` drops the lowest level: [−2^(b−1) + 1, 2^(b−1) − 1] (symmetric around 0,
    as TFLite's int8 weights) or [1, 2^b − 1].
    """
    if isinstance(bits, bool) or not isinstance(bits, int) or not 2 <= bits <= 16:
        raise ValueError(f"bits must be an int in [2, 16] (got {bits!r})")
    qmin, qmax = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2 ** bits - 1)
    return (qmin + 1, qmax) if narrow_range else (qmin, qmax)


def storage_dtype(qmin: int, qmax: int) -> str:
    """The smallest NumPy integer dtype that holds [qmin, qmax] (int8, uint8, int16, uint16, int32)."""
    for name, lo, hi in (("int8", -128, 127), ("uint8", 0, 255), ("int16", -32768, 32767),
                         ("uint16", 0, 65535)):
        if lo <= qmin and qmax <= hi:
            return name
    return "int32"


@dataclass(frozen=True)
class QuantSpec:
    """How reals become integers: bit width, signedness, affine or symmetric, narrow range, per-channel axis.

    The defaults are PyTorch's observer defaults (``torch.quint8``, per-tensor affine).
    ``ch_axis=None`` means one (scale, zero point) for the whole tensor; an int means one
    per index along that axis (per-channel).
    """

    bits: int = 8
    signed: bool = False
    symmetric: bool = False
    narrow_range: bool = False
    ch_axis: int | None = None

    def __post_init__(self) -> None:
        qmin, qmax = quant_range(self.bits, self.signed, self.narrow_range)  # validates bits
        if self.ch_axis is not None and (isinstance(self.ch_axis, bool) or not isinstance(self.ch_axis, int)):
            raise ValueError(f"ch_axis must be an int or None (got {self.ch_axis!r})")
        object.__setattr__(self, "_range", (qmin, qmax))  # frozen: computed once

    @property
    def qmin(self) -> int:
        return self._range[0]

    @property
    def qmax(self) -> int:
        return self._range[1]

    @property
    def dtype(self) -> str:
        """The integer dtype the values are stored in."""
        return storage_dtype(self.qmin, self.qmax)

    @property
    def qscheme(self) -> str:
        """PyTorch's name for the scheme: ``per_tensor_affine``, ``per_channel_symmetric``, ..."""
        return (f"per_{'tensor' if self.ch_axis is None else 'channel'}_"
                f"{'symmetric' if self.symmetric else 'affine'}")

    def describe(self) -> str:
        """A short label such as ``int8 symmetric per-channel [-127, 127]``."""
        where = "per-tensor" if self.ch_axis is None else f"per-channel (axis {self.ch_axis})"
        return (f"{'int' if self.signed else 'uint'}{self.bits} {'symmetric' if self.symmetric else 'affine'} "
                f"{where} [{self.qmin}, {self.qmax}]")


def _values(x: Any) -> Any:
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, (int, float)):
        return backend.xp.asarray(x, dtype=backend.xp.float32)
    return x


def calculate_qparams(min_val: Any, max_val: Any, spec: QuantSpec | None = None,
                      eps: float = FLOAT32_EPS) -> tuple[Any, Any]:
    """Scale S and zero point Z for the observed range [min_val, max_val] (arrays: one per channel).

    First the range is widened to contain 0, so that 0 is always exactly representable
    (zero padding, ReLU outputs and pruned weights stay exact):
    min₋ = min(min_val, 0),  max₊ = max(max_val, 0). Then

    - affine:     S = (max₊ − min₋) / (qmax − qmin),   Z = clamp(qmin − round(min₋ / S), qmin, qmax)
    - symmetric:  S = max(−min₋, max₊) / ((qmax − qmin) / 2),   Z = 0 (signed) or the middle
      level (qmin + qmax + 1) // 2 (unsigned: 128 for [0, 255])

    with S floored at ``eps`` and computed in float32, as PyTorch does. For int8 the
    symmetric divisor is 127.5, not 127: max₊ lands on level 127.5 and saturates at 127.
    Returns (float32 scale, int32 zero point) arrays of min_val's shape.

    PyTorch gives an unsigned symmetric quantizer with a custom range [qmin, qmax] the zero
    point (qmin + qmax) // 2 (7 for [0, 15]) but 128 for [0, 255]; minidl uses the same
    rule for every bit width, (qmin + qmax + 1) // 2, which gives 128 and 8.
    """
    spec = spec or QuantSpec()
    lo, hi = _values(min_val), _values(max_val)
    xp = backend.get_array_module(lo, hi)
    lo, hi = xp.asarray(lo, dtype=xp.float32), xp.asarray(hi, dtype=xp.float32)
    if lo.shape != hi.shape:
        raise ValueError(f"min_val and max_val must have the same shape (got {lo.shape} and {hi.shape})")
    if not bool((lo <= hi).all()):  # one check for the common case (NaN compares false too)
        if bool(xp.isnan(lo).any()) or bool(xp.isnan(hi).any()):
            raise ValueError("min_val and max_val must not be NaN (the observed data contained NaN)")
        raise ValueError("min_val must be <= max_val (an empty observer has no range: "
                         "observers return scale 1.0 and zero point 0 themselves)")
    qmin, qmax = spec.qmin, spec.qmax
    min_neg = xp.minimum(lo, xp.float32(0))
    max_pos = xp.maximum(hi, xp.float32(0))
    floor = xp.float32(eps)
    if spec.symmetric:
        scale = xp.maximum(xp.maximum(-min_neg, max_pos) / xp.float32((qmax - qmin) / 2), floor)
        middle = 0 if spec.signed else (qmin + qmax + 1) // 2
        zero_point = xp.full(lo.shape, middle, dtype=xp.int32)
    else:
        scale = xp.maximum((max_pos - min_neg) / xp.float32(qmax - qmin), floor)
        zero_point = xp.clip(qmin - xp.rint(min_neg / scale), qmin, qmax).astype(xp.int32)
    if not bool(xp.isfinite(scale).all()):
        raise ValueError("the observed range is infinite: cannot quantize inf")
    return xp.asarray(scale, dtype=xp.float32), xp.asarray(zero_point, dtype=xp.int32)


def check_qparams(scale: Any, zero_point: Any, qmin: int, qmax: int) -> None:
    """Raise a clear ValueError unless every scale is positive and finite and every zero point an integer in range."""
    s, z = _values(scale), zero_point.data if isinstance(zero_point, Tensor) else zero_point
    xp = backend.get_array_module(s, z)
    s, z = xp.asarray(s), xp.asarray(z)
    if s.dtype.kind not in "fiu" or not bool(xp.isfinite(s).all()) or bool((s <= 0).any()):
        raise ValueError(f"scale must be positive and finite (got {backend.to_numpy(s).ravel()[:6]})")
    if z.dtype.kind == "f":
        if not bool((xp.rint(z) == z).all()):
            raise ValueError(f"zero_point must be an integer (got {backend.to_numpy(z).ravel()[:6]})")
    elif z.dtype.kind not in "iu":
        raise ValueError(f"zero_point must be an integer (got dtype {z.dtype})")
    if z.size and (int(z.min()) < qmin or int(z.max()) > qmax):
        raise ValueError(f"zero_point must lie in [qmin, qmax] = [{qmin}, {qmax}] "
                         f"(got {backend.to_numpy(z).ravel()[:6]})")
