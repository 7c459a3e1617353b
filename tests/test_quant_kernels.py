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
from tests.kernel_spy import count_calls
from tests.test_quant_formulas import exact_level

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
    with pytest.MonkeyPatch.context() as mp:
        calls = count_calls(mp, K, "_requantize_kernel")
        fast = K.requantize(*args)
        assert calls["_requantize_kernel"] == 1, "the Numba kernel did not run"
    slow = K.requantize_reference(*args)
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


def quantize_both_ways(monkeypatch, x, s, z):
    """The kernel's answer (proved to have run) and the reference's, for float32 x → int8."""
    calls = count_calls(monkeypatch, K, "_quantize_kernel")
    fast = K.quantize_int8_fused(x, s, z, -128, 127)
    assert calls["_quantize_kernel"] == 1, "the Numba kernel did not run"
    return fast, quantize_affine(x, s, z, -128, 127)


@SETTINGS
@given(hnp.arrays(np.float32, st.tuples(st.integers(1, 4), st.integers(1, 30)),
                  elements=st.floats(-300, 300, width=32)),
       st.floats(0.01, 3.0), st.integers(-128, 127))
def test_quantize_kernel_equals_the_formula(x, scale, z) -> None:
    with pytest.MonkeyPatch.context() as mp:
        fast, slow = quantize_both_ways(mp, x, np.float32(scale), z)
    np.testing.assert_array_equal(fast, slow)


@SETTINGS
@given(st.floats(0.0001220703125, 0.5, width=32), st.integers(-128, 127), st.integers(-130, 130),
       st.integers(-2, 2))
def test_quantize_kernel_equals_the_reference_at_and_around_ties(scale, z, k, steps) -> None:
    # x one float32 step or less from where x·(1/s) + z = k + ½: the values a random strategy never hits
    s = np.float32(scale)
    x = np.float32((k + 0.5 - z) / float(np.float32(1) / s))
    x = np.float32([x, np.nextafter(x, np.float32(np.inf * np.sign(steps or 1)))])
    with pytest.MonkeyPatch.context() as mp:
        fast, slow = quantize_both_ways(mp, x, s, z)
    np.testing.assert_array_equal(fast, slow)
    assert fast.tolist() == np.clip([exact_level(v, s, z) for v in x], -128, 127).tolist()


@pytest.mark.parametrize("x, s, z, expected", [
    (-0.36294672, 0.002846641, 1, -126),  # the fused x·(1/s) + 1 = −126.4999990 → −126.5 → −126
    (-0.36294672, 0.002846641, 0, -128),  # −127.4999990 → −127.5 → −128 (ties to even)
    (0.25, 0.5, 1, 2),                    # 0.5 + 1 = 1.5 → 2 (round-then-add would say 1)
    (0.75, 0.5, 1, 2),                    # 2.5 → 2 (round-then-add: 3)
    (-0.25, 0.5, -3, -4),                 # −3.5 → −4
    (63.75, 0.5, 0, 127),                 # 127.5 → 128, clamped
    (-64.25, 0.5, 0, -128),               # −128.5 → −128 (ties to even), in range
], ids=["issue_z1", "issue_z0", "half_z1", "two_and_a_half", "minus_three_and_a_half", "clamp_high", "tie_at_qmin"])
def test_quantize_kernel_hand_computed_ties(monkeypatch, x, s, z, expected) -> None:
    xs = np.float32([x, x])
    fast, slow = quantize_both_ways(monkeypatch, xs, np.float32(s), z)
    assert fast.tolist() == slow.tolist() == [expected, expected]


def test_quantize_kernel_ties_infinities_and_nan(monkeypatch) -> None:
    x = np.float32([0.25, 0.75, -0.25, -0.75, np.inf, -np.inf, 1e30])
    fast, slow = quantize_both_ways(monkeypatch, x, np.float32(0.5), 0)
    assert fast.tolist() == slow.tolist() == [0, 2, 0, -2, 127, -128, 127]
    with pytest.raises(ValueError, match="NaN"):
        K.quantize_int8_fused(np.float32([1.0, np.nan]), np.float32(0.5), 0, -128, 127)
    with pytest.raises(ValueError, match="NaN"):
        quantize_affine(np.float32([1.0, np.nan]), np.float32(0.5), 0, -128, 127)


