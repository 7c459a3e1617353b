"""The integer kernels against their plain NumPy references, bit for bit.

These are about NumPy arrays and Numba, so they run on NumPy only; the references
themselves also run on the stand-in through the quantized-model tests.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minidl.compress.quantize.quantize import quantize_affine, quantize_int8
from minidl.kernels import int8 as K
from minidl.kernels import set_numba_enabled

pytestmark = pytest.mark.numpy_only

SETTINGS = settings(max_examples=30, deadline=None)
int8s = st.integers(-128, 127)


@st.composite
def operands(draw, max_k: int = 40):
    m, k, n = draw(st.integers(1, 6)), draw(st.integers(1, max_k)), draw(st.integers(1, 7))
    a = draw(hnp.arrays(np.int8, (m, k), elements=int8s))
    w = draw(hnp.arrays(np.int8, (n, k), elements=int8s))
    return a, w


@SETTINGS
@given(operands())
def test_matmul_kernel_and_float32_route_equal_the_reference(ops) -> None:
    a, w = ops
    expected = K.int8_matmul_reference(a, w)
    assert expected.dtype == np.int32
    np.testing.assert_array_equal(K.int8_matmul_numba(a, w), expected)
    np.testing.assert_array_equal(K.int8_matmul_float32(a, w), expected)
    np.testing.assert_array_equal(K.int8_matmul(a, w), expected)


def test_matmul_extremes_and_non_contiguous_inputs() -> None:
    a = np.full((3, 1024), -128, np.int8)
    w = np.full((2, 1024), -128, np.int8)
    assert K.int8_matmul_numba(a, w)[0, 0] == 2 ** 24  # the largest sum float32 must hold exactly
    rng = np.random.default_rng(0)
    big_a = rng.integers(-128, 128, (7, 60)).astype(np.int8)
    big_w = rng.integers(-128, 128, (9, 60)).astype(np.int8)
    a, w = big_a[::2, ::3], big_w[1::2, ::3]
    expected = K.int8_matmul_reference(a, w)
    for f in (K.int8_matmul_numba, K.int8_matmul_float32, K.int8_matmul):
        np.testing.assert_array_equal(f(a, w), expected)


def test_float32_route_stays_exact_beyond_its_bound_by_splitting_k() -> None:
    # 1099 products of 16384 and one of 1: 18,006,017 is odd and above 2^24, so one float32 sum
    # must round it; blocks of 1024 keep every partial sum exact.
    k = 1100
    a = np.full((1, k), -128, np.int8)
    w = np.full((1, k), -128, np.int8)
    a[0, -1], w[0, -1] = 1, 1
    exact = int(K.int8_matmul_reference(a, w)[0, 0])
    assert exact == 1099 * 16384 + 1 > 2 ** 24
    naive = int((a.astype(np.float32) @ w.astype(np.float32).T)[0, 0])
    assert naive != exact
    assert int(K.int8_matmul_float32(a, w)[0, 0]) == exact
    assert int(K.int8_matmul_numba(a, w)[0, 0]) == exact


def test_matmul_bad_operands() -> None:
    with pytest.raises(TypeError, match="expected int8 operands"):
        K.int8_matmul(np.zeros((2, 3), np.int16), np.zeros((2, 3), np.int8))
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(2, 4\)"):
        K.int8_matmul(np.zeros((2, 3), np.int8), np.zeros((2, 4), np.int8))


@SETTINGS
@given(st.floats(2.0 ** -31, 2.0 ** 29, allow_nan=False))
def test_quantize_multiplier(m) -> None:
    m0, shift = K.quantize_multiplier(np.float64(m))
    assert 2 ** 30 <= int(m0) < 2 ** 31 and 1 <= int(shift) <= 62
    assert abs(int(m0) * 2.0 ** -int(shift) - m) <= m * 2.0 ** -31


def test_quantize_multiplier_limits() -> None:
    m0, shift = K.quantize_multiplier(np.float64([2.0 ** -40, 0.999999999999]))
    assert m0.tolist() == [0, 2 ** 30] and shift.tolist() == [62, 30]  # tiny → 0; the carry to 1.0
    for bad in (0.0, -1.0, 2.0 ** 30, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="multiplier"):
            K.quantize_multiplier(np.float64(bad))


@st.composite
def requant_case(draw):
    m, n = draw(st.integers(1, 5)), draw(st.integers(1, 6))
    acc = draw(hnp.arrays(np.int32, (m, n), elements=st.integers(-2 ** 24, 2 ** 24)))
    bias = draw(hnp.arrays(np.int32, n, elements=st.integers(-2 ** 20, 2 ** 20)))
    real = draw(hnp.arrays(np.float64, n, elements=st.floats(1e-6, 0.5)))
    z = draw(st.integers(-128, 127))
    return acc, bias, real, z


@SETTINGS
@given(requant_case())
def test_requantize_kernel_equals_reference_and_rounds_acc_times_m(case) -> None:
    acc, bias, real, z = case
    m0, shift = K.quantize_multiplier(real)
    args = (acc, bias, m0.astype(np.int32), shift.astype(np.int8), z, -128, 127)
    fast, slow = K.requantize(*args), K.requantize_reference(*args)
    assert fast.dtype == slow.dtype == np.int8
    np.testing.assert_array_equal(fast, slow)
    exact = (acc.astype(np.float64) + bias) * real + z  # the real-number answer before rounding
    unclamped = (-128 < exact) & (exact < 127)
    err = np.abs(fast - exact)[unclamped]
    assert np.all(err <= 0.5 + np.abs(exact[unclamped]) * 2.0 ** -29)


def test_requantize_rounds_ties_up() -> None:
    m0, shift = K.quantize_multiplier(np.float64([0.5]))
    q = K.requantize(np.int32([[1, 3, -1, -3, 255]]), np.int32([0]), m0, shift, 0, -128, 127)
    assert q.tolist() == [[1, 2, 0, -1, 127]]  # 0.5 → 1, 1.5 → 2, −0.5 → 0, −1.5 → −1, 127.5 clamps
    with pytest.raises(ValueError, match="must fit int8"):
        K.requantize(np.int32([[1]]), 0, m0, shift, 0, -200, 127)


@SETTINGS
@given(hnp.arrays(np.float32, st.tuples(st.integers(1, 4), st.integers(1, 30)),
                  elements=st.floats(-300, 300, width=32)),
       st.floats(0.01, 3.0), st.integers(-128, 127))
def test_quantize_kernel_equals_the_formula(x, scale, z) -> None:
    s = np.float32(scale)
    np.testing.assert_array_equal(quantize_int8(x, s, z, -128, 127),
                                  quantize_affine(x, s, z, -128, 127))


def test_quantize_kernel_ties_infinities_and_nan() -> None:
    x = np.float32([0.25, 0.75, -0.25, -0.75, np.inf, -np.inf, 1e30])
    q = quantize_int8(x, np.float32(0.5), 0, -128, 127)
    assert q.tolist() == [0, 2, 0, -2, 127, -128, 127]
    assert q.tolist() == quantize_affine(x, np.float32(0.5), 0, -128, 127).tolist()
    with pytest.raises(ValueError, match="NaN"):
        quantize_int8(np.float32([1.0, np.nan]), np.float32(0.5), 0, -128, 127)


@pytest.mark.parametrize("batch", [1, 2, 3, 64])
def test_int8_linear_every_path_equals_the_reference(batch) -> None:
    rng = np.random.default_rng(batch)
    x = rng.integers(-128, 128, (batch, 300)).astype(np.int8)
    w = rng.integers(-127, 128, (40, 300)).astype(np.int8)
    bias = rng.integers(-50000, 50000, 40).astype(np.int32)
    m0, shift = K.quantize_multiplier(rng.uniform(1e-5, 1e-3, 40))
    args = (x, w, bias, m0.astype(np.int32), shift.astype(np.int8), -5, -5, 127)  # a fused ReLU: clamp at z
    expected = K.int8_linear_reference(*args)
    np.testing.assert_array_equal(K.int8_linear(*args), expected)
    try:
        set_numba_enabled(False)
        np.testing.assert_array_equal(K.int8_linear(*args), expected)
    finally:
        set_numba_enabled(True)
    assert expected.min() >= -5
