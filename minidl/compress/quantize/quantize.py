"""Uniform affine quantization: reals → integers → reals, and the quantized-tensor type.

    q  = clamp(round(x / S) + Z, qmin, qmax)        (quantize)
    x̂ = (q − Z) · S                                 (dequantize)

``round`` is round-half-to-even (``np.rint``, C's ``nearbyint``), and x / S is computed as
x · (1/S) with 1/S in float32, as PyTorch's CPU kernels do. Where exactly Z joins matters
only at exact ties, and PyTorch itself does it two ways; minidl follows each bit for bit:

- per-tensor :func:`quantize` (``torch.quantize_per_tensor``): round(x·(1/S) + Z) with
  x·(1/S) + Z rounded **once** to float32 — a fused multiply-add — then to the nearest
  integer (:func:`fused_levels`). This is PyTorch's x86-64 CPU path: FBGEMM's
  ``QuantizeAvx2`` (``_mm256_fmadd_ps`` then ``_mm256_cvtps_epi32``), which
  ``quantize_tensor_per_tensor_affine_cpu`` calls with ``LEGACY=true``. Example:
  x = −0.36294672, S = 0.002846641, Z = 128: x·(1/S) rounded alone to float32 is the tie
  −127.5 (→ −128, q = 0), but x·(1/S) + 128 rounded once is 0.50000095 (q = 1, PyTorch's).
- per-channel :func:`quantize` (``torch.quantize_per_channel``): round(fl32(fl32(x·(1/S)) + Z))
  — the product rounded to float32, Z added in float32 (a second rounding), then to the
  nearest integer (:func:`rounded_levels` with ``zero_point_first=True``). Same example: −127.5 + 128 = 0.5, q = 0. And
  x = 2, S = 4, Z = 1: 0.5 + 1 = 1.5, q = 2.
- fake quantization (``torch.fake_quantize_per_*_affine``): round(fl32(x·(1/S))) + Z — the
  product rounded to float32, then to an integer, Z added after (:func:`rounded_levels`).
  x = 2, S = 4, Z = 1: round(0.5) + 1 = 1, so fake quantization gives (1 − 1)·4 = 0 where
  quantize-then-dequantize gives (2 − 1)·4 = 4. These three forms were measured against
  PyTorch 2.13 on x86-64 (``tests/test_quant_fake_quant.py`` keeps the vectors).

Where this differs from a given PyTorch build: PyTorch on aarch64 (NEON) and x86 CPUs
without AVX2/FMA quantize per tensor as the second form (Z after rounding); float64 input,
which PyTorch refuses, is computed in float64 (x·(1/S) + Z, then round). Per-channel
parameters (one S, Z per index along ``axis``) broadcast along that axis.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from minidl import backend
from minidl.compress.quantize.qparams import QuantSpec, calculate_qparams, check_qparams, quant_range, storage_dtype
from minidl.engine.tensor import Tensor
from minidl.kernels import dispatch
from minidl.kernels import int8 as int8_kernels


def _array(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _along(param: Any, axis: int | None, ndim: int, xp: Any, dtype: Any) -> Any:
    """A per-tensor (0-d) or per-channel (1-d) parameter, shaped to broadcast along ``axis``."""
    p = xp.asarray(_array(param), dtype=dtype)
    if axis is None:
        if p.size != 1:
            raise ValueError(f"per-tensor quantization needs one scale and zero point (got {p.size}); "
                             "pass axis= for per-channel parameters")
        return p.reshape(())
    if p.ndim != 1:
        raise ValueError(f"per-channel parameters must be 1-D (got shape {p.shape})")
    shape = [1] * ndim
    shape[axis] = p.shape[0]
    return p.reshape(shape)


def normalize_axis(axis: int | None, ndim: int, name: str = "axis") -> int | None:
    """``axis`` as an index in [0, ndim) (negative counts from the end); a clear error if out of range."""
    if axis is None:
        return None
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise ValueError(f"{name} must be an int or None (got {axis!r})")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}={axis} is out of range for a tensor with {ndim} dims "
                         f"(expected {-ndim} <= {name} < {ndim})")
    return axis % ndim


def _check_channels(x: Any, scale: Any, axis: int | None) -> None:
    if axis is None:
        return
    n = int(np.prod(getattr(_array(scale), "shape", ()) or (1,)))
    if n != x.shape[axis]:
        raise ValueError(f"per-channel quantization along axis {axis}: {n} scales for "
                         f"{x.shape[axis]} channels (shape {tuple(x.shape)})")


def rounded_levels(x: Any, scale: Any, zero_point: Any, axis: int | None = None, *,
                   zero_point_first: bool = False) -> Any:
    """The levels as floats, before the clamp, with x·(1/S) rounded to float32 first (1/S in
    float32, as PyTorch), then to an integer (ties to even):

        round(fl32(x · (1/S))) + Z           PyTorch's fake quantization (the STE's mask is tested on these)
        round(fl32(fl32(x · (1/S)) + Z))     ``torch.quantize_per_channel`` (``zero_point_first=True``)

    The two differ only where x·(1/S) is within float32 rounding of a half-integer and Z is odd.
    Float64 input (PyTorch refuses it) is computed in float64.
    """
    xp = backend.get_array_module(x)
    if x.dtype.kind != "f":
        raise TypeError(f"quantize: x must be a floating point array (got {x.dtype})")
    inv_scale = 1.0 / _along(scale, axis, x.ndim, xp, xp.float32)  # float32, as PyTorch
    z = _along(zero_point, axis, x.ndim, xp, xp.float32).astype(x.dtype)
    levels = x * inv_scale.astype(x.dtype)
    if zero_point_first:
        levels += z
    xp.rint(levels, out=levels)  # in place: at batch 128 each extra pass costs a few % of the layer
    if not zero_point_first:
        levels += z
    if levels.size and bool(xp.isnan(levels.max())):  # max propagates NaN: one pass finds any
        raise ValueError("quantize: x contains NaN, which has no integer level")
    return levels


def fused_levels(x: Any, scale: Any, zero_point: Any, qmin: int, qmax: int) -> Any:
    """round(fl32(x·(1/S) + Z)) as floats, before the clamp: ``torch.quantize_per_tensor``'s levels.

    x·(1/S) + Z is rounded once to float32 (as an FMA does), then to the nearest integer,
    ties to even. First the plain float32 way, t = fl32(fl32(x·(1/S)) + Z): two roundings,
    off from v = x·(1/S) + Z by far less than ``margin``, so ``rint(t)`` is already the
    answer wherever t is not that close to a half-integer. The few entries that are (about
    one in 10⁴ at 8 bits; none matter outside [qmin − 1, qmax + 1], which the clamp takes)
    are recomputed exactly: in float64, x·(1/S) is exact (24-bit × 24-bit significands) and
    only the sum is rounded before float32; that second rounding changes the level only when
    the float64 sum lands exactly halfway between two float32 numbers next to a half-integer,
    and then Knuth's TwoSum error says which way the exact sum lies. That last case cannot
    occur where |v| < 128 — v would have to be one of (2⁴⁷ ± 2³⁰ ± {1, 2})·2⁻⁴⁸ + Z, none a
    product of two 24-bit significands — which is why the int8 kernel (:mod:`minidl.kernels.int8`)
    skips it; with Z > 127 (uint8, 16 bits) it occurs (x = 6041937·2⁻³¹, S = 0.0056269066,
    Z = 200: q = 201, where rounding the float64 sum to float32 gives 200).
    """
    xp = backend.get_array_module(x)
    if x.dtype.kind != "f":
        raise TypeError(f"quantize: x must be a floating point array (got {x.dtype})")
    inv32 = 1.0 / _along(scale, None, x.ndim, xp, xp.float32)  # 1/S in float32, as PyTorch
    z = _along(zero_point, None, x.ndim, xp, xp.float64)
    if x.dtype.itemsize > 4:  # float64 input (PyTorch refuses it): rounded in float64
        levels = x * inv32.astype(x.dtype)
        levels += z
        return _checked(xp.rint(levels, out=levels), xp)
    t = x.astype(xp.float32, copy=False) * inv32
    t += z.astype(xp.float32)
    levels = xp.rint(t)
    # |t − v| ≤ ½ulp(x·(1/S)) + ½ulp(t) ≤ 2⁻²³·(2|t| + |Z|) for |t| ≤ bound; 2⁻²¹ leaves room
    bound = max(abs(qmin), abs(qmax)) + 1.0
    margin = (2 * bound + abs(float(z)) + 1) * 2.0 ** -21
    with np.errstate(invalid="ignore"):  # ±inf − ±inf: NaN, never close (a host flag)
        t -= levels
        close = xp.abs(t, out=t) >= 0.5 - margin
    if bool(close.any()):
        levels[close] = _exact_fused_levels(x[close].astype(xp.float32), inv32, z, xp)
    return _checked(levels, xp)


def _exact_fused_levels(x: Any, inv32: Any, z: Any, xp: Any) -> Any:
    """round(fl32(x·(1/S) + Z)) computed exactly, for the few entries :func:`fused_levels` hands over."""
    product = x.astype(xp.float64) * inv32.astype(xp.float64)  # exact
    total = product + z  # v, rounded once to float64
    w = total.astype(xp.float32)  # ... and again to float32
    levels = xp.rint(w).astype(xp.float64)
    wt = w.astype(xp.float64)
    magnitude = xp.abs(wt)
    with np.errstate(divide="ignore", invalid="ignore"):  # w = 0 or ±inf: no midpoint there
        low = xp.exp2(xp.floor(xp.log2(magnitude)))  # |w| in [low, 2·low): float32 steps of low·2⁻²³
    half_step = xp.where((magnitude == low) & (xp.abs(total) < magnitude), low * 2.0 ** -25, low * 2.0 ** -24)
    midpoint = wt + xp.where(total > wt, half_step, -half_step)  # between w and its neighbour toward v
    b = total - product
    error = (product - (total - b)) + (z - b)  # v − total, exactly (TwoSum)
    # the float64 sum sits exactly on the midpoint and v lies beyond it, away from w: fl32(v) is
    # w's neighbour, whose level is the integer on that side of the half-integer w
    beyond = (xp.abs(wt - levels) == 0.5) & (total == midpoint) & (error != 0) & ((error > 0) == (total > wt))
    return xp.where(beyond, wt + xp.where(total > wt, 0.5, -0.5), levels)


def _checked(levels: Any, xp: Any) -> Any:
    if levels.size and bool(xp.isnan(levels.max())):  # max propagates NaN: one pass finds any
        raise ValueError("quantize: x contains NaN, which has no integer level")
    return levels


def quantize_affine(x: Any, scale: Any, zero_point: Any, qmin: int, qmax: int, axis: int | None = None) -> Any:
    """q = clamp(round(x / S) + Z, qmin, qmax), as the smallest integer dtype holding [qmin, qmax].

    Per tensor (``axis=None``) the levels are :func:`fused_levels` (``torch.quantize_per_tensor``),
    per channel :func:`rounded_levels` with ``zero_point_first=True``
    (``torch.quantize_per_channel``): see the module notes.
    """
    x = _array(x)
    if axis is not None:
        axis = normalize_axis(axis, x.ndim)
        _check_channels(x, scale, axis)
    xp = backend.get_array_module(x)
    levels = (rounded_levels(x, scale, zero_point, axis, zero_point_first=True) if axis is not None
              else fused_levels(x, scale, zero_point, qmin, qmax))
    return xp.clip(levels, qmin, qmax, out=levels).astype(storage_dtype(qmin, qmax))


@dispatch(quantize_affine)
def quantize_int8(x: Any, scale: Any, zero_point: Any, qmin: int, qmax: int) -> Any:
    """:func:`quantize_affine` per tensor into int8, by the one-pass Numba loop
    :func:`minidl.kernels.int8.quantize_int8_fused` where it applies (float32 NumPy input),
    else by the formula; both give the same integers."""
    q = int8_kernels.quantize_int8_fused(x, scale, zero_point, qmin, qmax)
    return q if q is not None else quantize_affine(x, scale, zero_point, qmin, qmax)


def dequantize_affine(q: Any, scale: Any, zero_point: Any, axis: int | None = None) -> Any:
    """x̂ = (q − Z) · S, in float32."""
    q = _array(q)
    axis = normalize_axis(axis, q.ndim)
    xp = backend.get_array_module(q)
    s = _along(scale, axis, q.ndim, xp, xp.float32)
    z = _along(zero_point, axis, q.ndim, xp, xp.int32)
    return (q - z).astype(xp.float32) * s  # q − Z in int32 (q's dtype meets int32): exact


class QuantizedTensor:
    """Integers plus the (scale, zero point) that map them back to reals: x̂ = (q − Z)·S.

    ``int_repr()`` gives the integers (stored in the smallest dtype holding [qmin, qmax]:
    int8 for 2–8 signed bits, int16 up to 16), ``dequantize()`` the reals. ``signed``
    defaults to the signedness of ``int_repr``'s dtype. Per-channel tensors carry one scale
    and zero point per index along ``axis``. ``nbytes`` is what this object stores;
    ``packed_nbytes`` what a file packing ``bits`` bits per value would take (see
    :func:`pack_bits`).
    """

    __slots__ = ("_q", "scale", "zero_point", "bits", "signed", "narrow_range", "axis")

    def __init__(self, int_repr: Any, scale: Any, zero_point: Any, bits: int = 8, signed: bool | None = None,
                 narrow_range: bool = False, axis: int | None = None) -> None:
        q = _array(int_repr)
        xp = backend.get_array_module(q)
        if q.dtype.kind not in "iu":
            raise TypeError(f"QuantizedTensor: int_repr must hold integers (got dtype {q.dtype})")
        signed = q.dtype.kind == "i" if signed is None else signed
        qmin, qmax = quant_range(bits, signed, narrow_range)
        axis = normalize_axis(axis, q.ndim)
        s = xp.asarray(_array(scale), dtype=xp.float32)
        z = xp.asarray(_array(zero_point))
        check_qparams(s, z, qmin, qmax)
        _along(s, axis, q.ndim, xp, xp.float32)  # validates the parameter shapes
        _check_channels(q, s, axis)
        if q.size and (int(q.min()) < qmin or int(q.max()) > qmax):
            raise ValueError(f"QuantizedTensor: values must lie in [{qmin}, {qmax}] for {bits}-bit "
                             f"{'signed' if signed else 'unsigned'} (got {int(q.min())}..{int(q.max())})")
        self._init(q.astype(storage_dtype(qmin, qmax), copy=False), s, z.astype(xp.int32), bits, signed,
                   narrow_range, axis)

    def _init(self, q: Any, scale: Any, zero_point: Any, bits: int, signed: bool, narrow_range: bool,
              axis: int | None) -> None:
        self._q, self.scale, self.zero_point = q, scale, zero_point
        self.bits, self.signed, self.narrow_range, self.axis = bits, signed, narrow_range, axis

    @classmethod
    def _wrap(cls, q: Any, scale: Any, zero_point: Any, bits: int, signed: bool, narrow_range: bool = False,
              axis: int | None = None) -> QuantizedTensor:
        """Without checks: for arrays minidl made itself (the integer model's hot path)."""
        t = cls.__new__(cls)
        t._init(q, scale, zero_point, bits, signed, narrow_range, axis)
        return t

    @classmethod
    def from_float(cls, x: Any, spec: QuantSpec | None = None) -> QuantizedTensor:
        """Quantize ``x`` with (S, Z) from its own range [min x, max x] (per channel if ``spec.ch_axis``)."""
        spec = spec or QuantSpec()
        data = _array(x)
        xp = backend.get_array_module(data)
        axis = normalize_axis(spec.ch_axis, data.ndim, "ch_axis")
        if axis is None:
            lo, hi = data.min(), data.max()
        else:
            rest = tuple(i for i in range(data.ndim) if i != axis)
            lo, hi = data.min(axis=rest), data.max(axis=rest)
        scale, zero_point = calculate_qparams(xp.asarray(lo), xp.asarray(hi), spec)
        return quantize(data, scale, zero_point, bits=spec.bits, signed=spec.signed,
                        narrow_range=spec.narrow_range, axis=axis)

    # -- what it holds ------------------------------------------------------------------------
    @property
    def qmin(self) -> int:
        return quant_range(self.bits, self.signed, self.narrow_range)[0]

    @property
    def qmax(self) -> int:
        return quant_range(self.bits, self.signed, self.narrow_range)[1]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._q.shape)

    @property
    def dtype(self) -> Any:
        return self._q.dtype

    def numel(self) -> int:
        return int(self._q.size)

    def int_repr(self) -> Any:
        """The integers q (PyTorch's ``int_repr()``)."""
        return self._q

    def q_scale(self) -> float:
        if self.axis is not None:
            raise ValueError("q_scale(): this tensor is per-channel; use q_per_channel_scales()")
        return float(self.scale)

    def q_zero_point(self) -> int:
        if self.axis is not None:
            raise ValueError("q_zero_point(): this tensor is per-channel; use q_per_channel_zero_points()")
        return int(self.zero_point)

    def q_per_channel_scales(self) -> Any:
        return self.scale

    def q_per_channel_zero_points(self) -> Any:
        return self.zero_point

    def q_per_channel_axis(self) -> int | None:
        return self.axis

    @property
    def nbytes(self) -> int:
        """Bytes held: the integers as stored plus the float32 scales and int32 zero points."""
        return int(self._q.nbytes + self.scale.nbytes + self.zero_point.nbytes)

    @property
    def packed_nbytes(self) -> int:
        """Bytes with ``bits`` bits per value (⌈n·bits/8⌉, what :func:`pack_bits` produces) plus the parameters."""
        return math.ceil(self.numel() * self.bits / 8) + int(self.scale.nbytes + self.zero_point.nbytes)

    # -- back to reals ------------------------------------------------------------------------
    def dequantize(self) -> Tensor:
        """x̂ = (q − Z)·S as a float32 Tensor."""
        return Tensor._wrap(dequantize_affine(self._q, self.scale, self.zero_point, self.axis))

    def reshape(self, *shape: Any) -> QuantizedTensor:
        """The same integers in a new shape (per-tensor only: a reshape would scramble channels)."""
        if self.axis is not None:
            raise ValueError("reshape of a per-channel QuantizedTensor would mix its channels")
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return QuantizedTensor._wrap(self._q.reshape(shape), self.scale, self.zero_point, self.bits,
                                     self.signed, self.narrow_range, None)

    def __repr__(self) -> str:
        kind = "per-tensor" if self.axis is None else f"per-channel axis={self.axis}"
        params = (f"scale={float(self.scale):.6g}, zero_point={int(self.zero_point)}" if self.axis is None
                  else f"{self.scale.shape[0]} scales")
        return (f"QuantizedTensor(shape={self.shape}, {'int' if self.signed else 'uint'}{self.bits}, "
                f"{kind}, {params})")


