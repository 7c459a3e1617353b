"""Fully connected layers: ``Linear`` and ``Identity``."""

from __future__ import annotations

from typing import Any

from minidl import backend
from minidl.engine.tensor import Tensor, get_default_dtype
from minidl.nn import init
from minidl.nn.functional import linear
from minidl.nn.module import Module, Parameter


class Linear(Module):
    """y = x Wᵀ + b, with W of shape (out_features, in_features) as in PyTorch.

    Initialization is PyTorch's: W and b ~ U(−1/√in_features, 1/√in_features)
    (``kaiming_uniform_(a=√5)`` works out to exactly that bound).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype: Any = None) -> None:
        super().__init__()
        for name, n in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(n, int) or n <= 0:
                raise ValueError(f"Linear: {name} must be a positive int (got {n!r})")
        self.in_features = in_features
        self.out_features = out_features
        dtype = dtype or get_default_dtype()
        self.weight = Parameter(backend.xp.empty((out_features, in_features), dtype=dtype))
        if bias:
            self.bias = Parameter(backend.xp.empty((out_features,), dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.default_layer_init_(self.weight, self.bias)

    def forward(self, x: Tensor) -> Tensor:
        return linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    """Returns its input unchanged (a placeholder, as ``torch.nn.Identity``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        return x
