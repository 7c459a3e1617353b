"""Quantizing whole models: PTQ and QAT on the digits MLP, the integer model against its fake-quant
twin, dynamic quantization, sizes, saving, and the errors that explain what is not supported."""

from __future__ import annotations

import functools

import numpy as np
import pytest

import minidl as md
from minidl import backend, nn, optim
from minidl.compress import quantize as Q
from minidl.data import DataLoader, load_digits
from minidl.train import evaluate, fit

pytestmark = pytest.mark.backends  # the integer model runs on the references off NumPy: no leaks


def host(a):
    return backend.to_numpy(a.data if isinstance(a, md.Tensor) else a)


def held_out_accuracy(model, loaders) -> float:
    """Accuracy over the validation and test splits together (718 digits: one digit is 0.14 points)."""
    results = [evaluate(model, loader) for loader in loaders]
    return sum(r["accuracy"] * r["samples"] for r in results) / sum(r["samples"] for r in results)


@functools.cache
def trained(backend_name: str):
    """A float MLP trained on digits (once per backend), with its data loaders and float accuracy."""
    md.manual_seed(0)
    train = load_digits("train", seed=0)
    model = nn.MLP([64, 128, 10])
    fit(model, nn.functional.cross_entropy, optim.Adam(model.parameters(), lr=3e-3),
        DataLoader(train, batch_size=32, shuffle=True, seed=0), epochs=30, progress=False)
    calibration = DataLoader(train, batch_size=256)
    held_out = [DataLoader(load_digits(split, seed=0), batch_size=512) for split in ("val", "test")]
    return model, calibration, train, held_out, held_out_accuracy(model, held_out)


def ptq(model, calibration, **qconfig):
    prepared = Q.prepare(model, Q.get_default_qconfig(**qconfig))
    Q.calibrate(prepared, calibration, num_batches=4)
    return prepared, Q.convert(prepared)


def integer_levels(int_model, x):
    out = x
    for m in list(int_model)[:-1]:  # everything but the final DeQuantize
        out = m(out)
    return host(out.int_repr()).astype(np.int64)


@pytest.mark.parametrize("per_channel", [False, True])
def test_int8_ptq_is_within_half_a_point_of_float(array_backend, per_channel) -> None:
    model, calibration, _, held_out, float_accuracy = trained(array_backend)
    _, int_model = ptq(model, calibration, per_channel=per_channel)
    assert [type(m).__name__ for m in int_model] == ["Quantize", "QuantizedLinear", "QuantizedLinear", "DeQuantize"]
    accuracy = held_out_accuracy(int_model, held_out)
    assert abs(accuracy - float_accuracy) <= 0.005, (accuracy, float_accuracy)


@pytest.mark.parametrize("bits, per_channel", [(8, True), (8, False), (4, True)])
def test_integer_model_agrees_with_its_fake_quant_model_within_one_step(array_backend, bits, per_channel) -> None:
    model, calibration, train, _, _ = trained(array_backend)
    prepared, int_model = ptq(model, calibration, bits=bits, per_channel=per_channel)
    prepared.apply(Q.enable_fake_quant)
    prepared.apply(Q.disable_observer)
    x = train.features
    fake = host(Q.ptq.fake_quant_model_output_levels(prepared, md.Tensor(x))).astype(np.int64)
    real = integer_levels(int_model, md.Tensor(x))
    difference = np.abs(real - fake)
    assert difference.max() <= 1
    assert (difference > 0).mean() < 0.01  # almost always identical: only rounding ties differ


def test_qat_recovers_what_low_bit_ptq_loses(array_backend) -> None:
    model, calibration, train, held_out, float_accuracy = trained(array_backend)
    _, int3 = ptq(model, calibration, bits=3, per_channel=True)
    ptq_accuracy = held_out_accuracy(int3, held_out)
    qat = Q.prepare_qat(model, Q.get_default_qat_qconfig(bits=3))
    fit(qat, nn.functional.cross_entropy, optim.Adam(qat.parameters(), lr=1e-3),
        DataLoader(train, batch_size=32, shuffle=True, seed=0), epochs=5, progress=False)
    qat_model = Q.convert(qat)
    qat_accuracy = held_out_accuracy(qat_model, held_out)
    assert qat_accuracy > ptq_accuracy + 0.02, (qat_accuracy, ptq_accuracy)
    assert qat_accuracy > float_accuracy - 0.06
    # the converted QAT model computes what the fake-quant model computed in training
    qat.apply(Q.disable_observer)
    x = md.Tensor(train.features)
    fake = host(Q.ptq.fake_quant_model_output_levels(qat, x)).astype(np.int64)
    assert np.abs(integer_levels(qat_model, x) - fake).max() <= 1


