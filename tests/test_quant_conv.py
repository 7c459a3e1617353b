"""Integer-only CNNs: QuantizedConv2d against a direct integer convolution written here, the padding
with the input zero point, integer max-pooling, and whole CNNs through PTQ and QAT on the digits."""

from __future__ import annotations

import copy
import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl as md
from minidl import backend, nn, optim
from minidl.compress import quantize as Q
from minidl.data import DataLoader, load_digits
from minidl.kernels import set_numba_enabled
from minidl.train import evaluate, fit
from tests.strategies import conv_geometry

pytestmark = pytest.mark.backends  # formulas that must hold on a GPU too: the references run off NumPy

SETTINGS = settings(max_examples=25, deadline=None)


def host(a):
    return backend.to_numpy(a.data if isinstance(a, md.Tensor) else a)


# -- the independent reference: a direct convolution in integers ------------------------------


def direct_integer_conv(q1, z1, w_q, stride, padding, dilation):
    """Σ_{c,i,j} (q₁ − z₁)·q₂ at every output position, in int64, one window at a time (padding: z₁)."""
    n, c, h, w = q1.shape
    o, _, kh, kw = w_q.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    oh, ow = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1, (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    x = np.full((n, c, h + 2 * ph, w + 2 * pw), z1, dtype=np.int64)
    x[:, :, ph:ph + h, pw:pw + w] = q1
    x -= z1  # the padding becomes exactly 0: the real value 0.0
    acc = np.zeros((n, o, oh, ow), dtype=np.int64)
    for oy in range(oh):
        for ox in range(ow):
            patch = x[:, :, oy * sh:oy * sh + dh * (kh - 1) + 1:dh, ox * sw:ox * sw + dw * (kw - 1) + 1:dw]
            acc[:, :, oy, ox] = np.einsum("ncij,ocij->no", patch, w_q.astype(np.int64))
    return acc


def requantize_by_hand(total, multiplier, shift, z3, lowest):
    """z₃ + ⌊(total · M₀ + 2^(r−1)) / 2^r⌋, clamped to [lowest, 127], per output channel (axis 1)."""
    m0 = multiplier.astype(np.int64)[None, :, None, None]
    r = shift.astype(np.int64)[None, :, None, None]
    return np.clip(z3 + ((total * m0 + (1 << (r - 1))) >> r), lowest, 127)


@st.composite
def quantized_conv_cases(draw):
    """A convolution window (tests.strategies.conv_geometry) plus the quantization parameters."""
    case = draw(conv_geometry(max_side=9, max_stride=(3, 2)))
    return dict(case, n=draw(st.integers(1, 2)), c=draw(st.integers(1, 3)), o=draw(st.integers(1, 4)),
                z1=draw(st.integers(-120, 120).filter(bool)),  # never 0: the case where padding matters
                z3=draw(st.integers(-30, 30)), per_channel=draw(st.booleans()), relu=draw(st.booleans()),
                bias=draw(st.booleans()), seed=draw(st.integers(0, 2 ** 31 - 1)))


def build_case(case):
    """A random int8 input, a QuantizedConv2d, and everything the by-hand reference needs."""
    rng = np.random.default_rng(case["seed"])
    n, c, o, (kh, kw) = case["n"], case["c"], case["o"], case["kernel"]
    q1 = rng.integers(-128, 128, (n, c, case["h"], case["w"])).astype(np.int8)
    s1 = float(np.float32(rng.uniform(0.005, 0.05)))
    spec = Q.QuantSpec(8, signed=True, symmetric=True, narrow_range=True, ch_axis=0 if case["per_channel"] else None)
    weight = Q.QuantizedTensor.from_float(md.tensor(rng.normal(0, 0.3, (o, c, kh, kw)).astype(np.float32)), spec)
    w_q = host(weight.int_repr()).astype(np.int64)
    s2 = np.broadcast_to(host(weight.scale).astype(np.float64).reshape(-1), (o,))
    acc = direct_integer_conv(q1, case["z1"], w_q, case["stride"], case["padding"], case["dilation"])
    bias = rng.normal(0, 1, o).astype(np.float32) * np.float32(np.abs(acc).max() * s1 * s2.max() + 1e-3)
    q_bias = np.rint(bias.astype(np.float64) / (s1 * s2)).astype(np.int64) if case["bias"] else np.zeros(o, np.int64)
    total = acc + q_bias[None, :, None, None]
    s3 = float(np.abs(total * (s1 * s2)[None, :, None, None]).max() / 100 + 1e-6)  # ~100 levels used
    layer = Q.QuantizedConv2d(weight, md.tensor(bias) if case["bias"] else None, s1, case["z1"], s3, case["z3"],
                              case["stride"], case["padding"], case["dilation"], relu=case["relu"])
    x = Q.QuantizedTensor(md.tensor(q1), s1, case["z1"])
    return layer, x, total, s1, s2, s3, (bias if case["bias"] else None)


@SETTINGS
@given(quantized_conv_cases())
def test_quantized_conv_equals_a_direct_integer_convolution_bit_for_bit(case) -> None:
    layer, x, total, *_ = build_case(case)
    lowest = case["z3"] if case["relu"] else -128  # a fused ReLU clamps at z₃, the level of 0.0
    expected = requantize_by_hand(total, host(layer.linear.multiplier), host(layer.linear.shift), case["z3"], lowest)
    y = layer(x)
    assert isinstance(y, Q.QuantizedTensor) and y.int_repr().dtype == np.int8
    assert y.shape == expected.shape
    np.testing.assert_array_equal(host(y.int_repr()).astype(np.int64), expected)
    assert float(y.scale) == pytest.approx(layer.scale.numpy()) and int(y.zero_point) == case["z3"]


@SETTINGS
@given(quantized_conv_cases())
def test_quantized_conv_means_the_float_convolution_within_half_a_step(case) -> None:
    # what the integers stand for: s₃(q₃ − z₃) ≈ W ⋆ x + b computed in float on the dequantized
    # operands. Off by at most half a step (rounding) plus half a step of the bias's grid s₁s₂.
    layer, x, _, s1, s2, s3, bias = build_case(case)
    y_float = nn.functional.conv2d(x.dequantize(), layer.dequantized_weight(),
                                   None if bias is None else md.tensor(bias), case["stride"],
                                   case["padding"], case["dilation"]).numpy().astype(np.float64)
    lowest = case["z3"] if case["relu"] else -128
    expected_levels = np.clip(y_float / s3 + case["z3"], lowest, 127)
    levels = host(layer(x).int_repr()).astype(np.float64)
    assert np.abs(levels - expected_levels).max() <= 0.5 + 0.5 * s1 * s2.max() / s3 + 1e-3


def test_padding_uses_the_input_zero_point_not_the_integer_zero(array_backend) -> None:
    # An image that is 0.0 everywhere (every integer = z₁ = −100) through a conv with no bias is
    # 0.0 everywhere: every output level must be z₃. Padding with the integer 0 instead reads the
    # border as the real value 100·s₁, so the border outputs move while the interior stays at z₃.
    z1, z3 = -100, 5
    weight = Q.QuantizedTensor.from_float(md.ones(4, 2, 3, 3) * 0.1, Q.QuantSpec(8, True, symmetric=True, ch_axis=0))
    layer = Q.QuantizedConv2d(weight, None, 0.02, z1, 0.05, z3, padding=1)
    x = Q.QuantizedTensor(md.tensor(np.full((1, 2, 5, 6), z1, np.int8)), 0.02, z1)
    assert (host(layer(x).int_repr()) == z3).all()
    wrong = host(Q.integer_conv2d(x.int_repr(), layer.linear, layer.window(x.shape), pad_value=0)).astype(int)
    interior = np.zeros(wrong.shape, bool)
    interior[..., 1:-1, 1:-1] = True
    assert (wrong[interior] == z3).all()
    assert (wrong[~interior] > z3 + 20).all()  # 3 to 5 padded taps of 100·0.02 · 0.1 each: 0.6 to 1.0 off
    # the im2col rows themselves: the padded positions hold z₁
    rows = host(Q.quantized_im2col(x.int_repr(), layer.window(x.shape), z1))
    assert rows.shape == (5 * 6, 2 * 9) and (rows == z1).all()


def test_unbatched_input_and_per_tensor_weights(array_backend) -> None:
    rng = np.random.default_rng(3)
    weight = Q.QuantizedTensor.from_float(md.tensor(rng.normal(size=(3, 2, 3, 3)).astype(np.float32)),
                                          Q.QuantSpec(8, True, symmetric=True))
    layer = Q.QuantizedConv2d(weight, md.tensor(rng.normal(size=3).astype(np.float32)), 0.05, 7, 0.2, -3,
                              stride=2, padding="valid")
    q = rng.integers(-128, 128, (2, 7, 7)).astype(np.int8)
    single = layer(Q.QuantizedTensor(md.tensor(q), 0.05, 7))
    batched = layer(Q.QuantizedTensor(md.tensor(q[None]), 0.05, 7))
    assert single.shape == (3, 3, 3)
    np.testing.assert_array_equal(host(single.int_repr()), host(batched.int_repr())[0])
    same = Q.QuantizedConv2d(weight, None, 0.05, 7, 0.2, -3, padding="same")
    assert same(Q.QuantizedTensor(md.tensor(q), 0.05, 7)).shape == (3, 7, 7)


@pytest.mark.numpy_only
def test_numba_and_reference_paths_agree_bit_for_bit() -> None:
    # big enough for the Numba im2col (≥ 2¹⁶ input elements) and, at one output position, the
    # Numba int8 GEMM kernel (≤ 2 rows); the references run with the kernels switched off
    rng = np.random.default_rng(0)
    spec = Q.QuantSpec(8, True, symmetric=True, ch_axis=0)
    cases = [((8, 8, 32, 32), (16, 8, 3, 3), dict(stride=2, padding=1)),
             ((2, 8, 3, 3), (16, 8, 3, 3), dict())]  # 2 images × 1 position: 2 GEMM rows
    for x_shape, w_shape, geometry in cases:
        weight = Q.QuantizedTensor.from_float(md.tensor(rng.normal(size=w_shape).astype(np.float32)), spec)
        layer = Q.QuantizedConv2d(weight, md.tensor(rng.normal(size=w_shape[0]).astype(np.float32)),
                                  0.02, -128, 0.3, 4, relu=True, **geometry)
        x = Q.QuantizedTensor(md.tensor(rng.integers(-128, 128, x_shape).astype(np.int8)), 0.02, -128)
        fast = host(layer(x).int_repr())
        set_numba_enabled(False)
        try:
            reference = host(layer(x).int_repr())
        finally:
            set_numba_enabled(True)
        np.testing.assert_array_equal(fast, reference)


@st.composite
def pool_cases(draw):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    padding = (draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    h = draw(st.integers(dilation[0] * (kh - 1) + 1, 8))
    w = draw(st.integers(dilation[1] * (kw - 1) + 1, 8))
    return dict(shape=(draw(st.integers(1, 2)), draw(st.integers(1, 3)), h, w), kernel=(kh, kw),
                stride=draw(st.one_of(st.none(), st.integers(1, 3))), padding=padding, dilation=dilation,
                ceil_mode=draw(st.booleans()), z=draw(st.integers(-128, 127)), seed=draw(st.integers(0, 2 ** 31 - 1)))


@SETTINGS
@given(pool_cases())
def test_integer_max_pool_is_the_float_max_pool_on_the_grid(case) -> None:
    # max commutes with the increasing map q ↦ s(q − z): pooling the integers is exact
    rng = np.random.default_rng(case["seed"])
    x = Q.QuantizedTensor(md.tensor(rng.integers(-128, 128, case["shape"]).astype(np.int8)), 0.1, case["z"])
    pool = Q.QuantizedMaxPool2d(case["kernel"], case["stride"], case["padding"], case["dilation"], case["ceil_mode"])
    y = pool(x)
    y_float = nn.functional.max_pool2d(x.dequantize(), case["kernel"], case["stride"], case["padding"],
                                       case["dilation"], case["ceil_mode"])
    expected = Q.quantize(y_float, 0.1, case["z"], signed=True)
    np.testing.assert_array_equal(host(y.int_repr()), host(expected.int_repr()))
    assert float(y.scale) == pytest.approx(0.1) and int(y.zero_point) == case["z"]
    unbatched = pool(Q.QuantizedTensor(x.int_repr()[0], 0.1, case["z"]))
    np.testing.assert_array_equal(host(unbatched.int_repr()), host(y.int_repr())[0])


# -- whole CNNs --------------------------------------------------------------------------------


@functools.cache
def trained_cnn(backend_name: str):
    """A float SmallCNN trained on the digits images (once per backend), its loaders and float accuracy."""
    md.manual_seed(0)
    train = load_digits("train", seed=0, flatten=False)
    model = nn.SmallCNN()
    fit(model, nn.functional.cross_entropy, optim.Adam(model.parameters(), lr=3e-3),
        DataLoader(train, batch_size=32, shuffle=True, seed=0), epochs=12, progress=False)
    held_out = [DataLoader(load_digits(split, seed=0, flatten=False), batch_size=512) for split in ("val", "test")]
    return model.eval(), DataLoader(train, batch_size=256), train, held_out, held_out_accuracy(model, held_out)


def held_out_accuracy(model, loaders) -> float:
    """Accuracy over the validation and test splits together (718 digits: one digit is 0.14 points)."""
    results = [evaluate(model, loader) for loader in loaders]
    return sum(r["accuracy"] * r["samples"] for r in results) / sum(r["samples"] for r in results)


def ptq(model, calibration, **qconfig):
    prepared = Q.prepare(model, Q.get_default_qconfig(**qconfig))
    Q.calibrate(prepared, calibration, num_batches=4)
    return prepared, Q.convert(prepared)


def level_differences(prepared, int_model, x):
    """|integer model's output levels − its fake-quant model's| on x.

    Activation ranges are frozen; the weight quantizers keep observing the current weights,
    as convert() does (after QAT the last optimizer step has moved them since their last call).
    """
    prepared.apply(Q.enable_fake_quant)
    for fq in Q.fake_quant_modules(prepared):
        fq.enable_observer(fq.observe_current_only)
    fake = host(Q.ptq.fake_quant_model_output_levels(prepared, x)).astype(np.int64)
    out = x
    for m in list(int_model)[:-1]:  # everything but the final DeQuantize
        out = m(out)
    return np.abs(host(out.int_repr()).astype(np.int64) - fake)


@pytest.mark.parametrize("per_channel", [True, False])
def test_int8_ptq_of_a_trained_cnn_is_within_a_point_of_float(array_backend, per_channel) -> None:
    model, calibration, _, held_out, float_accuracy = trained_cnn(array_backend)
    assert float_accuracy > 0.93
    _, int_model = ptq(model, calibration, per_channel=per_channel)
    assert [type(m).__name__ for m in int_model] == [
        "Quantize", "QuantizedConv2d", "QuantizedMaxPool2d", "QuantizedConv2d", "QuantizedMaxPool2d",
        "QuantizedFlatten", "QuantizedLinear", "DeQuantize"]
    assert int(int_model[0].zero_point.data) == -128  # pixels in [0, 1]: the padding really is z₁ ≠ 0
    assert abs(held_out_accuracy(int_model, held_out) - float_accuracy) <= 0.01


@pytest.mark.parametrize("bits, differing", [(8, 0.01), (4, 0.10)])
def test_integer_cnn_agrees_with_its_fake_quant_model_within_one_step(array_backend, bits, differing) -> None:
    # The fake-quant model adds the float bias b; the integer model adds round(b / s₁s₂)·s₁s₂, up
    # to half a step of the accumulator's grid away. That nudges a few outputs across a rounding
    # boundary: at 8 bits under 1% of them, at 4 bits (coarser s₁, three layers) about 5%. With
    # the biases at zero the two models agree on every output but a rare float32 tie.
    model, calibration, train, _, _ = trained_cnn(array_backend)
    x = md.Tensor(train.features)
    prepared, int_model = ptq(model, calibration, bits=bits)
    difference = level_differences(prepared, int_model, x)
    assert difference.max() <= 1
    assert (difference > 0).mean() < differing
    no_bias = copy.deepcopy(model)
    with md.no_grad():
        for layer in no_bias:
            if getattr(layer, "bias", None) is not None:
                layer.bias.zero_()
    prepared, int_model = ptq(no_bias, calibration, bits=bits)
    assert (level_differences(prepared, int_model, x) > 0).mean() < 0.001


def test_strides_dilation_and_padding_survive_conversion(array_backend) -> None:
    md.manual_seed(1)
    images = load_digits("train", seed=0, flatten=False)
    model = nn.Sequential(nn.Conv2d(1, 6, 3, stride=2, padding=1), nn.ReLU(),
                          nn.Conv2d(6, 8, 3, padding=2, dilation=2), nn.ReLU(), nn.MaxPool2d(3, 2, padding=1),
                          nn.Conv2d(8, 10, 2, padding="valid"), nn.Flatten()).eval()
    prepared, int_model = ptq(model, DataLoader(images, batch_size=256))
    conv = int_model[1]
    assert (conv.stride, conv.padding, conv.relu) == ((2, 2), (1, 1), True)
    assert int_model[2].dilation == (2, 2) and int_model[3].kernel_size == 3 and not int_model[4].relu
    x = md.Tensor(images.features[:300])
    difference = level_differences(prepared, int_model, x)
    assert difference.max() <= 1 and (difference > 0).mean() < 0.01
    with md.no_grad():
        y_float, y_int = model(x).numpy(), int_model(x).numpy()
    assert np.abs(y_int - y_float).max() < 0.05 * np.abs(y_float).max()


def test_qat_cnn_trains_through_fake_quant_and_converts(array_backend) -> None:
    model, calibration, train, held_out, float_accuracy = trained_cnn(array_backend)
    qat = Q.prepare_qat(model, Q.get_default_qat_qconfig(bits=4))
    assert [type(m).__name__ for m in qat] == ["QuantStub", "QATConv2d", "MaxPool2d", "QATConv2d", "MaxPool2d",
                                             "Flatten", "QATLinear", "DeQuantStub"]
    assert qat[1].weight_fake_quant.ch_axis == 0 and qat[1].relu
    fit(qat, nn.functional.cross_entropy, optim.Adam(qat.parameters(), lr=1e-3),
        DataLoader(train, batch_size=32, shuffle=True, seed=0), epochs=2, progress=False)
    assert host(qat[3].weight_fake_quant.scale).shape == (16,)  # one scale per output channel
    assert model[0].weight is not qat[1].weight  # the float model is not trained in place
    int_model = Q.convert(qat)
    assert held_out_accuracy(int_model, held_out) > float_accuracy - 0.05
    difference = level_differences(qat, int_model, md.Tensor(train.features))
    assert difference.max() <= 1 and (difference > 0).mean() < 0.10  # 4 bits: see the bias note above


def test_cnn_sizes_and_state_dict(array_backend, tmp_path) -> None:
    model, calibration, train, _, _ = trained_cnn(array_backend)
    _, int_model = ptq(model, calibration)
    weights = [(8, 1 * 9), (16, 8 * 9), (10, 64)]  # (out, in·kh·kw) of the two convs and the linear layer
    assert Q.weight_nbytes(model) == 4 * sum(o * k for o, k in weights)
    assert Q.weight_nbytes(int_model) == sum(o * k + 4 * o for o, k in weights)  # int8 + a float32 scale per row
    assert Q.weight_nbytes(model) / Q.weight_nbytes(int_model) > 3.7
    assert host(int_model[1].linear.weight).dtype == np.int8
    md.save(int_model.state_dict(), tmp_path / "cnn_int8.npz")
    md.manual_seed(5)
    _, fresh = ptq(nn.SmallCNN(), calibration)  # same structure, other numbers
    fresh.load_state_dict(md.load(tmp_path / "cnn_int8.npz"))
    x = md.Tensor(train.features[:64])
    with md.no_grad():
        np.testing.assert_array_equal(fresh(x).numpy(), int_model(x).numpy())


def test_bad_layers_inputs_and_models_are_clear_errors() -> None:
    md.manual_seed(0)
    spec = Q.QuantSpec(8, True, symmetric=True, ch_axis=0)
    w4 = Q.QuantizedTensor.from_float(md.randn(4, 2, 3, 3), spec)
    with pytest.raises(TypeError, match="4-D QuantizedTensor"):
        Q.QuantizedConv2d(Q.QuantizedTensor.from_float(md.randn(4, 18), spec), None, 0.1, 0, 0.1, 0)
    with pytest.raises(ValueError, match="axis 0"):
        Q.QuantizedConv2d(Q.QuantizedTensor.from_float(md.randn(4, 2, 3, 3), Q.QuantSpec(8, True, symmetric=True,
                                                                                        ch_axis=1)),
                          None, 0.1, 0, 0.1, 0)
    affine = Q.QuantizedTensor.from_float(md.rand(4, 2, 3, 3), Q.QuantSpec(8, True))  # z = −128
    with pytest.raises(ValueError, match="QuantizedConv2d, through its QuantizedLinear: weights must be symmetric"):
        Q.QuantizedConv2d(affine, None, 0.1, 0, 0.1, 0)
    with pytest.raises(ValueError, match="needs signed symmetric weights"):
        Q.QuantizedConv2d.from_float(md.randn(4, 2, 3, 3), None, Q.QuantSpec(8, True), 0.1, 0, 0.1, 0)
    with pytest.raises(ValueError, match="input_zero_point must lie in"):
        Q.QuantizedConv2d(w4, None, 0.1, 300, 0.1, 0)
    with pytest.raises(ValueError, match="padding must be an int, a pair, 'valid' or 'same'"):
        Q.QuantizedConv2d(w4, None, 0.1, 0, 0.1, 0, padding="full")
    with pytest.raises(ValueError, match="'same' needs stride 1"):
        Q.QuantizedConv2d(w4, None, 0.1, 0, 0.1, 0, stride=2, padding="same")
    with pytest.raises(ValueError, match="stride must be >= 1"):
        Q.QuantizedConv2d(w4, None, 0.1, 0, 0.1, 0, stride=0)
    layer = Q.QuantizedConv2d(w4, None, 0.1, 3, 0.1, 0)
    good = Q.QuantizedTensor(md.tensor(np.zeros((1, 2, 5, 5), np.int8)), 0.1, 3)
    with pytest.raises(TypeError, match="QuantizedConv2d expects a QuantizedTensor"):
        layer(md.randn(1, 2, 5, 5))
    with pytest.raises(ValueError, match="was built for"):
        layer(Q.QuantizedTensor(good.int_repr(), 0.1, 0))
    with pytest.raises(ValueError, match="has 3 channels"):
        layer(Q.QuantizedTensor(md.tensor(np.zeros((1, 3, 5, 5), np.int8)), 0.1, 3))
    with pytest.raises(ValueError, match=r"shape \(N, C, H, W\) or \(C, H, W\)"):
        layer(Q.QuantizedTensor(md.tensor(np.zeros((2, 5), np.int8)), 0.1, 3))
    with pytest.raises(ValueError, match="smaller than the dilated kernel"):
        layer(Q.QuantizedTensor(md.tensor(np.zeros((1, 2, 2, 5), np.int8)), 0.1, 3))
    with pytest.raises(TypeError, match="input integers must be int8"):
        layer(Q.QuantizedTensor(md.tensor(np.zeros((1, 2, 5, 5), np.int16)), 0.1, 3, bits=16))
    pool = Q.QuantizedMaxPool2d(2)
    with pytest.raises(TypeError, match="QuantizedMaxPool2d expects a QuantizedTensor"):
        pool(md.randn(1, 1, 4, 4))
    per_channel = Q.QuantizedTensor(md.tensor(np.zeros((1, 2, 4, 4), np.int8)), md.tensor([0.1, 0.2]),
                                    md.tensor([0, 0]), axis=1)
    with pytest.raises(ValueError, match="quantized per tensor"):
        pool(per_channel)
    with pytest.raises(ValueError, match="at most half the kernel"):
        Q.QuantizedMaxPool2d(2, padding=2)(good)
    with pytest.raises(TypeError, match="kernel_size must be an int or a pair"):
        Q.QuantizedMaxPool2d("2")
    # models prepare() cannot quantize say what to do instead
    with pytest.raises(TypeError, match="cannot quantize AvgPool2d"):
        Q.prepare(nn.Sequential(nn.Conv2d(1, 2, 3), nn.AvgPool2d(2)))
    with pytest.raises(TypeError, match="write Conv2d, ReLU, MaxPool2d"):
        Q.prepare(nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2), nn.ReLU()))
    with pytest.raises(TypeError, match="return_indices"):
        Q.prepare(nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2, return_indices=True)))


