"""float16 and bfloat16: bfloat16 rounding against a bit-level reference written with Python ints.

The hand-picked vectors were checked once against torch's ``.to(torch.bfloat16)``.
"""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl as md
from minidl import backend, nn
from minidl.compress import quantize as Q

pytestmark = pytest.mark.backends


def host(a):
    return backend.to_numpy(a.data if isinstance(a, md.Tensor) else a)


def bf16_reference(value: float) -> int:
    """Round-to-nearest-even of a float32 to its top 16 bits, one number at a time, in Python ints."""
    u = struct.unpack("<I", struct.pack("<f", value))[0]
    if (u & 0x7FFFFFFF) > 0x7F800000:  # NaN: keep it NaN
        return (u >> 16) | 0x40
    upper, lower = u >> 16, u & 0xFFFF
    if lower > 0x8000 or (lower == 0x8000 and upper & 1):
        upper += 1
    return upper


def f32(bits: int) -> float:
    return struct.unpack("<f", struct.pack("<I", bits))[0]


CASES = {
    "exact": 1.0,
    "rounds down (just below half)": f32(0x3F807FFF),
    "rounds up (just above half)": f32(0x3F808001),
    "tie, kept part even: stays": f32(0x3F808000),
    "tie, kept part odd: goes up to even": f32(0x3F818000),
    "negative tie to even": f32(0xBF818000),
    "largest float32 overflows to inf": 3.4028234663852886e38,
    "inf": math.inf,
    "-inf": -math.inf,
    "subnormal": 1e-40,
    "negative zero": -0.0,
}


@pytest.mark.parametrize("name", list(CASES))
def test_bfloat16_bits_against_the_reference(name) -> None:
    value = CASES[name]
    bits = host(Q.float32_to_bfloat16_bits(md.tensor([value], dtype=md.float32)))
    assert bits.dtype == np.uint16 and int(bits[0]) == bf16_reference(value)


def test_bfloat16_known_values() -> None:
    x = md.tensor([1.0, 1.00390625, 1.005859375, 1.01171875, 3.4e38, -2.5], dtype=md.float32)
    np.testing.assert_array_equal(host(Q.round_to_bfloat16(x)),
                                  np.float32([1.0, 1.0, 1.0078125, 1.015625, np.inf, -2.5]))


def test_bfloat16_nan_stays_nan_even_with_a_low_payload() -> None:
    payload_only_in_low_bits = np.uint32([0x7F800001]).view(np.float32)  # truncation alone would give inf
    out = host(Q.round_to_bfloat16(md.tensor(payload_only_in_low_bits)))
    assert np.isnan(out[0])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 2 ** 32 - 1), min_size=1, max_size=20))
def test_bfloat16_on_random_bit_patterns(patterns) -> None:
    values = np.uint32(patterns).view(np.float32)
    got = host(Q.float32_to_bfloat16_bits(md.tensor(values)))
    assert got.tolist() == [bf16_reference(float(v)) for v in values]
    back = host(Q.bfloat16_bits_to_float32(md.tensor(got)))
    finite = np.isfinite(values) & np.isfinite(back)
    # half a unit in the last place: 2⁻⁸ relative for normal numbers, 2⁻¹³⁴ absolute among subnormals
    tolerance = np.maximum(np.abs(values[finite]).astype(np.float64) * 2.0 ** -8, 2.0 ** -134)
    assert np.all(np.abs(back[finite].astype(np.float64) - values[finite]) <= tolerance)


def test_half_rounding_needs_no_range() -> None:
    # Unlike integer quantization, a number's half-precision value does not depend on its neighbours.
    x = np.float32([1e-3, 0.1, 3.14159, 1000.0, 60000.0])
    whole = host(Q.round_to_float16(md.tensor(x)))
    one_by_one = [float(host(Q.round_to_float16(md.tensor(x[i:i + 1])))[0]) for i in range(len(x))]
    assert whole.tolist() == one_by_one
    assert np.all(np.abs(whole - x) <= np.abs(x) * 2.0 ** -11)
    assert host(Q.round_to_float16(md.tensor([70000.0])))[0] == np.inf  # beyond 65504: overflow, no clamping
    with pytest.raises(ValueError, match="dtype must be one of"):
        Q.round_to_half(md.tensor([1.0]), "float8")


@pytest.mark.parametrize("dtype, tolerance", [("float16", 2e-2), ("bfloat16", 1e-1)])
def test_half_model_is_close_to_float_and_half_the_size(dtype, tolerance) -> None:
    md.manual_seed(0)
    model = nn.MLP([16, 32, 4])
    half = Q.to_half(model, dtype)
    assert [type(m).__name__ for m in half] == ["HalfLinear", "ReLU", "HalfLinear"]
    x = md.randn(8, 16)
    with md.no_grad():
        err = np.abs(half(x).numpy() - model(x).numpy()).max()
    assert 0 < err < tolerance
    assert Q.model_nbytes(half) * 2 == Q.model_nbytes(model)
    assert isinstance(model[0], nn.Linear)  # the original is untouched