def quantize(x: Any, scale: Any, zero_point: Any, *, bits: int = 8, signed: bool = False,
             narrow_range: bool = False, axis: int | None = None) -> QuantizedTensor:
    """x → QuantizedTensor with q = clamp(round(x / S) + Z, qmin, qmax).

    PyTorch's ``torch.quantize_per_tensor`` and ``torch.quantize_per_channel``.
    The defaults (8 bits, unsigned) are ``torch.quint8``'s; ``signed=True`` is ``torch.qint8``.
    ``scale`` and ``zero_point`` are numbers (per-tensor) or 1-D arrays with one entry per
    index along ``axis`` (per-channel). Bad parameters raise ValueError: bits outside
    [2, 16], a scale ≤ 0, a zero point outside [qmin, qmax], an axis out of range.
    """
    data = _array(x)
    qmin, qmax = quant_range(bits, signed, narrow_range)
    xp = backend.get_array_module(data)
    axis = normalize_axis(axis, data.ndim)
    s = xp.asarray(_array(scale), dtype=xp.float32)
    z = xp.asarray(_array(zero_point))
    check_qparams(s, z, qmin, qmax)
    q = quantize_affine(data, s, z, qmin, qmax, axis)
    return QuantizedTensor._wrap(q, s, z.astype(xp.int32), bits, signed, narrow_range, axis)


