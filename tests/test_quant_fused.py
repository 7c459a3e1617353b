"""The fused integer MLP (one Numba call at small batches, BLAS + one pass per layer above) against
its unfused NumPy reference, bit for bit; and the converted model that uses it."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minidl as md
from minidl import nn
from minidl.compress import quantize as Q
from minidl.compress.quantize.qmodel import QuantizedSequential, integer_mlp, integer_mlp_reference, is_fused
from minidl.kernels import int8 as K
from minidl.kernels import set_numba_enabled
from tests.kernel_spy import count_calls

pytestmark = pytest.mark.numpy_only

KERNELS = ("_int8_mlp_kernel", "_quantize_kernel", "_requantize_kernel")


def layer_arrays(draw, k: int, n: int, bits: int) -> dict:
    qmin, qmax = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return {
        "weight": draw(hnp.arrays(np.int8, (n, k), elements=st.integers(-128, 127))),
        "bias": draw(hnp.arrays(np.int32, n, elements=st.integers(-2 ** 20, 2 ** 20))),
        # from far below one step per unit of the sum to above it: outputs from flat to saturated
        "real": draw(hnp.arrays(np.float64, n, elements=st.floats(1e-7, 2.0))),
        "zero": draw(st.integers(qmin, qmax)), "relu": draw(st.booleans()), "range": (qmin, qmax),
    }


@st.composite
def integer_mlps(draw, max_width: int = 40):
    """An IntegerMLP of 1–3 layers and a float32 input batch (1, 2: the one-call route; 3, 5: BLAS)."""
    bits = draw(st.sampled_from([8, 8, 4]))  # the activations' bits (a 4-bit model clamps to [−8, 7])
    qmin, qmax = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    widths = [draw(st.integers(1, max_width)) for _ in range(draw(st.integers(1, 3)) + 1)]
    layers = [layer_arrays(draw, k, n, bits) for k, n in zip(widths, widths[1:])]
    in_scale = np.asarray(draw(st.floats(2.0 ** -10, 2.0, width=32)), np.float32)
    in_zero = np.asarray(draw(st.integers(qmin, qmax)), np.int32)
    # inputs well beyond the representable range [s(qmin − z), s(qmax − z)]: saturation at both ends
    reach = float(np.float32(float(in_scale) * 2 * (qmax - qmin)))
    values = st.one_of(st.floats(-reach, reach, width=32), st.sampled_from([np.inf, -np.inf, 1e30, -0.0]))
    x = draw(hnp.arrays(np.float32, (draw(st.sampled_from([1, 2, 3, 5])), widths[0]), elements=values))
    m0, shifts = zip(*(K.quantize_multiplier(layer["real"]) for layer in layers))
    p = K.IntegerMLP(
        in_scale, in_zero, (qmin, qmax), [layer["weight"] for layer in layers], [layer["bias"] for layer in layers],
        [m.astype(np.int32) for m in m0], [r.astype(np.int8) for r in shifts],
        [np.asarray(layer["zero"], np.int32) for layer in layers], np.array([layer["relu"] for layer in layers]),
        np.array([layer["range"][0] for layer in layers]), np.array([layer["range"][1] for layer in layers]),
        np.asarray(draw(st.floats(2.0 ** -10, 2.0, width=32)), np.float32), np.asarray(layers[-1]["zero"], np.int32))
    return x, p


def fused_and_reference(monkeypatch, x, p):
    """The fused answer (with proof that its loops ran) and the unfused reference's."""
    calls = count_calls(monkeypatch, K, *KERNELS)
    fast = integer_mlp(x, p)
    if x.shape[0] <= K.SMALL_BATCH:
        assert dict(calls) == {"_int8_mlp_kernel": 1}, "the one-call kernel did not run"
    else:
        assert dict(calls) == {"_quantize_kernel": 1, "_requantize_kernel": len(p.weights)}
    return fast, integer_mlp_reference(x, p)


