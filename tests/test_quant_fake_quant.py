"""Fake quantization and its straight-through gradient, as PyTorch defines them.

Boundary vectors were checked once against torch.fake_quantize_per_tensor_affine (values
and gradients identical). The STE is by definition not the derivative of the forward pass
(that is 0 almost everywhere), so instead of a central-difference check its mask is tested
exactly, at the boundaries.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minidl as md
from minidl import backend, nn
from minidl.compress import quantize as Q

pytestmark = pytest.mark.backends

SETTINGS = settings(max_examples=30, deadline=None)


def host(a):
    return backend.to_numpy(a.data if isinstance(a, md.Tensor) else a)


def test_ste_mask_boundaries_are_inclusive_and_tested_after_rounding() -> None:
    # s = 1, z = 0, [−128, 127]: rounded levels −129, −128 (half to even), −129, −128, 126, 127, 128, 128
    x = md.tensor([-129.4, -128.5, -128.6, -128.4, 126.5, 127.4, 127.5, 127.6], requires_grad=True)
    y = Q.fake_quantize(x, 1.0, 0, -128, 127)
    assert y.numpy().tolist() == [-128, -128, -128, -128, 126, 127, 127, 127]
    y.backward(md.ones(8) * 3.0)
    assert x.grad.numpy().tolist() == [0, 3, 0, 3, 3, 3, 0, 0]


def test_ste_with_a_zero_point_and_a_scale() -> None:
    # uint8, s = 0.5, z = 10: levels round(x/0.5) + 10 must lie in [0, 255]
    x = md.tensor([-5.0, -5.3, -5.2, 122.5, 122.7, 122.8, 0.26], requires_grad=True)
    y = Q.fake_quantize_per_tensor_affine(x, 0.5, 10, 0, 255)
    np.testing.assert_allclose(y.numpy(), [-5.0, -5.0, -5.0, 122.5, 122.5, 122.5, 0.5])
    y.sum().backward()
    # levels 0, −1 (saturated), 0, 255, 255, 256 (saturated), 11
    assert x.grad.numpy().tolist() == [1, 0, 1, 1, 1, 0, 1]


def test_per_channel_fake_quantize_and_its_mask() -> None:
    w = md.tensor([[0.0, 1.0, 2.0, 3.0], [0.0, 10.0, 20.0, 30.0]], requires_grad=True)
    y = Q.fake_quantize_per_channel_affine(w, [1.0, 10.0], [0, 0], 0, -2, 1)
    np.testing.assert_array_equal(y.numpy(), [[0, 1, 1, 1], [0, 10, 10, 10]])
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [[1, 1, 0, 0], [1, 1, 0, 0]])


@st.composite
def case(draw):
    bits = draw(st.integers(2, 16))
    signed = draw(st.booleans())
    qmin, qmax = Q.quant_range(bits, signed)
    x = draw(hnp.arrays(np.float32, (3, draw(st.integers(1, 6))),
                        elements=st.floats(-50, 50, allow_nan=False, width=32)))
    scales = draw(hnp.arrays(np.float32, 3, elements=st.floats(0.015625, 5, width=32)))
    zeros = draw(hnp.arrays(np.int64, 3, elements=st.integers(qmin, qmax)))
    return x, scales, zeros, qmin, qmax, bits, signed


@SETTINGS
@given(case())
def test_fake_quantize_is_quantize_then_dequantize(c) -> None:
    """Equal to quantize → dequantize, except at the ties where PyTorch itself rounds the two
    differently (Z added before or after rounding: see the module notes of quantize.py), so
    the reference here is fake quantization's own formula, and quantize-then-dequantize
    agrees with it wherever x·(1/S) is not within float32 rounding of a half-integer."""
    x, scales, zeros, qmin, qmax, bits, signed = c
    for axis, s, z in ((None, scales[0], zeros[0]), (0, scales, zeros)):
        shape = (-1, 1) if axis == 0 else ()
        s32, z32 = np.asarray(s, np.float32).reshape(shape), np.asarray(z, np.float32).reshape(shape)
        levels = np.rint(x * (np.float32(1) / s32)) + z32
        expected = ((np.clip(levels, qmin, qmax) - z32) * s32).astype(np.float32)
        got = Q.fake_quantize(md.tensor(x), s, z, qmin, qmax, axis=axis).numpy()
        np.testing.assert_array_equal(got, expected)
        assert got.dtype == np.float32
        product = x * (np.float32(1) / s32)
        no_tie = np.abs(product - np.floor(product) - 0.5) > 1e-3
        roundtrip = Q.quantize(md.tensor(x), s, z, bits=bits, signed=signed, axis=axis).dequantize().numpy()
        np.testing.assert_array_equal(got[no_tie], roundtrip[no_tie])


@pytest.mark.parametrize("x, scale, zero_point, per_tensor, per_channel, fake", [
    (2.0, 4.0, 1, 2, 2, 0.0),  # 0.5 + 1: Z before rounding gives 2, fake quantization rounds 0.5 to 0 first
    (-0.36294672, 0.002846641, 128, 1, 0, -0.36437005),  # one FMA rounding (1) against two (0)
    (1.0, 2.0, 3, 4, 4, 0.0),
])
def test_ties_round_as_pytorch_does(x, scale, zero_point, per_tensor, per_channel, fake) -> None:
    """Measured with PyTorch 2.13 on x86-64: torch.quantize_per_tensor, torch.quantize_per_channel
    and torch.fake_quantize_per_tensor_affine into quint8 [0, 255]."""
    t = md.tensor(np.array([[x]], np.float32))
    assert Q.quantize(t, scale, zero_point, bits=8, signed=False).int_repr().item() == per_tensor
    assert Q.quantize(t, np.array([scale], np.float32), np.array([zero_point]), bits=8, signed=False,
                      axis=0).int_repr().item() == per_channel
    assert Q.fake_quantize(t, scale, zero_point, 0, 255).numpy().item() == pytest.approx(fake, rel=1e-7)


@SETTINGS
@given(case())
def test_ste_mask_matches_its_definition(c) -> None:
    x, scales, zeros, qmin, qmax, _, _ = c
    t = md.tensor(x, requires_grad=True)
    Q.fake_quantize(t, scales, zeros, qmin, qmax, axis=0).sum().backward()
    levels = np.rint(x * (np.float32(1) / scales[:, None])) + zeros[:, None]
    np.testing.assert_array_equal(t.grad.numpy(), ((levels >= qmin) & (levels <= qmax)).astype(np.float32))


def test_ste_under_create_graph() -> None:
    x = md.tensor([0.2, 5.0], requires_grad=True)
    y = (Q.fake_quantize(x, 0.5, 0, -4, 3) * x).sum()
    (g,) = md.grad(y, [x], create_graph=True)
    # d/dx [fq(x)·x] = STE·x + fq(x): x = 0.2 → 1·0.2 + 0; x = 5 → 0·5 + 1.5 (saturated at level 3)
    np.testing.assert_allclose(g.numpy(), [0.2, 1.5], rtol=1e-6)


def test_fake_quantize_module_observes_then_fakes() -> None:
    fq = Q.FakeQuantize(Q.MinMaxObserver, bits=8, signed=True)
    x = md.tensor([[-1.0, 0.5, 3.0]])
    y = fq(x)
    s, z = host(fq.scale), host(fq.zero_point)
    assert s == np.float32(4 / 255) and z == -64  # −128 − round(−1 / (4/255)) = −128 − round(−63.75)
    np.testing.assert_array_equal(y.numpy(), Q.fake_quantize(x, s, z, -128, 127).numpy())
    fq.disable_observer()
    fq(md.tensor([[-10.0, 10.0]]))
    assert host(fq.scale) == s  # frozen
    fq.disable_fake_quant()
    assert fq(x) is x
    fq.enable_observer()
    fq.enable_fake_quant(False)
    fq(md.tensor([[-10.0, 10.0]]))  # observing without faking: post-training calibration
    assert host(fq.scale) == np.float32(20 / 255)


def test_observe_current_only_tracks_the_latest_tensor() -> None:
    fq = Q.FakeQuantize(Q.PerChannelMinMaxObserver, observe_current_only=True, ch_axis=0, signed=True,
                        symmetric=True)
    fq(md.tensor([[-8.0, 2.0], [1.0, 1.0]]))
    fq(md.tensor([[-2.0, 2.0], [1.0, 1.0]]))
    np.testing.assert_allclose(host(fq.scale), [2 / 127.5, 1 / 127.5], rtol=1e-6)


def test_qat_linear_trains_through_the_ste() -> None:
    md.manual_seed(0)
    model = nn.MLP([4, 8, 3])
    qat = Q.prepare_qat(model, Q.get_default_qat_qconfig(bits=4))
    x, y = md.randn(16, 4), md.tensor(np.arange(16) % 3)
    loss = nn.functional.cross_entropy(qat(x), y)
    loss.backward()
    grads = [p.grad for p in qat.parameters()]
    assert len(grads) == 4 and all(g is not None and np.abs(g.numpy()).sum() > 0 for g in grads)
    assert all(p.grad.dtype == np.float32 for p in qat.parameters())


def test_fake_quantize_bad_arguments() -> None:
    with pytest.raises(ValueError, match="quant_min < quant_max"):
        Q.fake_quantize(md.tensor([1.0]), 0.1, 0, 5, 5)
    with pytest.raises(ValueError, match="zero_point must lie in"):
        Q.fake_quantize(md.tensor([1.0]), 0.1, 300, 0, 255)
    with pytest.raises(TypeError, match="observer"):
        Q.FakeQuantize(lambda: nn.ReLU())