def dequantize(qt: QuantizedTensor) -> Tensor:
    """x̂ = (q − Z)·S (``torch.dequantize``)."""
    if not isinstance(qt, QuantizedTensor):
        raise TypeError(f"dequantize expects a QuantizedTensor (got {type(qt).__name__})")
    return qt.dequantize()


# -- bit packing: what a 4-bit file really stores ---------------------------------------------


def pack_bits(q: Any, qmin: int, bits: int) -> np.ndarray:
    """Pack integers in [qmin, qmin + 2^bits) into bytes, ``bits`` bits each (little-endian bit order).

    Returns a host uint8 array of ⌈n·bits/8⌉ bytes. :func:`unpack_bits` inverts it.
    """
    u = backend.to_numpy(_array(q)).astype(np.int64).ravel() - qmin
    if u.size and (u.min() < 0 or u.max() >= 2 ** bits):
        raise ValueError(f"pack_bits: values must lie in [{qmin}, {qmin + 2 ** bits - 1}]")
    planes = (u[:, None] >> np.arange(bits)) & 1  # host: one bit per column
    return np.packbits(planes.astype(np.uint8).ravel(), bitorder="little")


def unpack_bits(packed: np.ndarray, qmin: int, bits: int, count: int) -> np.ndarray:
    """The ``count`` integers packed by :func:`pack_bits`, as a host int32 array."""
    planes = np.unpackbits(packed, bitorder="little", count=count * bits).reshape(count, bits)
    return (planes.astype(np.int64) << np.arange(bits)).sum(axis=1).astype(np.int32) + qmin  # host