@settings(max_examples=60, deadline=None)
@given(integer_mlps())
def test_fused_mlp_equals_the_unfused_reference_bit_for_bit(case) -> None:
    x, p = case
    with pytest.MonkeyPatch.context() as mp:
        fast, slow = fused_and_reference(mp, x, p)
    assert fast.dtype == slow.dtype == np.float32
    assert fast.shape == (x.shape[0], p.weights[-1].shape[0])
    np.testing.assert_array_equal(fast, slow)


@pytest.mark.parametrize("batch", [1, 2, 3, 64])
def test_fused_mlp_saturates_at_the_int8_limits(monkeypatch, batch) -> None:
    # K = 1024 products of −128·−128: the largest sum float32 holds exactly (2^24); huge and tiny
    # multipliers, inputs at ±inf: every level pinned to −128 or 127 somewhere, in both routes
    k, n = 1024, 6
    w = np.full((n, k), -128, np.int8)
    w[1] = 127
    w[2, ::2] = 127
    m0, shift = K.quantize_multiplier(np.array([1e-3, 1e-3, 0.5, 1e-9, 2.0 ** -20, 0.25]))
    p = K.IntegerMLP(np.asarray(0.01, np.float32), np.asarray(0, np.int32), (-128, 127), [w],
                     [np.array([0, 0, 5, -7, 2 ** 30, -2 ** 30], np.int32)], [m0.astype(np.int32)],
                     [shift.astype(np.int8)], [np.asarray(-3, np.int32)], np.array([False]), np.array([-128]),
                     np.array([127]), np.asarray(0.5, np.float32), np.asarray(-3, np.int32))
    x = np.full((batch, k), -np.inf, np.float32)  # every input level −128
    x[:, 1::2] = np.float32(1e9) if batch > 1 else -np.inf
    fast, slow = fused_and_reference(monkeypatch, x, p)
    np.testing.assert_array_equal(fast, slow)
    levels = fast / np.float32(0.5) + np.float32(-3)
    assert levels.max() == 127 and levels.min() == -128


@pytest.mark.parametrize("batch", [1, 3])
def test_fused_mlp_rounds_requantization_ties_up_as_the_reference(monkeypatch, batch) -> None:
    # one weight 1 and M = 0.5 exactly: level = round(acc / 2) with acc odd, every one a tie
    m0, shift = K.quantize_multiplier(np.array([0.5]))
    p = K.IntegerMLP(np.asarray(1.0, np.float32), np.asarray(0, np.int32), (-128, 127), [np.ones((1, 1), np.int8)],
                     [np.zeros(1, np.int32)], [m0.astype(np.int32)], [shift.astype(np.int8)],
                     [np.asarray(0, np.int32)], np.array([False]), np.array([-128]), np.array([127]),
                     np.asarray(1.0, np.float32), np.asarray(0, np.int32))
    acc = np.array([1, 3, -1, -3, 127, -127], np.float32)
    for row in range(0, len(acc), batch):
        x = acc[row:row + batch, None]
        fast, slow = fused_and_reference(monkeypatch, x, p)
        np.testing.assert_array_equal(fast, slow)
        # ties toward +∞, as requantize_reference documents: 0.5 → 1, 1.5 → 2, −0.5 → 0, −1.5 → −1
        expected = {1: 1, 3: 2, -1: 0, -3: -1, 127: 64, -127: -63}
        assert fast[:, 0].tolist() == [expected[int(v)] for v in x[:, 0]]
        monkeypatch.undo()


