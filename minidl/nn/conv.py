"""Convolution and pooling layers: ``Conv2d``, ``MaxPool2d``, ``AvgPool2d`` (PyTorch's names and defaults)."""

from __future__ import annotations

from typing import Any

from minidl.engine.ops.conv import as_pair as _pair
from minidl.engine.ops.conv import conv2d
from minidl.engine.ops.pool import avg_pool2d, max_pool2d
from minidl.engine.tensor import Tensor
from minidl.nn import init
from minidl.nn.module import Module


def conv_repr(layer: Module) -> str:
    """PyTorch's Conv2d repr: channels, kernel and stride, then padding and dilation where not the default."""
    s = f"{layer.in_channels}, {layer.out_channels}, kernel_size={layer.kernel_size}, stride={layer.stride}"
    if layer.padding not in ((0, 0), "valid"):
        s += f", padding={layer.padding!r}"
    if layer.dilation != (1, 1):
        s += f", dilation={layer.dilation}"
    return s


class Conv2d(Module):
    """2-D convolution over (N, C, H, W) inputs; the weight has shape (out, in, kh, kw).

    Output size per axis: ⌊(H + 2·padding − dilation·(k − 1) − 1) / stride⌋ + 1.
    Initialization is PyTorch's: W and b ~ U(−1/√fan_in, 1/√fan_in) with
    fan_in = in_channels · kh · kw (``kaiming_uniform_(a=√5)`` works out to that bound).
    Only ``groups=1`` and ``padding_mode='zeros'`` are supported.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", dtype: Any = None) -> None:
        super().__init__()
        for name, n in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
                raise ValueError(f"Conv2d: {name} must be a positive int (got {n!r})")
        if groups != 1:
            raise NotImplementedError(f"Conv2d: groups={groups} is not supported (only groups=1)")
        if padding_mode != "zeros":
            raise NotImplementedError(f"Conv2d: padding_mode={padding_mode!r} is not supported "
                                      "(only 'zeros')")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size, "kernel_size", 1)
        self.stride = _pair(stride, "stride", 1)
        self.padding = padding if isinstance(padding, str) else _pair(padding, "padding", 0)
        if isinstance(padding, str) and padding not in ("valid", "same"):
            raise ValueError(f"Conv2d: padding must be an int, a pair, 'valid' or 'same' (got {padding!r})")
        if padding == "same" and self.stride != (1, 1):
            raise ValueError(f"Conv2d: padding='same' needs stride 1 (got stride={stride!r})")
        self.dilation = _pair(dilation, "dilation", 1)
        self.groups, self.padding_mode = groups, padding_mode
        init.add_weight_and_bias(self, (out_channels, in_channels) + self.kernel_size, bias, dtype)

    def reset_parameters(self) -> None:
        init.default_layer_init_(self.weight, self.bias)

    def forward(self, x: Tensor) -> Tensor:
        return conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)

    def extra_repr(self) -> str:
        return conv_repr(self) + (", bias=False" if self.bias is None else "")


# MaxPool2d and AvgPool2d share a shape on purpose: each is PyTorch's module of the same name,
# keeping its own arguments as attributes and handing them to its own function.
class MaxPool2d(Module):
    """The maximum over each kernel_size window (``stride`` defaults to ``kernel_size``)."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode
        _pair(kernel_size, "kernel_size", 1)
        _pair(self.stride, "stride", 1)

    def forward(self, x: Tensor) -> Any:
        return max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                          self.ceil_mode, self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    """The mean over each kernel_size window (``stride`` defaults to ``kernel_size``)."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override
        _pair(kernel_size, "kernel_size", 1)
        _pair(self.stride, "stride", 1)

    def forward(self, x: Tensor) -> Tensor:
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