def test_quantize_int8_runs_the_kernel_for_the_arguments_the_layers_pass(monkeypatch) -> None:
    # Quantize and DynamicQuantizedLinear pass their (s, z) as 0-d arrays: the kernel must run.
    # (A NumPy scalar such as np.float32(0.5) is not an ndarray: dispatch sends it to the reference.)
    calls = count_calls(monkeypatch, K, "_quantize_kernel")
    x = np.float32([0.1, -0.7, 3.0])
    q = quantize_int8(x, np.asarray(0.05, np.float32), np.asarray(3, np.int32), -128, 127)
    assert calls["_quantize_kernel"] == 1
    assert q.tolist() == quantize_affine(x, 0.05, 3, -128, 127).tolist()
    assert quantize_int8(x, np.float32(0.05), 3, -128, 127).tolist() == q.tolist()
    assert calls["_quantize_kernel"] == 1  # the scalar went to the reference, as documented above


def test_an_int8_model_runs_every_integer_kernel(monkeypatch) -> None:
    import minidl as md
    from minidl import nn
    from minidl.compress import quantize as Q

    md.manual_seed(0)
    model = nn.MLP([8, 16, 4])
    int_model = Q.convert(Q.calibrate(Q.prepare(model), [md.randn(32, 8)]))
    calls = count_calls(monkeypatch, K, "_int8_mlp_kernel", "_quantize_kernel", "_int8_matmul_kernel",
                        "_requantize_kernel")
    with md.no_grad():
        int_model(md.randn(1, 8))  # batch 1: the whole MLP in one Numba call
    assert calls == {"_int8_mlp_kernel": 1}
    with md.no_grad():
        int_model(md.randn(64, 8))  # batch 64: float32-exact BLAS products, one Numba pass per layer
    assert calls == {"_int8_mlp_kernel": 1, "_quantize_kernel": 1, "_requantize_kernel": 2}
    handle = int_model[1].register_forward_hook(lambda m, args, out: None)
    with md.no_grad():  # a hook must see its layer: layer by layer, the per-layer kernels
        int_model(md.randn(1, 8))
    handle.remove()
    assert calls == {"_int8_mlp_kernel": 1, "_quantize_kernel": 2, "_int8_matmul_kernel": 2,
                     "_requantize_kernel": 4}


@pytest.mark.parametrize("batch", [1, 2, 3, 64])
def test_int8_linear_every_path_equals_the_reference(batch, monkeypatch) -> None:
    rng = np.random.default_rng(batch)
    x = rng.integers(-128, 128, (batch, 300)).astype(np.int8)
    w = rng.integers(-127, 128, (40, 300)).astype(np.int8)
    bias = rng.integers(-50000, 50000, 40).astype(np.int32)
    m0, shift = K.quantize_multiplier(rng.uniform(1e-5, 1e-3, 40))
    args = (x, w, bias, m0.astype(np.int32), shift.astype(np.int8), -5, -5, 127)  # a fused ReLU: clamp at z
    expected = K.int8_linear_reference(*args)
    calls = count_calls(monkeypatch, K, "_int8_matmul_kernel", "_requantize_kernel")
    np.testing.assert_array_equal(K.int8_linear(*args), expected)
    # the Numba product for batches up to SMALL_BATCH, the float32-exact BLAS route above
    assert (calls["_int8_matmul_kernel"], calls["_requantize_kernel"]) == (int(batch <= K.SMALL_BATCH), 1)
    try:
        set_numba_enabled(False)
        np.testing.assert_array_equal(K.int8_linear(*args), expected)
    finally:
        set_numba_enabled(True)
    assert calls["_requantize_kernel"] == 1  # nothing compiled ran with kernels off
    assert expected.min() >= -5