def test_fused_mlp_beyond_the_float32_bound_takes_the_one_call_kernel(monkeypatch) -> None:
    rng = np.random.default_rng(0)
    w = rng.integers(-128, 128, (3, 1100)).astype(np.int8)
    m0, shift = K.quantize_multiplier(np.full(3, 1e-5))
    p = K.IntegerMLP(np.asarray(0.1, np.float32), np.asarray(0, np.int32), (-128, 127), [w],
                     [np.zeros(3, np.int32)], [m0.astype(np.int32)], [shift.astype(np.int8)],
                     [np.asarray(0, np.int32)], np.array([False]), np.array([-128]), np.array([127]),
                     np.asarray(1.0, np.float32), np.asarray(0, np.int32))
    x = rng.normal(size=(5, 1100)).astype(np.float32) * 20
    calls = count_calls(monkeypatch, K, *KERNELS)
    np.testing.assert_array_equal(integer_mlp(x, p), integer_mlp_reference(x, p))
    assert dict(calls) == {"_int8_mlp_kernel": 1}  # K > 1024: no exact float32 product, so no BLAS


def test_integer_mlp_errors_name_the_layer_and_the_shapes() -> None:
    w8 = np.zeros((4, 3), np.int8)
    ok = dict(in_scale=np.asarray(1.0, np.float32), in_zero=np.asarray(0, np.int32), in_range=(-128, 127),
              weights=[w8], biases=[np.zeros(4, np.int32)], multipliers=[np.ones(4, np.int32)],
              shifts=[np.ones(4, np.int8)], zeros=[np.asarray(0, np.int32)], relu=np.array([False]),
              lows=np.array([-128]), highs=np.array([127]), out_scale=np.asarray(1.0, np.float32),
              out_zero=np.asarray(0, np.int32))
    p = K.IntegerMLP(**ok)
    with pytest.raises(ValueError, match=r"shape \(n, 3\).*float32 \(2, 5\)"):
        integer_mlp(np.zeros((2, 5), np.float32), p)
    with pytest.raises(ValueError, match="NaN"):
        integer_mlp(np.float32([[1, np.nan, 0]]), p)
    with pytest.raises(ValueError, match="NaN"):
        integer_mlp_reference(np.float32([[1, np.nan, 0]]), p)
    with pytest.raises(ValueError, match=r"layer 1 weight must be int8 of shape \(N, K\) with K the previous"):
        K.IntegerMLP(**{**ok, "weights": [w8, np.zeros((2, 5), np.int8)], "biases": [ok["biases"][0]] * 2,
                        "multipliers": ok["multipliers"] * 2, "shifts": ok["shifts"] * 2, "zeros": ok["zeros"] * 2,
                        "relu": np.array([0, 0]), "lows": np.array([-128] * 2), "highs": np.array([127] * 2)})
    with pytest.raises(ValueError, match=r"layer 0 needs integer bias, multiplier and shift of shape \(4,\)"):
        K.IntegerMLP(**{**ok, "biases": [np.zeros(3, np.int32)]})
    with pytest.raises(ValueError, match=r"input range \[-200, 127\] must fit int8"):
        K.IntegerMLP(**{**ok, "in_range": (-200, 127)})
    with pytest.raises(ValueError, match="one weight, bias, multiplier"):
        K.IntegerMLP(**{**ok, "zeros": []})


# -- the converted model ---------------------------------------------------------------------------