def test_sizes_weights_are_four_times_smaller(array_backend) -> None:
    model, calibration, _, _, _ = trained(array_backend)
    _, int8_model = ptq(model, calibration)
    _, int4_model = ptq(model, calibration, bits=4)
    float_weights = Q.weight_nbytes(model)
    assert float_weights == 4 * (64 * 128 + 128 * 10)
    assert Q.weight_nbytes(int8_model) == (64 * 128 + 128 * 10) + 4 * (128 + 10)  # + a float32 scale per row
    weight_arrays = sum(host(m.weight).nbytes for m in int8_model if isinstance(m, Q.QuantizedLinear))
    assert float_weights == 4 * weight_arrays  # the matrices exactly 4× smaller …
    assert float_weights / Q.weight_nbytes(int8_model) > 3.7  # … 3.8× with a scale per row of 64 or 128
    assert Q.weight_nbytes(int4_model, packed=True) == (64 * 128 + 128 * 10) // 2 + 4 * (128 + 10)
    assert Q.model_nbytes(int8_model) < Q.model_nbytes(model) / 3.3  # biases become 13 bytes per channel
    layer = int8_model[1]
    assert layer.weight.dtype == np.int8 and layer.bias_folded.dtype == np.int32
    assert layer.multiplier.dtype == np.int32 and layer.shift.dtype == np.int8


def test_integer_model_state_dict_round_trip(array_backend, tmp_path) -> None:
    model, calibration, train, _, _ = trained(array_backend)
    _, int_model = ptq(model, calibration)
    md.save(int_model.state_dict(), tmp_path / "int8.npz")
    md.manual_seed(1)
    other = nn.MLP([64, 128, 10])
    _, fresh = ptq(other, calibration)  # same structure, different numbers
    fresh.load_state_dict(md.load(tmp_path / "int8.npz"))
    x = md.Tensor(train.features[:50])
    assert np.array_equal(integer_levels(fresh, x), integer_levels(int_model, x))
    np.testing.assert_array_equal(host(fresh[1].weight), host(int_model[1].weight))
    np.testing.assert_array_equal(host(fresh[1].multiplier), host(int_model[1].multiplier))


def test_flatten_and_dropout_in_a_quantized_model(array_backend) -> None:
    md.manual_seed(0)
    images = load_digits("train", seed=0, flatten=False)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 10))
    prepared = Q.prepare(model)
    Q.calibrate(prepared, DataLoader(images, batch_size=128), num_batches=2)
    int_model = Q.convert(prepared)
    assert [type(m).__name__ for m in int_model] == ["Quantize", "QuantizedFlatten", "QuantizedLinear",
                                                     "QuantizedLinear", "DeQuantize"]
    x = md.Tensor(images.features[:20])
    with md.no_grad():
        np.testing.assert_allclose(int_model(x).numpy(), model.eval()(x).numpy(), atol=0.25)


def test_dynamic_quantization_of_any_model(array_backend) -> None:
    class TwoTowers(nn.Module):  # not a Sequential: dynamic quantization does not care
        def __init__(self) -> None:
            super().__init__()
            self.left, self.right = nn.Linear(8, 4), nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 4))

        def forward(self, x):
            return self.left(x) + self.right(x)

    md.manual_seed(0)
    model = TwoTowers()
    dynamic = Q.quantize_dynamic(model)
    assert isinstance(dynamic.left, Q.DynamicQuantizedLinear) and isinstance(dynamic.right[2], Q.DynamicQuantizedLinear)
    assert isinstance(model.left, nn.Linear)  # not in place by default
    x = md.randn(32, 8)
    with md.no_grad():
        y, y_q = model(x).numpy(), dynamic(x).numpy()
    assert y_q.dtype == np.float32 and np.abs(y_q - y).max() < 0.05 * np.abs(y).max()
    per_channel = Q.quantize_dynamic(model, per_channel=True)
    assert host(per_channel.left.weight_scale).shape == (4,)


