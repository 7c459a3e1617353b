"""Fake quantization: quantize and dequantize in one step, in float, with a gradient that trains.

    x̂ = (clamp(round(x / S) + Z, qmin, qmax) − Z) · S

The forward pass sees exactly the values the integer model will compute with, so a network
trained through it (quantization-aware training, QAT) learns weights that survive
rounding. ``round`` has derivative 0 almost everywhere, which would stop all learning; the
straight-through estimator (STE) pretends it is the identity inside the representable
range and blocks the gradient where the value saturates:

    ∂x̂/∂x := 1[qmin ≤ round(x / S) + Z ≤ qmax]

tested, as in PyTorch, on the rounded level before the clamp, inclusive at both ends.
"""

from __future__ import annotations

from typing import Any, Callable

from minidl import backend
from minidl.compress.quantize.observers import MovingAverageMinMaxObserver, ObserverBase
from minidl.compress.quantize.qparams import check_qparams, storage_dtype
from minidl.compress.quantize.quantize import _check_channels, dequantize_affine, normalize_axis, rounded_levels
from minidl.engine.function import Function
from minidl.engine.ops._args import as_tensor
from minidl.engine.tensor import Tensor
from minidl.nn.module import Module


class FakeQuantizeFunction(Function):
    """x̂ = (clamp(round(x/S) + Z, qmin, qmax) − Z)·S;   ∂x̂/∂x := 1[qmin ≤ round(x/S) + Z ≤ qmax] (STE)"""

    def __init__(self, scale: Any, zero_point: Any, quant_min: int, quant_max: int, axis: int | None) -> None:
        self.scale, self.zero_point = scale, zero_point
        self.quant_min, self.quant_max, self.axis = quant_min, quant_max, axis

    def forward(self, x: Any) -> Any:
        xp = backend.get_array_module(x)
        levels = rounded_levels(x, self.scale, self.zero_point, self.axis)
        self.inside = (levels >= self.quant_min) & (levels <= self.quant_max)
        q = xp.clip(levels, self.quant_min, self.quant_max).astype(storage_dtype(self.quant_min, self.quant_max))
        return dequantize_affine(q, self.scale, self.zero_point, self.axis).astype(x.dtype, copy=False)

    def backward(self, gy: Any, x: Any) -> Any:
        return gy * self.inside


def fake_quantize(x: Any, scale: Any, zero_point: Any, quant_min: int, quant_max: int,
                  axis: int | None = None) -> Tensor:
    """x̂ = (clamp(round(x/S) + Z, qmin, qmax) − Z)·S with the straight-through gradient.

    Per-tensor when ``axis`` is None (``torch.fake_quantize_per_tensor_affine``), else one
    (S, Z) per index along ``axis`` (``torch.fake_quantize_per_channel_affine``).
    """
    x = as_tensor(x)
    if isinstance(quant_min, bool) or not isinstance(quant_min, int) or not isinstance(quant_max, int) \
            or quant_min >= quant_max:
        raise ValueError(f"quant_min < quant_max must be ints (got {quant_min!r}, {quant_max!r})")
    axis = normalize_axis(axis, x.ndim)
    xp = backend.get_array_module(x.data)
    s = xp.asarray(scale.data if isinstance(scale, Tensor) else scale, dtype=xp.float32)
    z = xp.asarray(zero_point.data if isinstance(zero_point, Tensor) else zero_point)
    check_qparams(s, z, quant_min, quant_max)
    _check_channels(x.data, s, axis)
    return FakeQuantizeFunction(s, z, quant_min, quant_max, axis)(x)


def fake_quantize_per_tensor_affine(input: Any, scale: float, zero_point: int,  # noqa: A002 - PyTorch's name
                                    quant_min: int, quant_max: int) -> Tensor:
    """PyTorch's ``torch.fake_quantize_per_tensor_affine`` (see :func:`fake_quantize`)."""
    return fake_quantize(input, scale, zero_point, quant_min, quant_max)


