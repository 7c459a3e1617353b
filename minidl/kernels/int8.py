"""Integer arithmetic for quantized inference: int8 × int8 → int32 products, and requantization
back to int8 (Jacob et al. 2018).

Three ways to compute the int32 product ``A·Wᵀ`` of int8 ``A`` (M, K) and int8 ``W`` (N, K)
(``W`` in PyTorch's (out, in) layout), all bit-for-bit equal:

- :func:`int8_matmul_reference` widens both to int32 and uses ``@``. Exact and simple, and
  slow on NumPy: there is no BLAS for integers, so NumPy falls back to a plain loop
  (about 100× slower than float32 BLAS at 512³; see ``benchmarks/bench_quant.py``).
- :func:`int8_matmul_float32` casts to float32 and lets BLAS (sgemm) do the work. It is exact:
  every product is an integer of magnitude ≤ 128·128 = 2¹⁴, so every partial sum of at most
  K terms is an integer of magnitude ≤ K·2¹⁴, and float32 represents every integer up to 2²⁴
  exactly. For K ≤ 1024 no rounding can happen in any order of summation BLAS chooses;
  longer products are split into blocks of 1024 whose int32 results are added.
- :func:`int8_matmul_numba`, a Numba loop: for each output, an int32 dot product over a row
  of ``W``. Written with the inner index a plain loop variable over contiguous rows, LLVM
  turns it into ``vpmaddwd`` (16 int16 multiply-adds per instruction). It reads 4× fewer
  weight bytes than float32 and needs no cast, so it wins for small batches; BLAS wins
  for large ones.

:func:`int8_matmul` picks the fastest exact path for the shape (``SMALL_BATCH``);
:func:`requantize` turns the int32 sums into int8 outputs in one Numba pass;
:func:`int8_mlp` runs a whole integer-only MLP (quantize → products and requantizations →
dequantize) in one Numba call for small batches, and with the levels kept as float32 BLAS
operands between layers for larger ones. Through
:func:`minidl.kernels.dispatch`, non-NumPy arrays (CuPy, the stand-in) take the plain
references. :func:`quantize_int8_fused` is only the float32 → int8 loop: its formula lives
one layer up, in :mod:`minidl.compress.quantize.quantize`, which pairs the two (kernels
never import the layers above them).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minidl.backend import get_array_module, to_numpy
from minidl.kernels import dispatch, jit

SMALL_BATCH = 2
"""Batches of at most this many rows use the Numba kernel; larger ones the float32-exact BLAS route."""

EXACT_FLOAT32_K = 2 ** 24 // (128 * 128)
"""1024: the longest int8 dot product whose every partial sum float32 holds exactly."""

MAX_KERNEL_K = (2 ** 31 - 1) // (128 * 128)
"""The longest dot product an int32 accumulator holds without overflow (131071)."""


_INT8 = np.dtype("int8")
_FLOAT32 = np.dtype("float32")


def _check_int8_operands(a: Any, w: Any, name: str) -> None:
    if a.dtype != _INT8 or w.dtype != _INT8:
        raise TypeError(f"{name}: expected int8 operands (got {a.dtype} and {w.dtype})")
    if a.ndim != 2 or w.ndim != 2 or a.shape[1] != w.shape[1]:
        raise ValueError(f"{name}: expected A of shape (M, K) and W of shape (N, K) "
                         f"(got {tuple(a.shape)} and {tuple(w.shape)})")
    if a.shape[1] > MAX_KERNEL_K:
        raise ValueError(f"{name}: K = {a.shape[1]} is longer than the int32 accumulator allows "
                         f"(at most {MAX_KERNEL_K})")


# -- float32 → int8 -----------------------------------------------------------------------------


@jit
def _quantize_kernel(x, inv_scale, zero_point, qmin, qmax, out):  # pragma: no cover - compiled by Numba
    # the reference's levels (fused_levels) in one pass: rint(fl32(x·(1/S) + Z)), x·(1/S) exact in
    # float64. Rounding the float64 sum to float32 is the FMA's single rounding wherever
    # |x·(1/S) + Z| < 128 (fused_levels notes); beyond, both roundings clamp to the int8 bounds.
    has_nan = False
    for i in range(x.size):
        level = np.rint(np.float32(np.float64(x[i]) * inv_scale + zero_point))
        has_nan |= level != level
        out[i] = min(max(level, qmin), qmax)
    return has_nan


def quantize_int8_fused(x: Any, scale: Any, zero_point: Any, qmin: int, qmax: int) -> Any | None:
    """q = clamp(round(x / S) + Z, qmin, qmax) for a float32 NumPy array, as int8, in one Numba pass.

    The loop only: the formula and its NumPy reference are
    :func:`minidl.compress.quantize.quantize.quantize_affine`, paired with this loop through
    :func:`dispatch` one layer up (:func:`minidl.compress.quantize.quantize.quantize_int8`).
    The loop performs the reference's operations (``fused_levels``: x·(1/S) + Z rounded once to
    float32, as FBGEMM's fused multiply-add, with 1/S in float32 as PyTorch's ``1.0f / scale``;
    rint; clamp), so the two agree bit for bit, ties included. Returns None,
    computing nothing, when the input is not float32 or [qmin, qmax] does not fit int8
    (NumPy needs six passes).
    """
    if x.dtype != _FLOAT32 or not (-128 <= qmin <= qmax <= 127):
        return None
    inv_scale = np.float64(np.float32(1.0) / np.float32(scale))  # float32, as PyTorch's 1.0f / scale
    out = np.empty(x.shape, dtype=np.int8)  # host: the kernel's output
    flat = x.reshape(-1) if x.flags.c_contiguous else np.ascontiguousarray(x).reshape(-1)
    if _quantize_kernel(flat, inv_scale, np.float64(zero_point), np.float64(qmin), np.float64(qmax), out.reshape(-1)):
        raise ValueError("quantize: x contains NaN, which has no integer level")
    return out


# -- the product --------------------------------------------------------------------------------


def int8_matmul_reference(a: Any, w: Any) -> Any:
    """C = A·Wᵀ in int32, by widening both operands to int32 (exact; the plain reference)."""
    _check_int8_operands(a, w, "int8_matmul")
    return a.astype("int32") @ w.astype("int32").T


def int8_matmul_float32(a: Any, w: Any) -> Any:
    """C = A·Wᵀ in int32, computed by float32 BLAS on blocks of K ≤ 1024 (exact; see the module notes)."""
    _check_int8_operands(a, w, "int8_matmul")
    xp = get_array_module(a, w)
    k = a.shape[1]
    out = None
    for start in range(0, max(k, 1), EXACT_FLOAT32_K):
        stop = min(start + EXACT_FLOAT32_K, k)
        block = (a[:, start:stop].astype(xp.float32) @ w[:, start:stop].astype(xp.float32).T).astype(xp.int32)
        out = block if out is None else out + block
    return out


@jit
def _int8_matmul_kernel(a, w, out):  # pragma: no cover - compiled by Numba
    m, k = a.shape
    n = w.shape[0]
    for i in range(m):
        ai = a[i]
        for j in range(n):
            wj = w[j]
            acc = np.int32(0)
            for t in range(k):  # a plain loop variable as the index: this is what LLVM vectorizes
                acc += np.int32(ai[t]) * np.int32(wj[t])
            out[i, j] = acc
    return out


def int8_matmul_numba(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """C = A·Wᵀ in int32 by the Numba kernel (NumPy arrays only; any shape)."""
    _check_int8_operands(a, w, "int8_matmul")
    out = np.empty((a.shape[0], w.shape[0]), dtype=np.int32)  # host: the kernel's output
    a = a if a.flags.c_contiguous else np.ascontiguousarray(a)
    w = w if w.flags.c_contiguous else np.ascontiguousarray(w)
    return _int8_matmul_kernel(a, w, out)


@dispatch(int8_matmul_reference)
def int8_matmul(a: Any, w: Any) -> Any:
    """C = A·Wᵀ (int8 A of shape (M, K), int8 W of shape (N, K)) as exact int32.

    The Numba kernel for M ≤ ``SMALL_BATCH``, the float32-exact BLAS route otherwise.
    """
    if a.ndim == 2 and a.shape[0] <= SMALL_BATCH:
        return int8_matmul_numba(a, w)
    return int8_matmul_float32(a, w)


# -- requantization -----------------------------------------------------------------------------


def quantize_multiplier(real_multiplier: Any) -> tuple[np.ndarray, np.ndarray]:
    """Write each M > 0 as M ≈ M₀ · 2^(−r), with M₀ an integer in [2³⁰, 2³¹) and r ≥ 1.

    M₀ / 2³¹ is M's mantissa in [0.5, 1) as a Q31 fixed-point number (Jacob et al. 2018,
    section 2.2), so ``acc · M`` can be computed as an integer multiply and a shift. The
    relative error is at most 2⁻³¹. Multipliers below 2⁻³² (whose products round to 0 for
    any int32 accumulator) become M₀ = 0.
    Returns host int64 arrays (M₀, r) of M's shape.
    """
    m = np.asarray(to_numpy(real_multiplier), dtype=np.float64)  # host: a few numbers per layer
    if not np.all(np.isfinite(m)) or np.any(m <= 0):
        raise ValueError(f"requantization multiplier must be positive and finite (got {m.ravel()[:4]}...)")
    if np.any(m >= 2.0 ** 30):
        raise ValueError(f"requantization multiplier must be < 2^30 (got max {m.max():.3g}): "
                         "the output scale is far too small for the input scales")
    mantissa, exponent = np.frexp(m)
    m0 = np.rint(mantissa * 2.0 ** 31).astype(np.int64)
    carry = m0 == 2 ** 31  # the mantissa rounded up to 1.0
    m0 = np.where(carry, m0 // 2, m0)
    exponent = exponent + carry
    shift = 31 - exponent.astype(np.int64)
    tiny = shift > 62
    return np.where(tiny, 0, m0), np.where(tiny, 62, shift)


def requantize_reference(acc: Any, bias: Any, multiplier: Any, shift: Any, zero_point: int, qmin: int,
                         qmax: int) -> Any:
    """q = clamp(Z + ⌊((acc + bias) · M₀ + 2^(r−1)) / 2^r⌋, qmin, qmax) — i.e. Z + round((acc + bias) · M), in integers.

    ``acc`` is the int32 accumulator Σ q₁q₂ of shape (n, N); ``bias`` the int32 bias with
    scale S₁S₂ (plus the zero-point correction); M = S₁S₂/S₃ as (M₀, r) from
    :func:`quantize_multiplier`. ``bias``, ``multiplier`` and ``shift`` have one entry per
    output channel (the last axis). The product is formed in int64 and rounded half toward
    +∞ (gemmlowp rounds half away from zero; the two differ only on exact ties of negative
    values). Returns int8 ([qmin, qmax] must fit int8).
    """
    xp = get_array_module(acc)
    if not (-128 <= qmin <= qmax <= 127):
        raise ValueError(f"requantize: output range [{qmin}, {qmax}] must fit int8")
    r = xp.asarray(shift, dtype=xp.int64)
    q = (acc.astype(xp.int64) + xp.asarray(bias, dtype=xp.int64)) * xp.asarray(multiplier, dtype=xp.int64)
    q = (q + (1 << (r - 1))) >> r
    return xp.clip(q + zero_point, qmin, qmax).astype(xp.int8)


@jit
def _requantize_kernel(acc, bias, multiplier, shift, zero_point, qmin, qmax, out):  # pragma: no cover
    m, n = acc.shape
    for i in range(m):
        for j in range(n):
            r = shift[j]
            q = ((np.int64(acc[i, j]) + bias[j]) * multiplier[j] + (np.int64(1) << (r - 1))) >> r
            out[i, j] = min(max(q + zero_point, qmin), qmax)
    return out


@dispatch(requantize_reference)
def requantize(acc: Any, bias: Any, multiplier: Any, shift: Any, zero_point: int, qmin: int, qmax: int) -> Any:
    """:func:`requantize_reference` in one Numba pass (NumPy's version makes eight passes over int64)."""
    if acc.ndim != 2:
        return requantize_reference(acc, bias, multiplier, shift, zero_point, qmin, qmax)
    if not (-128 <= qmin <= qmax <= 127):
        raise ValueError(f"requantize: output range [{qmin}, {qmax}] must fit int8")
    n = acc.shape[1]
    # per-channel arrays of shape (N,) pass straight through (the usual case: checked cheaply,
    # as this runs once per layer and call); a single number is spread out
    if getattr(bias, "shape", None) != (n,):
        bias = np.full((n,), bias, dtype=np.int64)  # host: NumPy path only
    if getattr(multiplier, "shape", None) != (n,):
        multiplier = np.full((n,), multiplier, dtype=np.int64)  # host
    if getattr(shift, "shape", None) != (n,):
        shift = np.full((n,), shift, dtype=np.int64)  # host
    if not acc.flags.c_contiguous:
        acc = np.ascontiguousarray(acc)
    out = np.empty(acc.shape, dtype=np.int8)  # host: the kernel's output
    return _requantize_kernel(acc, bias, multiplier, shift, int(zero_point), int(qmin), int(qmax), out)


# -- the quantized linear layer -----------------------------------------------------------------


def int8_linear_reference(x: Any, w: Any, bias: Any, multiplier: Any, shift: Any,
                          zero_point: int, qmin: int, qmax: int) -> Any:
    """y_q = requantize(X_q·W_qᵀ + bias) for int8 X_q (n, K), W_q (N, K), with the plain references."""
    return requantize_reference(int8_matmul_reference(x, w), bias, multiplier, shift, zero_point, qmin, qmax)


def int8_linear(x: Any, w: Any, bias: Any, multiplier: Any, shift: Any, zero_point: int, qmin: int,
                qmax: int) -> Any:
    """One quantized linear layer in integers only: int8 in, int8 out.

    ``bias`` already holds the zero-point correction (−Z₁ Σₖ W_q[j, k]) and the int32 bias
    (scale S₁S₂, zero point 0); see :class:`minidl.compress.quantize.QuantizedLinear`.
    Equal, bit for bit, to :func:`int8_linear_reference`.
    """
    return requantize(int8_matmul(x, w), bias, multiplier, shift, zero_point, qmin, qmax)


# -- a whole integer-only MLP in one call -------------------------------------------------------


@jit
def _int8_mlp_kernel(x, in_scale, in_zero, in_low, in_high, weights, biases, multipliers, shifts, zeros, relu,
                     lows, highs, out_scale, out_zero, out):  # pragma: no cover - compiled by Numba
    # one row at a time through every layer; a row's integers never leave two small buffers. The
    # levels are kept as int16, so the product widens only the weights (vpmovsxbw) before vpmaddwd
    # (~20% faster than widening both int8 operands); the sums go to an int32 buffer: a store to
    # the int16 levels inside the product's loop would stop LLVM vectorizing it (they might alias)
    n, k0 = x.shape
    width = k0
    for layer in range(len(weights)):
        width = max(width, weights[layer].shape[0])
    levels = np.empty(width, dtype=np.int16)
    sums = np.empty(width, dtype=np.int32)
    inv_scale = np.float64(np.float32(1.0) / np.float32(in_scale[()]))  # 1/s in float32, as PyTorch
    z_in = np.float64(in_zero[()])
    for i in range(n):
        has_nan = False
        for t in range(k0):  # quantize: rint(fl32(x·(1/s) + z)), clamped (as _quantize_kernel)
            level = np.rint(np.float32(np.float64(x[i, t]) * inv_scale + z_in))
            has_nan |= level != level
            levels[t] = np.int16(min(max(level, in_low), in_high))
        if has_nan:
            return True
        k = k0
        for layer in range(len(weights)):
            w = weights[layer]
            for j in range(w.shape[0]):
                wj = w[j]
                acc = np.int32(0)
                for t in range(wj.shape[0]):  # the int8 product (K = k), vectorized as in _int8_matmul_kernel
                    acc += np.int32(levels[t]) * np.int32(wj[t])
                sums[j] = acc
            bias, mult, shift = biases[layer], multipliers[layer], shifts[layer]
            z = np.int64(zeros[layer][()])
            low = max(lows[layer], z) if relu[layer] else lows[layer]  # a fused ReLU clamps at z
            high = highs[layer]
            k = w.shape[0]
            for j in range(k):  # requantize, as _requantize_kernel
                r = np.int64(shift[j])
                q = ((np.int64(sums[j]) + np.int64(bias[j])) * np.int64(mult[j]) + (np.int64(1) << (r - 1))) >> r
                levels[j] = min(max(q + z, low), high)
        s_out = np.float32(out_scale[()])
        z_out = np.int32(out_zero[()])
        for j in range(k):  # dequantize: (q − z) in int32, then × s in float32
            out[i, j] = np.float32(np.int32(levels[j]) - z_out) * s_out
    return False


class IntegerMLP:
    """The arrays of an integer-only MLP, as :func:`int8_mlp` reads them, checked once here.

    ``in_scale``, ``in_zero``: the input's (s, z), 0-d; ``in_range``: its [qmin, qmax]. Per layer
    ``l``: ``weights[l]`` int8 (N, K); ``biases[l]`` the folded int32 bias; ``multipliers[l]`` and
    ``shifts[l]`` M = M₀·2⁻ʳ from :func:`quantize_multiplier`; ``zeros[l]`` the output zero point
    (0-d); ``relu[l]``, ``lows[l]``, ``highs[l]`` the fused ReLU and [qmin, qmax] (host arrays, one
    entry per layer). ``out_scale``, ``out_zero``: the last layer's (s, z), 0-d. The arrays can be
    the modules' buffers themselves: a state_dict loaded in place is seen by the next call (the
    shapes, checked here because the loops read without bounds checks, cannot change in place).
    """

    __slots__ = ("in_scale", "in_zero", "in_range", "weights", "biases", "multipliers", "shifts", "zeros",
                 "relu", "lows", "highs", "out_scale", "out_zero", "in_features", "out_features", "one_call")

    def __init__(self, in_scale: Any, in_zero: Any, in_range: tuple[int, int], weights: tuple, biases: tuple,
                 multipliers: tuple, shifts: tuple, zeros: tuple, relu: Any, lows: Any, highs: Any,
                 out_scale: Any, out_zero: Any) -> None:
        weights, biases, multipliers, shifts, zeros = (tuple(a) for a in (weights, biases, multipliers, shifts,
                                                                          zeros))
        lo, hi = (int(v) for v in in_range)
        if not (-128 <= lo <= hi <= 127):
            raise ValueError(f"IntegerMLP: input range [{lo}, {hi}] must fit int8")
        layers = len(weights)
        if layers == 0 or any(len(t) != layers for t in (biases, multipliers, shifts, zeros, relu, lows, highs)):
            raise ValueError(f"IntegerMLP: expected one weight, bias, multiplier, shift, zero point, relu flag "
                             f"and range per layer (got {layers} weights)")
        for layer, w in enumerate(weights):
            n = w.shape[0] if w.ndim == 2 else -1
            if w.dtype != _INT8 or w.ndim != 2 or (layer and w.shape[1] != weights[layer - 1].shape[0]):
                raise ValueError(f"IntegerMLP: layer {layer} weight must be int8 of shape (N, K) with K the "
                                 f"previous layer's N (got {w.dtype} {tuple(w.shape)})")
            if w.shape[1] > MAX_KERNEL_K:
                raise ValueError(f"IntegerMLP: layer {layer} has K = {w.shape[1]}, longer than the int32 "
                                 f"accumulator allows (at most {MAX_KERNEL_K})")
            if any(a.shape != (n,) or a.dtype.kind != "i" for a in (biases[layer], multipliers[layer], shifts[layer])):
                raise ValueError(f"IntegerMLP: layer {layer} needs integer bias, multiplier and shift of shape ({n},)")
            if not (-128 <= int(lows[layer]) <= int(highs[layer]) <= 127):
                raise ValueError(f"IntegerMLP: layer {layer} output range [{lows[layer]}, {highs[layer]}] "
                                 "must fit int8")
        self.in_scale, self.in_zero, self.in_range = in_scale, in_zero, (lo, hi)
        self.weights, self.biases, self.multipliers = weights, biases, multipliers
        self.shifts, self.zeros = shifts, zeros
        self.relu, self.lows, self.highs, self.out_scale, self.out_zero = relu, lows, highs, out_scale, out_zero
        self.in_features, self.out_features = int(weights[0].shape[1]), int(weights[-1].shape[0])
        # a product longer than 1024 has no exact float32 route: the one-call kernel takes every batch
        self.one_call = max(int(w.shape[1]) for w in weights) > EXACT_FLOAT32_K


def int8_mlp(x: np.ndarray, p: IntegerMLP) -> np.ndarray:
    """A whole integer-only MLP — quantize, then per layer the int8 product and requantization
    (clamped at z for a fused ReLU), then dequantize — float32 (n, K₀) in, float32 (n, N_L) out.

    The loops only (NumPy arrays; ``p`` as :class:`IntegerMLP` describes, its shapes checked there): the formulas are
    :func:`minidl.compress.quantize.quantize.quantize_affine`, :func:`requantize_reference` and
    :func:`minidl.compress.quantize.quantize.dequantize_affine`, and their composition, the
    reference this must equal bit for bit, is
    :func:`minidl.compress.quantize.qmodel.integer_mlp_reference`, paired with this one layer up.

    Two routes, chosen by the batch:

    - at most ``SMALL_BATCH`` rows (or K > 1024 anywhere): one Numba call for the whole network,
      a row's integers kept in a small buffer from layer to layer (no Python between layers);
    - more rows: the products are float32 BLAS on the integer levels (exact for K ≤ 1024, see the
      module notes), and the integers travel between layers *as float32 levels*: quantization
      and each requantization write the next product's float32 operand directly, in one Numba
      pass, instead of int8 that the product would cast again. The weights are cast per call, so
      they stay int8 in memory.
    """
    if x.dtype != _FLOAT32 or x.ndim != 2 or x.shape[1] != p.in_features:
        raise ValueError(f"int8_mlp: x must be float32 of shape (n, {p.in_features}) "
                         f"(got {x.dtype} {tuple(x.shape)})")
    x = x if x.flags.c_contiguous else np.ascontiguousarray(x)
    n, k0 = x.shape
    lo, hi = p.in_range
    weights = p.weights
    if n <= SMALL_BATCH or p.one_call:
        out = np.empty((n, p.out_features), dtype=np.float32)  # host: the kernel's output
        if _int8_mlp_kernel(x, p.in_scale, p.in_zero, float(lo), float(hi), weights, p.biases,
                            p.multipliers, p.shifts, p.zeros, p.relu, p.lows, p.highs, p.out_scale, p.out_zero, out):
            raise ValueError("quantize: x contains NaN, which has no integer level")
        return out
    levels = np.empty(x.shape, dtype=np.float32)  # host: the integer levels, as float32
    inv_scale = np.float64(np.float32(1.0) / np.float32(p.in_scale))
    if _quantize_kernel(x.reshape(-1), inv_scale, np.float64(p.in_zero), np.float64(lo), np.float64(hi),
                        levels.reshape(-1)):
        raise ValueError("quantize: x contains NaN, which has no integer level")
    for layer, w in enumerate(weights):
        acc = levels @ w.astype(np.float32).T  # exact: integers below 2^24
        z = int(p.zeros[layer])
        low = max(int(p.lows[layer]), z) if p.relu[layer] else int(p.lows[layer])
        levels = np.empty(acc.shape, dtype=np.float32)  # host
        _requantize_kernel(acc, p.biases[layer], p.multipliers[layer], p.shifts[layer], z, low,
                           int(p.highs[layer]), levels)
    levels -= np.float32(p.out_zero)  # (q − z) is exact in float32, as in int32
    levels *= np.float32(p.out_scale)
    return levels
