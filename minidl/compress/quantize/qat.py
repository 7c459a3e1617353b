"""Quantization-aware training: the float model with fake quantization on its weights and activations.

``prepare_qat(model, qconfig)`` returns a copy of a Sequential model in which

- a :class:`QuantStub` fake-quantizes the input,
- every Linear (fused with a ReLU that follows it) becomes a :class:`QATLinear` that
  fake-quantizes its weight before use and its output after the ReLU,
- every Conv2d (and its ReLU) likewise becomes a :class:`QATConv2d` (weights per output
  channel, axis 0); a MaxPool2d stays as it is (the max of values on the grid is on the grid),
- a :class:`DeQuantStub` marks the end.

Training it with the ordinary loop (``fit``) teaches the weights to live on the integer
grid: the forward pass computes what the integer model will, and the straight-through
estimator lets gradients through. :func:`~minidl.compress.quantize.convert` then builds
the integer-only model. Post-training quantization uses the same prepared model with fake
quantization switched off, so that its observers only watch (:func:`~minidl.compress.quantize.prepare`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable

from minidl.compress.quantize.fake_quant import FakeQuantize
from minidl.compress.quantize.observers import (
    HistogramObserver,
    MinMaxObserver,
    MovingAverageMinMaxObserver,
    ObserverBase,
    PerChannelMinMaxObserver,
)
from minidl.engine.ops import linear, relu
from minidl.engine.ops.conv import conv2d
from minidl.engine.tensor import Tensor
from minidl.nn.activation import Dropout, Flatten, ReLU
from minidl.nn.container import Sequential
from minidl.nn.conv import Conv2d, MaxPool2d
from minidl.nn.linear import Identity, Linear
from minidl.nn.module import Module, Parameter


@dataclass(frozen=True)
class QConfig:
    """Which observers watch activations and weights (PyTorch's ``QConfig``): factories, one call per use."""

    activation: Callable[[], ObserverBase]
    weight: Callable[[], ObserverBase]


def _weight_observer(bits: int, per_channel: bool) -> Callable[[], ObserverBase]:
    # Symmetric and narrow ([-127, 127] at 8 bits): zero point 0, as the integer kernel needs.
    if per_channel:
        return PerChannelMinMaxObserver.with_args(ch_axis=0, bits=bits, signed=True, symmetric=True,
                                                  narrow_range=True)
    return MinMaxObserver.with_args(bits=bits, signed=True, symmetric=True, narrow_range=True)


def get_default_qconfig(bits: int = 8, per_channel: bool = True, activation_observer: str = "minmax") -> QConfig:
    """Post-training quantization: signed affine activations (min/max or histogram), symmetric weights.

    ``activation_observer`` is ``"minmax"`` or ``"histogram"``.
    """
    observers = {"minmax": MinMaxObserver, "histogram": HistogramObserver}
    if activation_observer not in observers:
        raise ValueError(f"activation_observer must be one of {sorted(observers)} (got {activation_observer!r})")
    return QConfig(activation=observers[activation_observer].with_args(bits=bits, signed=True),
                   weight=_weight_observer(bits, per_channel))


def get_default_qat_qconfig(bits: int = 8, per_channel: bool = True) -> QConfig:
    """Quantization-aware training: moving-average activation ranges (c = 0.01), symmetric weights."""
    return QConfig(activation=MovingAverageMinMaxObserver.with_args(bits=bits, signed=True),
                   weight=_weight_observer(bits, per_channel))


class QuantStub(Module):
    """Fake-quantizes the model's input (becomes :class:`~minidl.compress.quantize.Quantize` on convert)."""

    def __init__(self, qconfig: QConfig) -> None:
        super().__init__()
        self.activation_post_process = FakeQuantize(qconfig.activation)

    def forward(self, x: Tensor) -> Tensor:
        return self.activation_post_process(x)


class DeQuantStub(Module):
    """Identity in float (becomes :class:`~minidl.compress.quantize.DeQuantize` on convert)."""

    def forward(self, x: Tensor) -> Tensor:
        return x


class _FakeQuantLayer(Module):
    """What QATLinear and QATConv2d share: y = fq_out(relu?(op(x, fq_w(W), b))).

    The weight's fake quantizer observes the current weight on every call (its range is
    today's, not the union over training); the output's observes the activations. A subclass
    says what ``op`` is (``_float_op``) and keeps its geometry.
    """

    def __init__(self, weight: Parameter, bias: Parameter | None, qconfig: QConfig, relu: bool) -> None:
        super().__init__()
        self.weight = weight
        if bias is None:
            self.register_parameter("bias", None)
        else:
            self.bias = bias
        self.relu = bool(relu)
        self.weight_fake_quant = FakeQuantize(qconfig.weight, observe_current_only=True)
        self.activation_post_process = FakeQuantize(qconfig.activation)

    @staticmethod
    def _copied(layer: Module) -> tuple[Parameter, Parameter | None]:
        """Fresh copies of a float layer's weight and bias (training the QAT model leaves it untouched)."""
        return (Parameter(layer.weight.data.copy()),
                None if layer.bias is None else Parameter(layer.bias.data.copy()))

    def _float_op(self, x: Tensor, weight: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        y = self._float_op(x, self.weight_fake_quant(self.weight))
        if self.relu:
            y = relu(y)
        return self.activation_post_process(y)


class QATLinear(_FakeQuantLayer):
    """y = fq_out(relu?(x · fq_w(W)ᵀ + b)): a Linear (optionally fused with its ReLU) with fake quantization."""

    def __init__(self, weight: Parameter, bias: Parameter | None, qconfig: QConfig, relu: bool = False) -> None:
        super().__init__(weight, bias, qconfig, relu)
        self.out_features, self.in_features = weight.shape

    @classmethod
    def from_float(cls, lin: Linear, qconfig: QConfig, relu: bool = False) -> QATLinear:
        return cls(*cls._copied(lin), qconfig, relu)

    def _float_op(self, x: Tensor, weight: Tensor) -> Tensor:
        return linear(x, weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, relu={self.relu}"


class QATConv2d(_FakeQuantLayer):
    """y = fq_out(relu?(fq_w(W) ⋆ x + b)): a Conv2d (optionally fused with its ReLU) with fake quantization.

    As :class:`QATLinear`; the weight's scales are per output channel (axis 0) under the
    default qconfigs. Keeps the float layer's stride, padding and dilation.
    """

    def __init__(self, weight: Parameter, bias: Parameter | None, qconfig: QConfig, stride: tuple[int, int] = (1, 1),
                 padding: Any = (0, 0), dilation: tuple[int, int] = (1, 1), relu: bool = False) -> None:
        super().__init__(weight, bias, qconfig, relu)
        self.out_channels, self.in_channels = weight.shape[:2]
        self.kernel_size = tuple(weight.shape[2:])
        self.stride, self.padding, self.dilation = stride, padding, dilation

    @classmethod
    def from_float(cls, conv: Conv2d, qconfig: QConfig, relu: bool = False) -> QATConv2d:
        return cls(*cls._copied(conv), qconfig, conv.stride, conv.padding, conv.dilation, relu)

    def _float_op(self, x: Tensor, weight: Tensor) -> Tensor:
        return conv2d(x, weight, self.bias, self.stride, self.padding, self.dilation)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding!r}, dilation={self.dilation}, relu={self.relu}")


_PASS_THROUGH = (Dropout, Identity, Flatten, MaxPool2d)


def _layers(model: Module) -> list[Module]:
    """The leaf layers of a (possibly nested) Sequential, in order."""
    if not isinstance(model, Sequential):
        raise TypeError(f"quantization prepares Sequential models (an MLP, or layers in a Sequential); "
                        f"got {type(model).__name__}. For any model, quantize_dynamic() swaps its Linear layers.")
    out: list[Module] = []
    for m in model:
        out.extend(_layers(m) if isinstance(m, Sequential) else [m])
    return out


def prepare_model(model: Module, qconfig: QConfig, fake_quant: bool) -> Sequential:
    """The prepared copy of ``model`` (see the module notes); ``fake_quant`` switches fake quantization on."""
    if not isinstance(qconfig, QConfig):
        raise TypeError(f"qconfig must be a QConfig (got {type(qconfig).__name__})")
    layers = _layers(model)
    prepared: list[Module] = [QuantStub(qconfig)]
    i = 0
    while i < len(layers):
        m = layers[i]
        if isinstance(m, (Linear, Conv2d)):
            fused = i + 1 < len(layers) and isinstance(layers[i + 1], ReLU)
            qat_layer = QATLinear if isinstance(m, Linear) else QATConv2d
            prepared.append(qat_layer.from_float(m, qconfig, relu=fused))
            i += 2 if fused else 1
            continue
        if isinstance(m, MaxPool2d) and m.return_indices:
            raise TypeError(f"layer {i}: MaxPool2d(return_indices=True) cannot be quantized")
        if isinstance(m, _PASS_THROUGH):
            prepared.append(copy.deepcopy(m))
        elif isinstance(m, ReLU):
            raise TypeError(f"layer {i}: a ReLU must follow a Linear or a Conv2d to be quantized (it is fused "
                            "into it; max-pooling and ReLU commute, so write Conv2d, ReLU, MaxPool2d)")
        else:
            raise TypeError(f"layer {i}: cannot quantize {type(m).__name__} (supported: Linear and Conv2d, each "
                            "optionally followed by ReLU, MaxPool2d, Flatten, Dropout, Identity)")
        i += 1
    prepared.append(DeQuantStub())
    result = Sequential(*prepared)
    result.train(model.training)
    for fq in result.modules():
        if isinstance(fq, FakeQuantize):
            fq.enable_fake_quant(fake_quant)
    return result


def prepare_qat(model: Module, qconfig: QConfig | None = None) -> Sequential:
    """A copy of ``model`` with fake quantization on weights and activations, ready to train (QAT)."""
    return prepare_model(model, qconfig or get_default_qat_qconfig(), fake_quant=True)


def fake_quant_modules(model: Module) -> list[FakeQuantize]:
    """Every FakeQuantize in ``model`` (to switch observers or fake quantization in bulk)."""
    return [m for m in model.modules() if isinstance(m, FakeQuantize)]
