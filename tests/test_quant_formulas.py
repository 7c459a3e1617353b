"""Quantization formulas: ranges, scale and zero point, quantize/dequantize, observers.

The vectors come from ../shared/reference/semantics.md section 5 and were checked once
against PyTorch (torch.ao.quantization observers, torch.quantize_per_tensor,
torch.fake_quantize_per_*_affine: every integer identical); the tests need only NumPy.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minidl as md
from minidl import backend
from minidl.compress import quantize as Q

pytestmark = pytest.mark.backends  # quantizers must also run on a GPU: no NumPy may leak in

SETTINGS = settings(max_examples=40, deadline=None)
DATA = ([1, 2, 2, 3, 4, 5, 6], [4, 5, 5, 6, 7, 8])


def host(a):
    return backend.to_numpy(a.data if isinstance(a, md.Tensor) else a)


def observe(observer, *batches):
    for b in batches:
        observer(md.tensor(np.asarray(b, dtype=np.float32)))
    return observer


def qparams(observer):
    s, z = observer.calculate_qparams()
    return host(s), host(z)


# -- ranges ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("bits, signed, narrow, expected", [
    (8, True, False, (-128, 127)), (8, False, False, (0, 255)), (8, True, True, (-127, 127)),
    (4, True, False, (-8, 7)), (4, False, False, (0, 15)), (2, True, False, (-2, 1)),
    (16, True, False, (-32768, 32767)), (16, False, True, (1, 65535)),
])
def test_quant_range(bits, signed, narrow, expected) -> None:
    assert Q.quant_range(bits, signed, narrow) == expected
    assert (Q.QuantSpec(bits, signed, narrow_range=narrow).qmin, Q.QuantSpec(bits, signed, narrow_range=narrow).qmax) \
        == expected


@pytest.mark.parametrize("bits", [1, 17, 0, 8.0, True, "8"])
def test_bits_out_of_range_is_a_clear_error(bits) -> None:
    with pytest.raises(ValueError, match="bits must be an int in \\[2, 16\\]"):
        Q.quant_range(bits)
    with pytest.raises(ValueError, match="bits"):
        Q.MinMaxObserver(bits=bits)


def test_storage_dtype_is_the_smallest_that_fits() -> None:
    assert Q.QuantSpec(4, signed=True).dtype == "int8"
    assert Q.QuantSpec(8, signed=False).dtype == "uint8"
    assert Q.QuantSpec(12, signed=True).dtype == "int16"
    assert Q.QuantSpec(16, signed=False).dtype == "uint16"


# -- the semantics vectors --------------------------------------------------------------------------


def test_minmax_observer_vectors() -> None:
    o = observe(Q.MinMaxObserver(), *DATA)  # PyTorch's default: quint8, per-tensor affine
    assert host(o.min_val) == 1 and host(o.max_val) == 8
    s, z = qparams(o)
    assert s == np.float32(8 / 255) and z == 0  # min_neg = 0: the range is widened to contain 0
    s, z = qparams(observe(Q.MinMaxObserver(signed=True), *DATA))
    assert s == np.float32(8 / 255) and z == -128
    s, z = qparams(observe(Q.MinMaxObserver(signed=True, symmetric=True), *DATA))
    assert s == np.float32(8 / 127.5) and z == 0  # ÷127.5, not ÷127
    s, z = qparams(observe(Q.MinMaxObserver(signed=False, symmetric=True), *DATA))
    assert s == np.float32(8 / 127.5) and z == 128
    s, z = qparams(observe(Q.MinMaxObserver(signed=True, symmetric=True, narrow_range=True), *DATA))
    assert s == np.float32(8 / 127) and z == 0


def test_per_channel_vectors() -> None:
    x = [[-4.0, 8.0, 0.0], [1.0, 2.0, 3.0]]  # channel 0 spans [-4, 8]; channel 1 [1, 3] → [0, 3]
    s, z = qparams(observe(Q.PerChannelMinMaxObserver(ch_axis=0, signed=True), x))
    np.testing.assert_array_equal(s, np.float32([12 / 255, 3 / 255]))
    np.testing.assert_array_equal(z, [-43, -128])  # −128 − round(−4 / (12/255)) = −128 + 85
    s, z = qparams(observe(Q.PerChannelMinMaxObserver(ch_axis=0), x))
    np.testing.assert_array_equal(z, [85, 0])
    s, z = qparams(observe(Q.PerChannelMinMaxObserver(ch_axis=1, signed=True), x))
    np.testing.assert_array_equal(s, np.float32([5 / 255, 8 / 255, 3 / 255]))


def test_moving_average_observer() -> None:
    o = observe(Q.MovingAverageMinMaxObserver(), *DATA)
    # first batch sets (1, 6); then x += 0.01·(batch − x): 1 + 0.03 and 6 + 0.02
    np.testing.assert_allclose([host(o.min_val), host(o.max_val)], [1.03, 6.02], rtol=1e-6)
    o = observe(Q.MovingAverageMinMaxObserver(averaging_constant=0.5), [0, 10], [0, 20])
    assert host(o.max_val) == 15


def test_empty_observer_gives_scale_one_zero_point_zero() -> None:
    for observer in (Q.MinMaxObserver(), Q.PerChannelMinMaxObserver(), Q.MovingAverageMinMaxObserver(),
                     Q.HistogramObserver()):
        with pytest.warns(UserWarning, match="before any data"):
            s, z = qparams(observer)
        assert s.tolist() == [1.0] and z.tolist() == [0]


def test_eps_floor_for_a_constant_zero_tensor() -> None:
    s, z = qparams(observe(Q.MinMaxObserver(signed=True), [0.0, 0.0]))
    assert s == np.float32(Q.FLOAT32_EPS) and z == -128


def test_symmetric_saturation_at_plus_max() -> None:
    # int8 symmetric: s = 8/127.5, so ±8 sit at levels ±127.5 (as computed, 8·(1/s) = 127.49999 in
    # float32, exactly as PyTorch: both give ±127). The top level 127 stands for 127·s = 7.969: +max
    # itself is not representable, and anything above it saturates at 127.
    s, z = qparams(observe(Q.MinMaxObserver(signed=True, symmetric=True), [-3.0, 8.0]))
    assert s == np.float32(8 / 127.5)
    x = md.tensor([8.0, -8.0, 0.0, 8.0 + s / 4, 100.0])
    qt = Q.quantize(x, s, z, signed=True)
    assert host(qt.int_repr()).tolist() == [127, -127, 0, 127, 127]
    back = qt.dequantize().numpy()
    assert back[0] == np.float32(127 * s) and abs(8 - back[0]) == pytest.approx(s / 2, rel=1e-4)
    x = md.tensor([8.0, 8.0 + s / 4], requires_grad=True)
    Q.fake_quantize(x, s, z, -128, 127).sum().backward()
    assert x.grad.numpy().tolist() == [1.0, 0.0]  # level 127 passes the gradient; 127.75 → 128 saturates


def test_round_half_to_even_and_one_over_s_as_pytorch() -> None:
    x = md.tensor((np.arange(-6, 6) + 0.5).astype(np.float32) * 0.5)  # exact ties k + 0.5 at s = 0.5
    q = host(Q.quantize(x, 0.5, 0, signed=True).int_repr())
    assert q.tolist() == [-6, -4, -4, -2, -2, 0, 0, 2, 2, 4, 4, 6]


def test_calculate_qparams_agrees_with_the_formulas_in_its_docstring() -> None:
    lo, hi = np.float32([-1.5, 0.2, -7.0]), np.float32([2.5, 3.0, -1.0])
    for signed in (True, False):
        spec = Q.QuantSpec(8, signed=signed)
        s, z = (host(v) for v in Q.calculate_qparams(md.tensor(lo), md.tensor(hi), spec))
        min_neg, max_pos = np.minimum(lo, 0), np.maximum(hi, 0)
        expected_s = np.float32((max_pos - min_neg) / np.float32(255))
        np.testing.assert_array_equal(s, expected_s)
        np.testing.assert_array_equal(z, np.clip(spec.qmin - np.rint(min_neg / expected_s), spec.qmin, spec.qmax))


# -- round trip -------------------------------------------------------------------------------------

finite32 = st.floats(-1000, 1000, allow_nan=False, allow_infinity=False, width=32)


@st.composite
def spec_and_data(draw):
    bits = draw(st.integers(2, 16))
    signed, symmetric, narrow = draw(st.booleans()), draw(st.booleans()), draw(st.booleans())
    if narrow and bits == 2 and not signed:
        narrow = False
    spec = Q.QuantSpec(bits, signed, symmetric, narrow)
    x = draw(hnp.arrays(np.float32, draw(st.integers(1, 30)), elements=finite32))
    return spec, x


@SETTINGS
@given(spec_and_data())
def test_round_trip_error_is_at_most_half_a_step_inside_the_range(case) -> None:
    spec, x = case
    s, z = Q.calculate_qparams(md.tensor(x.min()), md.tensor(x.max()), spec)
    s_host, z_host = float(host(s)), int(host(z))
    qt = Q.quantize(md.tensor(x), s, z, bits=spec.bits, signed=spec.signed, narrow_range=spec.narrow_range)
    q = host(qt.int_repr()).astype(np.int64)
    assert q.min() >= spec.qmin and q.max() <= spec.qmax
    back = qt.dequantize().numpy().astype(np.float64)
    low, high = (spec.qmin - z_host) * s_host, (spec.qmax - z_host) * s_host
    half_step = s_host / 2 * (1 + 2 ** -8) + np.abs(x) * 2 ** -22 + 1e-30  # s/2 and float32's rounding
    inside = (x >= low - half_step) & (x <= high + half_step)
    # the chosen range reaches every observed value to within half a step (a symmetric one
    # stops half a step short of its far end: +max lands on level 127.5 at 8 bits)
    assert inside.all()
    assert np.all(np.abs(back - x) <= half_step)


@SETTINGS
@given(spec_and_data())
def test_quantize_dequantize_is_idempotent_and_zero_is_exact(case) -> None:
    spec, x = case
    s, z = Q.calculate_qparams(md.tensor(x.min()), md.tensor(x.max()), spec)
    kw = dict(bits=spec.bits, signed=spec.signed, narrow_range=spec.narrow_range)
    once = Q.quantize(md.tensor(x), s, z, **kw)
    twice = Q.quantize(once.dequantize(), s, z, **kw)
    np.testing.assert_array_equal(host(twice.int_repr()), host(once.int_repr()))
    zero = Q.quantize(md.tensor(np.zeros(3, np.float32)), s, z, **kw)
    assert np.all(zero.dequantize().numpy() == 0.0)


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_per_channel_on_any_axis_equals_per_tensor_on_each_slice(axis) -> None:
    x = np.random.default_rng(axis + 5).standard_normal((3, 4, 5)).astype(np.float32) * np.float32(3)
    spec = Q.QuantSpec(8, signed=True, symmetric=True, ch_axis=axis)
    qt = Q.QuantizedTensor.from_float(md.tensor(x), spec)
    q, scales = host(qt.int_repr()), host(qt.scale)
    for c in range(x.shape[axis]):
        part = np.take(x, c, axis=axis)
        alone = Q.QuantizedTensor.from_float(md.tensor(part), Q.QuantSpec(8, signed=True, symmetric=True))
        np.testing.assert_array_equal(np.take(q, c, axis=axis), host(alone.int_repr()))
        assert scales[c] == host(alone.scale)


# -- bad parameters ---------------------------------------------------------------------------------


@pytest.mark.parametrize("scale, message", [(0.0, "scale must be positive"), (-0.1, "scale must be positive"),
                                            (float("nan"), "scale must be positive"),
                                            (float("inf"), "scale must be positive")])
def test_bad_scale(scale, message) -> None:
    with pytest.raises(ValueError, match=message):
        Q.quantize(md.tensor([1.0]), scale, 0, signed=True)
    with pytest.raises(ValueError, match=message):
        Q.fake_quantize(md.tensor([1.0]), scale, 0, -128, 127)


@pytest.mark.parametrize("zero_point, bits, signed", [(128, 8, True), (-129, 8, True), (-1, 8, False),
                                                      (256, 8, False), (8, 4, True)])
def test_zero_point_outside_the_range(zero_point, bits, signed) -> None:
    with pytest.raises(ValueError, match="zero_point must lie in"):
        Q.quantize(md.tensor([1.0]), 0.1, zero_point, bits=bits, signed=signed)


def test_other_bad_inputs() -> None:
    x = md.tensor(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="zero_point must be an integer"):
        Q.quantize(x, 0.1, 1.5)
    with pytest.raises(ValueError, match="axis=2 is out of range"):
        Q.quantize(x, [0.1, 0.1], [0, 0], axis=2)
    with pytest.raises(ValueError, match="axis=-3 is out of range"):
        Q.fake_quantize(x, [0.1, 0.1], [0, 0], -128, 127, axis=-3)
    with pytest.raises(ValueError, match="3 scales for 2 channels"):
        Q.quantize(x, [0.1, 0.1, 0.1], [0, 0, 0], axis=0)
    with pytest.raises(ValueError, match="one scale and zero point"):
        Q.quantize(x, [0.1, 0.1], [0, 0])
    with pytest.raises(ValueError, match="NaN"):
        Q.quantize(md.tensor([1.0, float("nan")]), 0.1, 0)
    with pytest.raises(TypeError, match="floating point"):
        Q.quantize(md.tensor([1, 2]), 0.1, 0)
    with pytest.raises(ValueError, match="ch_axis=3 is out of range"):
        Q.PerChannelMinMaxObserver(ch_axis=3)(x)
    with pytest.raises(ValueError, match="NaN"):
        Q.MinMaxObserver()(md.tensor([float("nan")]))
    with pytest.raises(ValueError, match="min_val must be <= max_val"):
        Q.calculate_qparams(2.0, 1.0)
    with pytest.raises(ValueError, match="values must lie in"):
        Q.QuantizedTensor(md.tensor(np.array([0, 9], np.int8)), 1.0, 0, bits=4)


# -- the quantized-tensor type ----------------------------------------------------------------------


def test_quantized_tensor_sizes_and_accessors() -> None:
    w = md.tensor(np.random.default_rng(0).standard_normal((16, 32)).astype(np.float32))
    per_tensor = Q.QuantizedTensor.from_float(w, Q.QuantSpec(8, signed=True, symmetric=True))
    assert per_tensor.int_repr().dtype == np.int8 and per_tensor.shape == (16, 32)
    assert per_tensor.nbytes == 16 * 32 + 4 + 4 and w.data.nbytes == 4 * 16 * 32
    assert per_tensor.q_zero_point() == 0 and per_tensor.q_scale() > 0
    four = Q.QuantizedTensor.from_float(w, Q.QuantSpec(4, signed=True, symmetric=True, ch_axis=0))
    assert four.nbytes == 16 * 32 + 16 * 8 and four.packed_nbytes == 16 * 32 // 2 + 16 * 8
    assert four.q_per_channel_axis() == 0 and host(four.q_per_channel_scales()).shape == (16,)
    with pytest.raises(ValueError, match="per-channel"):
        four.q_scale()
    twelve = Q.QuantizedTensor.from_float(w, Q.QuantSpec(12, signed=True))
    assert twelve.int_repr().dtype == np.int16
    assert "QuantizedTensor(shape=(16, 32), int4" in repr(four)


@SETTINGS
@given(st.integers(2, 8), st.booleans(), st.integers(0, 40))
def test_pack_bits_round_trip(bits, signed, n) -> None:
    qmin, qmax = Q.quant_range(bits, signed)
    q = np.random.default_rng(n).integers(qmin, qmax + 1, n)
    packed = Q.pack_bits(md.tensor(q), qmin, bits)
    assert packed.nbytes == -(-n * bits // 8)
    np.testing.assert_array_equal(Q.unpack_bits(packed, qmin, bits, n), q)


# -- the histogram observer -------------------------------------------------------------------------


def test_histogram_observer_clips_outliers_and_lowers_the_error() -> None:
    rng = np.random.default_rng(0)
    x = np.abs(rng.standard_normal(20000)).astype(np.float32)
    x[:3] = [40.0, 35.0, 30.0]  # a few outliers stretch the min/max range 10×
    spec = dict(bits=4, signed=True)
    hist = Q.HistogramObserver(**spec)
    for part in np.array_split(x, 4):  # the range grows batch by batch: counts are re-binned
        hist(md.tensor(part))
    assert host(hist.histogram).sum() == x.size
    alphas, errors, best = hist.search()
    assert best < 0.5 and errors.min() < errors[0]  # α = 1 is the plain min/max range

    def mse(observer):
        s, z = observer.calculate_qparams()
        back = Q.quantize(md.tensor(x), s, z, **spec).dequantize().numpy()
        return float(((back - x) ** 2).mean())

    minmax = observe(Q.MinMaxObserver(**spec), x)
    assert mse(hist) < 0.5 * mse(minmax)


def test_observers_keep_the_quantizer_settings_in_their_repr() -> None:
    o = Q.PerChannelMinMaxObserver(ch_axis=1, bits=4, signed=True, symmetric=True)
    assert "ch_axis=1" in repr(o) and "int4 symmetric" in repr(o)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        observe(o, np.ones((2, 3), np.float32))
        o.calculate_qparams()


# -- where z joins the rounding: torch.quantize_per_tensor vs quantize_per_channel ------------------
# torch.quantize_per_tensor on x86-64 (FBGEMM's QuantizeAvx2, an FMA) rounds x·(1/s) + z once to
# float32, then to an integer; quantize_per_channel rounds x·(1/s) to float32, adds z in float32
# (a second rounding), then rounds to an integer; fake quantization rounds x·(1/s) to an integer
# and adds z after. All measured with PyTorch 2.13 on x86-64 (AVX-512). The cases below are exact
# ties or one float32 step from one, which no random strategy finds.


def test_quantize_per_tensor_matches_pytorch_on_the_issue_tie() -> None:
    # issue 14 §7: PyTorch gives 1. x·(1/s) rounded alone is the tie −127.5 (→ −128, q = 0); the
    # fused x·(1/s) + 128 is 0.50000095, so q = 1.
    x = md.tensor(np.float32([-0.36294672]))
    assert host(Q.quantize(x, 0.002846641, 128).int_repr()).tolist() == [1]
    inv = np.float32(1) / np.float32(0.002846641)
    assert np.float32(-0.36294672) * inv == np.float32(-127.5)  # the float32 product alone is a tie
    # quantize_per_channel's two roundings (PyTorch gives 0 there): fl32(−127.5 + 128) = 0.5 → 0
    assert host(Q.quantize(x, [0.002846641], [128], axis=0).int_repr()).tolist() == [0]


@pytest.mark.parametrize("x, z, per_tensor, per_channel, fake", [
    (0.25, 1, 2, 2, 1),      # x/s = 0.5 exactly: round(1.5) = 2 vs fake quantization's round(0.5) + 1 = 1
    (0.75, 1, 2, 2, 3),      # 1.5: round(2.5) = 2 vs round(1.5) + 1 = 3
    (-0.25, -3, -4, -4, -3),  # −0.5: round(−3.5) = −4 vs round(−0.5) − 3 = −3
    (0.25, 0, 0, 0, 0),      # an even zero point: all agree (ties to even)
    (1.25, 2, 4, 4, 4),
], ids=["half_z1", "one_and_a_half_z1", "minus_half_z-3", "half_z0", "two_and_a_half_z2"])
def test_exact_ties_with_an_odd_zero_point(x, z, per_tensor, per_channel, fake) -> None:
    """PyTorch 2.13 (x86-64) gives these: quantize_per_tensor and quantize_per_channel add z
    before rounding; fake_quantize_per_tensor_affine rounds first (its level, read back as
    x̂/s + z)."""
    t = md.tensor(np.float32([x]))
    assert host(Q.quantize(t, 0.5, z, signed=True).int_repr()).tolist() == [per_tensor]
    assert host(Q.quantize(t, [0.5], [z], signed=True, axis=0).int_repr()).tolist() == [per_channel]
    assert host(Q.fake_quantize(t, 0.5, z, -128, 127).numpy() / 0.5 + z).tolist() == [fake]


def test_the_rare_double_rounding_of_the_float64_sum_is_undone() -> None:
    # x·(1/s) = 6041937·11646897·2⁻⁴⁷ exactly, = ½ + 2⁻¹⁷ + 2⁻⁴⁷; + 200 rounds in float64 to
    # 200.5 + 2⁻¹⁷, exactly halfway between the float32 numbers 200.5 and 200.5 + 2⁻¹⁶. Rounded
    # again to float32 that is the tie 200.5 (→ 200); one rounding of the exact sum gives
    # 200.5 + 2⁻¹⁶ (→ 201), as an FMA does.
    x = np.float32(6041937 * 2.0 ** -31)
    s = np.float32(0.0056269066)
    inv = np.float32(1) / s
    assert float(inv) == 11646897 * 2.0 ** -16
    naive = [np.rint(np.float32(np.float64(v) * np.float64(inv) + 200)) for v in (x, -x)]
    assert naive == [200, 200]
    # −x mirrors it: 199.5 − 2⁻¹⁷ − 2⁻⁴⁷ is one float32 step below 199.5, so 199
    assert host(Q.quantize(md.tensor(np.float32([x, -x])), s, 200).int_repr()).tolist() == [201, 199]
    assert [exact_level(v, s, 200) for v in (x, -x)] == [201, 199]


def exact_level(x: np.float32, s: np.float32, z: int) -> float:
    """round-half-even(fl32(x·fl32(1/s) + z)) in exact rational arithmetic: the FMA's answer."""
    from fractions import Fraction

    inv = np.float32(1) / np.float32(s)
    v = Fraction(float(x)) * Fraction(float(inv)) + z
    c = np.float32(float(v))
    neighbours = [c, np.nextafter(c, np.float32(np.inf)), np.nextafter(c, np.float32(-np.inf))]
    w = min((k for k in neighbours if np.isfinite(k)),
            key=lambda k: (abs(Fraction(float(k)) - v), int(np.array(k).view(np.uint32)) & 1))
    return float(np.rint(w))


@st.composite
def near_ties(draw):
    """x one float32 step or less from where x·(1/s) + z is a half-integer, for random s and z."""
    s = np.float32(draw(st.floats(0.0001220703125, 0.5, width=32)))  # [2⁻¹³, ½]
    z = draw(st.integers(-128, 255))
    h = draw(st.integers(-160, 300)) + 0.5
    x = np.float32((h - z) / float(np.float32(1) / s))
    for _ in range(abs(step := draw(st.integers(-2, 2)))):
        x = np.nextafter(x, np.float32(np.inf) if step > 0 else np.float32(-np.inf))
    return x, s, z


@SETTINGS
@given(near_ties())
def test_per_tensor_levels_equal_exact_arithmetic_at_and_around_ties(case) -> None:
    from minidl.compress.quantize.quantize import fused_levels

    x, s, z = case
    got = host(fused_levels(backend.xp.asarray(np.float32([x])), s, z, -512, 511))
    assert got.tolist() == [exact_level(x, s, z)]