def fake_quantize_per_channel_affine(input: Any, scale: Any, zero_point: Any, axis: int,  # noqa: A002
                                     quant_min: int, quant_max: int) -> Tensor:
    """PyTorch's ``torch.fake_quantize_per_channel_affine`` (see :func:`fake_quantize`)."""
    return fake_quantize(input, scale, zero_point, quant_min, quant_max, axis)


class FakeQuantize(Module):
    """An observer followed by :func:`fake_quantize` with the observer's current (S, Z).

    As ``torch.ao.quantization.FakeQuantize``: the observer (``activation_post_process``)
    updates on every call while enabled, and fake quantization can be switched off, which
    turns the module into a pure observer (post-training calibration).

    ``observe_current_only=True`` resets the observer before each call, so the range is
    that of the current tensor: right for weights, which change during training and are
    known exactly (PyTorch's default weight fake-quant averages ranges over steps instead).
    """

    def __init__(self, observer: Callable[..., ObserverBase] = MovingAverageMinMaxObserver,
                 observe_current_only: bool = False, **observer_kwargs: Any) -> None:
        super().__init__()
        self.activation_post_process = observer(**observer_kwargs)
        if not isinstance(self.activation_post_process, ObserverBase):
            raise TypeError(f"FakeQuantize: observer must build an observer (got "
                            f"{type(self.activation_post_process).__name__})")
        self.spec = self.activation_post_process.spec
        self.observe_current_only = observe_current_only
        self.fake_quant_enabled = True
        self.observer_enabled = True
        xp = backend.xp
        self.register_buffer("scale", Tensor._wrap(xp.ones((1,), dtype=xp.float32)))
        self.register_buffer("zero_point", Tensor._wrap(xp.zeros((1,), dtype=xp.int32)))

    @property
    def quant_min(self) -> int:
        return self.spec.qmin

    @property
    def quant_max(self) -> int:
        return self.spec.qmax

    @property
    def ch_axis(self) -> int | None:
        return self.spec.ch_axis

    def calculate_qparams(self) -> tuple[Any, Any]:
        return self.activation_post_process.calculate_qparams()

    def forward(self, x: Tensor) -> Tensor:
        if self.observer_enabled:
            if self.observe_current_only:
                self.activation_post_process.reset()
            self.activation_post_process(x.detach())
            s, z = self.calculate_qparams()
            self.scale.data, self.zero_point.data = s, z
        if not self.fake_quant_enabled:
            return x
        return fake_quantize(x, self.scale, self.zero_point, self.quant_min, self.quant_max, self.ch_axis)

    def enable_fake_quant(self, enabled: bool = True) -> FakeQuantize:
        self.fake_quant_enabled = bool(enabled)
        return self

    def disable_fake_quant(self) -> FakeQuantize:
        return self.enable_fake_quant(False)

    def enable_observer(self, enabled: bool = True) -> FakeQuantize:
        self.observer_enabled = bool(enabled)
        return self

    def disable_observer(self) -> FakeQuantize:
        return self.enable_observer(False)

    def extra_repr(self) -> str:
        return (f"fake_quant_enabled={self.fake_quant_enabled}, observer_enabled={self.observer_enabled}, "
                f"{self.spec.describe()}")


# Four look-alike functions on purpose: torch.ao.quantization's names for model.apply(...), each
# one switch, so a learner reads exactly what it turns on or off.
def enable_fake_quant(module: Module) -> None:
    """For ``model.apply(enable_fake_quant)``: switch fake quantization on in every FakeQuantize."""
    if isinstance(module, FakeQuantize):
        module.enable_fake_quant()


def disable_fake_quant(module: Module) -> None:
    """For ``model.apply(disable_fake_quant)``: observers only (calibration)."""
    if isinstance(module, FakeQuantize):
        module.disable_fake_quant()


def enable_observer(module: Module) -> None:
    """For ``model.apply(enable_observer)``."""
    if isinstance(module, FakeQuantize):
        module.enable_observer()


def disable_observer(module: Module) -> None:
    """For ``model.apply(disable_observer)``: freeze the ranges (evaluate or convert without moving them)."""
    if isinstance(module, FakeQuantize):
        module.disable_observer()