def test_unsupported_models_and_misuse_are_clear_errors() -> None:
    md.manual_seed(0)
    with pytest.raises(TypeError, match="Sequential"):
        Q.prepare(nn.Linear(3, 2))
    with pytest.raises(TypeError, match="cannot quantize Tanh"):
        Q.prepare(nn.Sequential(nn.Linear(3, 2), nn.Tanh()))
    with pytest.raises(TypeError, match="a ReLU must follow a Linear"):
        Q.prepare(nn.Sequential(nn.ReLU(), nn.Linear(3, 2)))
    with pytest.raises(ValueError, match="calibrate"):
        Q.convert(Q.prepare(nn.MLP([3, 4, 2])))
    with pytest.raises(TypeError, match="prepare"):
        Q.convert(nn.MLP([3, 4, 2]))
    unsigned = Q.QConfig(activation=Q.MinMaxObserver.with_args(), weight=Q.MinMaxObserver.with_args(
        signed=True, symmetric=True))
    prepared = Q.calibrate(Q.prepare(nn.MLP([3, 4, 2]), unsigned), [md.randn(5, 3)])
    with pytest.raises(ValueError, match="must be signed per-tensor"):
        Q.convert(prepared)
    affine_weight = Q.QuantizedTensor(md.tensor(np.ones((2, 3), np.int8)), 0.1, 1)
    with pytest.raises(ValueError, match="symmetric"):
        Q.QuantizedLinear(affine_weight, None, 0.1, 0, 0.1, 0)
    w = Q.QuantizedTensor.from_float(md.randn(2, 3), Q.QuantSpec(8, signed=True, symmetric=True))
    layer = Q.QuantizedLinear(w, None, 0.1, 0, 0.1, 0)
    with pytest.raises(TypeError, match="expects a QuantizedTensor"):
        layer(md.randn(1, 3))
    with pytest.raises(ValueError, match="was built for"):
        layer(Q.quantize(md.randn(1, 3), 0.2, 0, signed=True))
    with pytest.raises(ValueError, match="input_zero_point must lie in"):
        Q.QuantizedLinear(w, None, 0.1, 200, 0.1, 0)


def test_replacing_a_layer_keeps_its_place() -> None:
    # quantize_dynamic and to_half swap layers with setattr; PyTorch keeps the order, so must minidl
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    seq.add_module("0", nn.Identity())
    assert [type(m).__name__ for m in seq] == ["Identity", "ReLU", "Linear"]
    seq.extra = nn.Parameter(md.zeros(1))
    seq.extra = nn.Parameter(md.ones(1))
    assert list(seq._parameters) == ["extra"]


def test_an_int8_model_fed_the_wrong_number_of_features_names_both() -> None:
    # issue 14 §5: was NumPy's "cannot reshape array of size 20 into shape (8)"
    md.manual_seed(0)
    model = nn.MLP([8, 6, 3])
    prepared = Q.calibrate(Q.prepare(model), [md.randn(16, 8)])
    int_model = Q.convert(prepared)
    with pytest.raises(ValueError) as info:
        int_model(md.randn(4, 5))
    msg = str(info.value)
    assert msg.startswith("QuantizedLinear:") and "5 features" in msg and "in_features=8" in msg and "(4, 5)" in msg
    dynamic = Q.quantize_dynamic(model)
    with pytest.raises(ValueError, match=r"^DynamicQuantizedLinear: input has 5 features .*in_features=8"):
        dynamic(md.randn(4, 5))
    with pytest.raises(ValueError, match="0-d input"):
        dynamic[0](md.tensor(1.0))
    assert int_model(md.randn(2, 3, 8)).shape == (2, 3, 3)  # leading axes stay free, as in Linear
