"""Post-training quantization: observe a trained model on a little data, then convert it to integers.

    prepared = prepare(model, get_default_qconfig())     # observers in, fake quantization off
    calibrate(prepared, loader, num_batches=10)          # observers record activation ranges
    int_model = convert(prepared)                        # Quantize → QuantizedLinear … → DeQuantize

A CNN converts the same way: Conv2d (+ ReLU) → :class:`QuantizedConv2d`, MaxPool2d →
:class:`QuantizedMaxPool2d`, Flatten → :class:`QuantizedFlatten`.

``convert`` also turns a QAT-trained model (:func:`~minidl.compress.quantize.prepare_qat`)
into its integer model. ``quantize_dynamic`` needs no calibration: it swaps every Linear of
any model for one with int8 weights that quantizes its inputs per batch.
"""

from __future__ import annotations

import copy
from typing import Any, Iterable

from minidl import backend
from minidl.compress.quantize.fake_quant import FakeQuantize
from minidl.compress.quantize.qat import (
    DeQuantStub,
    QATConv2d,
    QATLinear,
    QConfig,
    QuantStub,
    get_default_qconfig,
    prepare_model,
)
from minidl.compress.quantize.qconv import QuantizedConv2d, QuantizedMaxPool2d
from minidl.compress.quantize.qlinear import (
    DeQuantize,
    DynamicQuantizedLinear,
    Quantize,
    QuantizedFlatten,
    QuantizedLinear,
)
from minidl.compress.quantize.qmodel import QuantizedSequential
from minidl.compress.quantize.quantize import QuantizedTensor, quantize
from minidl.engine.grad_mode import no_grad
from minidl.engine.tensor import Tensor
from minidl.nn.activation import Dropout, Flatten
from minidl.nn.container import Sequential
from minidl.nn.conv import MaxPool2d
from minidl.nn.linear import Identity, Linear
from minidl.nn.module import Module


def prepare(model: Module, qconfig: QConfig | None = None) -> Sequential:
    """A copy of ``model`` with observers on its input, weights and activations (fake quantization off)."""
    return prepare_model(model, qconfig or get_default_qconfig(), fake_quant=False)


def calibrate(model: Module, data: Iterable[Any], num_batches: int | None = None) -> Module:
    """Run ``model`` (eval mode, no graph) on ``data`` so its observers see real activations; returns it.

    ``data`` yields inputs or (input, target) pairs, as a DataLoader does.
    """
    was_training = model.training
    model.eval()
    seen = 0
    try:
        with no_grad():
            for batch in data:
                if num_batches is not None and seen >= num_batches:
                    break
                model(batch[0] if isinstance(batch, (tuple, list)) else batch)
                seen += 1
    finally:
        model.train(was_training)
    if seen == 0:
        raise ValueError("calibrate: the data yielded no batches")
    return model


def _activation_qparams(fq: FakeQuantize, where: str) -> tuple[float, int]:
    """The (S, Z) a fake-quant model uses for an activation; errors when they were never observed."""
    spec = fq.spec
    if not fq.activation_post_process.has_data:
        raise ValueError(f"convert: the observer of {where} has seen no data: run calibrate() "
                         "(or train) on the prepared model first")
    if spec.ch_axis is not None or not spec.signed or spec.bits > 8:
        raise ValueError(f"convert: activations at {where} must be signed per-tensor with at most 8 bits "
                         f"for the integer kernels (got {spec.describe()})")
    return (float(backend.to_numpy(fq.scale.data).reshape(-1)[0]),
            int(backend.to_numpy(fq.zero_point.data).reshape(-1)[0]))


def _quantized_weight(layer: QATLinear | QATConv2d) -> QuantizedTensor:
    """The weight on the grid the fake-quant model uses (re-observed: training may have moved it since)."""
    fq = layer.weight_fake_quant
    spec = fq.spec
    if not (spec.symmetric and spec.signed) or spec.bits > 8:
        raise ValueError(f"convert: weights must be signed symmetric with at most 8 bits (got {spec.describe()})")
    if fq.observer_enabled:
        fq.activation_post_process.reset()
        fq.activation_post_process(layer.weight.detach())
        scale, zero_point = fq.calculate_qparams()
    else:
        scale, zero_point = fq.scale.data, fq.zero_point.data
    axis = spec.ch_axis
    if axis is None:
        scale, zero_point = scale.reshape(()), zero_point.reshape(())
    return quantize(layer.weight.data, scale, zero_point, bits=spec.bits, signed=True,
                    narrow_range=spec.narrow_range, axis=axis)