def converted(sizes=(20, 30, 16, 10), flatten: bool = False, seed: int = 0) -> QuantizedSequential:
    md.manual_seed(seed)
    layers = [nn.Flatten()] if flatten else []
    for i, (k, n) in enumerate(zip(sizes, sizes[1:])):
        layers += [nn.Linear(k, n)] + ([nn.ReLU()] if i < len(sizes) - 2 else [])
    data = [md.randn(64, *((2, sizes[0] // 2) if flatten else (sizes[0],))) for _ in range(2)]
    return Q.convert(Q.calibrate(Q.prepare(nn.Sequential(*layers)), data))


def layer_by_layer(model, x):
    return nn.Sequential.forward(model, x).numpy()


@pytest.mark.parametrize("shape", [(1, 20), (3, 20), (64, 20), (20,), (2, 3, 20)])
def test_converted_mlp_runs_fused_and_equals_its_layers_one_by_one(shape) -> None:
    model = converted()
    assert type(model) is QuantizedSequential and is_fused(model)
    x = md.Tensor(np.random.default_rng(1).normal(size=shape).astype(np.float32) * 3)
    with md.no_grad():
        fused = model(x).numpy()
        assert fused.shape == shape[:-1] + (10,)
        np.testing.assert_array_equal(fused, layer_by_layer(model, x))
        try:
            set_numba_enabled(False)  # every step on its NumPy reference: the same numbers
            np.testing.assert_array_equal(model(x).numpy(), fused)
            np.testing.assert_array_equal(layer_by_layer(model, x), fused)
        finally:
            set_numba_enabled(True)


def test_flatten_in_front_is_fused_too() -> None:
    model = converted(flatten=True)
    assert [type(m).__name__ for m in model][:2] == ["Quantize", "QuantizedFlatten"] and is_fused(model)
    x = md.randn(5, 2, 10)
    with md.no_grad():
        np.testing.assert_array_equal(model(x).numpy(), layer_by_layer(model, x))


def test_what_is_not_a_plain_float32_mlp_runs_layer_by_layer(monkeypatch) -> None:
    model = converted()
    calls = count_calls(monkeypatch, K, "_int8_mlp_kernel")
    x = md.randn(1, 20)
    with md.no_grad():
        expected = model(x).numpy()
        assert calls["_int8_mlp_kernel"] == 1
        seen = []
        handle = model[2].register_forward_pre_hook(lambda m, args: seen.append(m))
        assert not is_fused(model)
        np.testing.assert_array_equal(model(x).numpy(), expected)
        assert seen == [model[2]] and calls["_int8_mlp_kernel"] == 1  # the hook saw its layer
        handle.remove()
        x64 = md.Tensor(x.numpy().astype(np.float64))  # float64 is quantized in float64: the layers' path
        np.testing.assert_array_equal(model(x64).numpy(), layer_by_layer(model, x64))
        assert calls["_int8_mlp_kernel"] == 1
        with pytest.raises(ValueError, match="in_features=20"):
            model(md.randn(2, 7))  # the layers' own message
    cnn = Q.convert(Q.calibrate(Q.prepare(nn.SmallCNN()), [md.randn(4, 1, 8, 8)]))
    assert type(cnn) is QuantizedSequential and not is_fused(cnn)


def test_fused_model_sees_a_state_dict_loaded_in_place_and_a_replaced_layer() -> None:
    model, other = converted(seed=0), converted(seed=1)
    x = md.randn(1, 20)
    with md.no_grad():
        before = model(x).numpy()
        model.load_state_dict(other.state_dict())  # in place: weights, biases, scales, zero points
        after = model(x).numpy()
        np.testing.assert_array_equal(after, other(x).numpy())
        assert not np.array_equal(before, after)
        model[1].weight.data = model[1].weight.data.copy()  # a buffer replaced: planned again
        model[1].weight.data[:] = 0
        np.testing.assert_array_equal(model(x).numpy(), layer_by_layer(model, x))
        before = model(x).numpy()
        replacement = copy.deepcopy(model[3])
        replacement.weight.data[:] = 1
        setattr(model, "3", replacement)  # a layer replaced: planned again
        np.testing.assert_array_equal(model(x).numpy(), layer_by_layer(model, x))
        assert not np.array_equal(model(x).numpy(), before)


def test_a_copied_model_plans_its_own_layers() -> None:
    model = converted()
    x = md.randn(2, 20)
    with md.no_grad():
        expected = model(x).numpy()  # plans (and caches) the original's arrays
        twin = copy.deepcopy(model)
        twin[1].weight.data[:] = 0
        np.testing.assert_array_equal(twin(x).numpy(), layer_by_layer(twin, x))
        assert not np.array_equal(twin(x).numpy(), expected)
        np.testing.assert_array_equal(model(x).numpy(), expected)
