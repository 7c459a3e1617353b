"""Weight initialization, with PyTorch's names and formulas (``torch.nn.init``).

Each function fills a Tensor in place from minidl's seeded generator and returns it.

- Xavier/Glorot (tanh/sigmoid nets): Var(w) = gain² · 2/(fan_in + fan_out)
- He/Kaiming (ReLU nets):           Var(w) = gain² / fan        (fan = fan_in by default)

A uniform U(−b, b) has variance b²/3, so the uniform versions use b = √3 · std.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.random import Generator

from minidl import backend, random
from minidl.engine.tensor import Tensor, get_default_dtype
from minidl.nn.module import Module, Parameter


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The factor that keeps activations' variance stable through ``nonlinearity``."""
    if nonlinearity in ("linear", "conv1d", "conv2d", "conv3d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """fan_in = inputs per output unit, fan_out = outputs per input (× kernel size for convs)."""
    if tensor.ndim < 2:
        raise ValueError(f"fan in and fan out need a tensor with at least 2 dims (got shape {tensor.shape})")
    receptive = 1
    for n in tensor.shape[2:]:
        receptive *= n
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fill(tensor: Tensor, values: np.ndarray) -> Tensor:
    xp = backend.get_array_module(tensor.data)
    tensor.data[...] = values if xp is np else xp.asarray(values)
    return tensor


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0,
             generator: Generator | None = None) -> Tensor:
    """Fill with U(a, b)."""
    return _fill(tensor, random.uniform(tensor.shape, a, b, tensor.dtype, generator=generator))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0,
            generator: Generator | None = None) -> Tensor:
    """Fill with N(mean, std²)."""
    return _fill(tensor, random.normal(tensor.shape, mean, std, tensor.dtype, generator=generator))


def constant_(tensor: Tensor, val: float) -> Tensor:
    tensor.data[...] = val
    return tensor


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """Glorot uniform: U(−b, b) with b = gain · √(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: Any = None) -> Tensor:
    """Glorot normal: N(0, std²) with std = gain · √(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def _fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out' (got {mode!r})")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator: Any = None) -> Tensor:
    """He uniform: U(−b, b) with b = gain · √(3 / fan); gain for leaky_relu with slope ``a``."""
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan(tensor, mode))
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator: Any = None) -> Tensor:
    """He normal: N(0, std²) with std = gain / √fan."""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return normal_(tensor, 0.0, std, generator)


# He et al. 2015 is what most courses call it.
he_uniform_ = kaiming_uniform_
he_normal_ = kaiming_normal_


def default_layer_init_(weight: Tensor, bias: Tensor | None) -> None:
    """PyTorch's default for Linear and Conv layers: W, b ~ U(−1/√fan_in, 1/√fan_in).

    PyTorch writes it as ``kaiming_uniform_(W, a=√5)`` — gain √(2/(1+5)) = √(1/3) times
    √(3/fan_in) is exactly 1/√fan_in — and draws the bias from the same bound.
    """
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        bound = 1 / math.sqrt(_calculate_fan_in_and_fan_out(weight)[0])
        uniform_(bias, -bound, bound)


def add_weight_and_bias(layer: Module, weight_shape: tuple[int, ...], bias: bool, dtype: Any = None) -> None:
    """Give ``layer`` PyTorch's layer parameters, then call its ``reset_parameters()`` to draw them.

    ``weight`` of ``weight_shape`` (out first: (out, in) for Linear, (out, in, kh, kw) for
    Conv2d) and ``bias`` of shape (out,), or a registered ``None`` when ``bias=False``;
    ``dtype`` defaults to :func:`minidl.get_default_dtype`. ``reset_parameters`` is the
    layer's own (usually :func:`default_layer_init_`), so a subclass can override it, as in PyTorch.
    """
    dtype = dtype or get_default_dtype()
    layer.weight = Parameter(backend.xp.empty(weight_shape, dtype=dtype))
    if bias:
        layer.bias = Parameter(backend.xp.empty(weight_shape[:1], dtype=dtype))
    else:
        layer.register_parameter("bias", None)
    layer.reset_parameters()