def convert(prepared: Module) -> QuantizedSequential:
    """The integer-only model of a prepared (calibrated or QAT-trained) model.

    Each QATLinear becomes a :class:`QuantizedLinear` and each QATConv2d a
    :class:`QuantizedConv2d` whose input (S, Z) is the previous layer's output (S, Z);
    MaxPool2d and Flatten work on the integers and keep (S, Z); Dropout and Identity
    disappear. The prepared model is not changed (except that weight observers see the
    current weights). The result is a :class:`QuantizedSequential`: an MLP runs as one fused call.
    """
    layers = list(prepared) if isinstance(prepared, Sequential) else []
    if not layers or not isinstance(layers[0], QuantStub) or not isinstance(layers[-1], DeQuantStub):
        raise TypeError("convert expects a model made by prepare() or prepare_qat()")
    stub = layers[0].activation_post_process
    scale, zero_point = _activation_qparams(stub, "the input")
    out: list[Module] = [Quantize(scale, zero_point, stub.spec.bits, signed=True)]
    for i, m in enumerate(layers[1:-1], start=1):
        if isinstance(m, QATLinear):
            out_scale, out_zero = _activation_qparams(m.activation_post_process, f"layer {i}")
            out_bits = m.activation_post_process.spec.bits
            out.append(QuantizedLinear(_quantized_weight(m), m.bias, scale, zero_point, out_scale, out_zero,
                                       relu=m.relu, bits=out_bits))
            scale, zero_point = out_scale, out_zero
        elif isinstance(m, QATConv2d):
            out_scale, out_zero = _activation_qparams(m.activation_post_process, f"layer {i}")
            out_bits = m.activation_post_process.spec.bits
            out.append(QuantizedConv2d(_quantized_weight(m), m.bias, scale, zero_point, out_scale, out_zero,
                                       m.stride, m.padding, m.dilation, relu=m.relu, bits=out_bits))
            scale, zero_point = out_scale, out_zero
        elif isinstance(m, MaxPool2d):
            out.append(QuantizedMaxPool2d.from_float(m))
        elif isinstance(m, Flatten):
            if m.end_dim != -1:
                raise TypeError("convert: only Flatten(start_dim, end_dim=-1) is supported")
            out.append(QuantizedFlatten(m.start_dim))
        elif isinstance(m, (Dropout, Identity)):
            continue
        else:
            raise TypeError(f"convert: unexpected {type(m).__name__} at layer {i}")
    out.append(DeQuantize())
    return QuantizedSequential(*out).eval()


def quantize_dynamic(model: Module, bits: int = 8, per_channel: bool = False, inplace: bool = False) -> Module:
    """Every Linear (at any depth) replaced by a :class:`DynamicQuantizedLinear`.

    PyTorch's ``torch.ao.quantization.quantize_dynamic``.
    Weights: int8 symmetric, per tensor by default (PyTorch's default) or per output channel.
    """
    target = model if inplace else copy.deepcopy(model)
    if isinstance(target, Linear):
        return DynamicQuantizedLinear.from_float(target, bits, per_channel)
    for module in list(target.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, Linear):
                setattr(module, name, DynamicQuantizedLinear.from_float(child, bits, per_channel))
    return target


def fake_quant_model_output_levels(prepared: Module, x: Tensor) -> Any:
    """The fake-quant model's output expressed in integer levels, round(ŷ/S) + Z (to compare with ``convert``'s)."""
    last = [m for m in prepared if isinstance(m, (QATLinear, QATConv2d))][-1].activation_post_process
    with no_grad():
        y = prepared(x).data
    xp = backend.get_array_module(y)
    return xp.rint(y / last.scale.data.reshape(())) + last.zero_point.data.reshape(())