def test_an_int8_cnn_fed_the_wrong_input_names_what_it_expects() -> None:
    # issue 14 §5: the wrong number of channels, and an image size that changes the flattened width
    md.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 6 * 6, 3))
    prepared = Q.calibrate(Q.prepare(model), [md.randn(4, 1, 8, 8)])
    int_model = Q.convert(prepared)
    with pytest.raises(ValueError, match=r"QuantizedConv2d: input has 3 channels .* expects 1"):
        int_model(md.randn(2, 3, 8, 8))
    with pytest.raises(ValueError, match=r"QuantizedLinear: input has 128 features .*in_features=72"):
        int_model(md.randn(2, 1, 10, 10))


@pytest.mark.parametrize("relu", [False, True])
def test_quantized_conv_with_input_zero_point_zero(relu) -> None:
    # conv_cases never draws z₁ = 0 (there padding with z₁ and with the integer 0 agree, so a
    # padding bug would hide); the plain symmetric-activation case is checked here by hand
    case = dict(n=2, c=2, o=3, h=6, w=5, kernel=(3, 3), stride=(1, 2), padding=(1, 1), dilation=(1, 1),
                z1=0, z3=-4, per_channel=True, relu=relu, bias=True, seed=7)
    layer, x, total, *_ = build_case(case)
    lowest = case["z3"] if relu else -128
    expected = requantize_by_hand(total, host(layer.linear.multiplier), host(layer.linear.shift), case["z3"], lowest)
    np.testing.assert_array_equal(host(layer(x).int_repr()).astype(np.int64), expected)
