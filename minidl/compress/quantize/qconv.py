"""Integer-only convolution and max-pooling (Jacob et al. 2018): a CNN that computes in int8.

A convolution is a linear layer applied to every receptive field of its input (im2col,
:mod:`minidl.kernels.conv`), so its integer version is :class:`QuantizedLinear`'s integer
GEMM on the rows of the im2col matrix of the int8 input:

    q₃[n, o, oy, ox] = Z₃ + M · (Σ_{c,i,j} (q₁[n, c, iy, ix] − Z₁) · q₂[o, c, i, j] + q_b[o]),
    iy = oy·sh − ph + i·dh,   ix = ox·sw − pw + j·dw

with M = S₁S₂/S₃, q_b = round(b / (S₁S₂)) in int32 and the weights int8, symmetric, one
scale S₂ per output channel. The −Z₁ Σ q₂ part does not depend on the input, so
QuantizedLinear folds it into the bias once — which is right only if every position of a
receptive field holds some q₁, **including the padding**. A float convolution pads with
0.0, and the integer that stands for 0.0 is Z₁, not 0: so the integer input is padded with
Z₁, making (q₁ − Z₁) = 0 there. Padding with the integer 0 would read the border as the real
value −Z₁·S₁ instead of 0.0 (for images in [0, 1] quantized to int8, Z₁ = −128: a grey
frame of about 0.5 around every image). Only when Z₁ = 0 are the two the same.

Max-pooling needs no arithmetic at all: x ↦ S(q − Z) is increasing, so the maximum of the
reals is the real of the maximum of the integers. Pool the integers, keep (S, Z).

A ReLU after a convolution is fused into it, as for the linear layer: a clamp at Z₃.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any

from minidl import backend
from minidl.compress.quantize.qlinear import QuantizedLinear
from minidl.compress.quantize.qparams import QuantSpec
from minidl.compress.quantize.quantize import QuantizedTensor
from minidl.engine.ops.conv import CHUNK_BYTES, conv_window
from minidl.engine.ops.conv import as_pair as _pair
from minidl.engine.ops.pool import pool_window
from minidl.engine.tensor import Tensor
from minidl.kernels.conv import _pad, im2col, window_view
from minidl.kernels.window import Window
from minidl.nn.conv import conv_repr
from minidl.nn.module import Module


def quantized_im2col(q: Any, win: Window, pad_value: int) -> Any:
    """The receptive fields of integer input q (N, C, H, W) as rows: shape (N·OH·OW, C·kh·kw).

    Positions outside the input hold ``pad_value``, which must be the input's zero point Z₁
    for a convolution to mean what its float version means (see the module notes). The
    image is padded once and handed to :func:`minidl.kernels.conv.im2col` with no padding
    of its own (which would write the integer 0).
    """
    padded = _pad(q, win, value=pad_value)
    return im2col(padded, win._replace(ph=0, pw=0)).T


def integer_conv2d(q: Any, linear: QuantizedLinear, win: Window, pad_value: int) -> Any:
    """int8 (N, O, OH, OW) = ``linear``'s integer GEMM on the im2col rows of int8 q (N, C, H, W).

    ``linear`` holds the flattened (O, C·kh·kw) weights, the folded int32 bias and the
    requantization multipliers; ``pad_value`` should be its input zero point Z₁ (anything
    else is the bug the module notes describe, which lesson 09 shows). Goes through the batch
    in chunks whose float32 copy of the rows fits in ``CHUNK_BYTES``, as the float convolution does.
    """
    xp = backend.get_array_module(q)
    n, out_channels = q.shape[0], linear.out_features
    positions = win.oh * win.ow
    step = max(1, min(n, CHUNK_BYTES // max(4 * linear.in_features * positions, 1)))
    out = xp.empty((n, out_channels, win.oh, win.ow), dtype=xp.int8)
    for start in range(0, n, step):
        stop = min(start + step, n)
        rows = linear.gemm(quantized_im2col(q[start:stop], win, pad_value))  # (m·OH·OW, O)
        out[start:stop] = rows.reshape(stop - start, win.oh, win.ow, out_channels).transpose(0, 3, 1, 2)
    return out


def integer_max_pool2d(q: Any, win: Window) -> Any:
    """The maximum over each window of integer levels q (N, C, H, W), in q's dtype.

    Padding takes the dtype's smallest value, so it never beats a real element (a window of
    padding only, possible with dilation, gives that value: the level −∞ clamps to).
    """
    xp = backend.get_array_module(q)
    padded = _pad(q, win, value=int(xp.iinfo(q.dtype).min))
    out = window_view(padded, win, 0, 0).copy()
    for i in range(win.kh):
        for j in range(win.kw):
            if i or j:
                xp.maximum(out, window_view(padded, win, i, j), out=out)
    return out


class QuantizedConv2d(Module):
    """Integer-only Conv2d: int8 in, int8 out, int8 weights (see the module notes).

    The weights, folded bias and multipliers live in ``self.linear``, a :class:`QuantizedLinear`
    over the flattened (out_channels, in_channels·kh·kw) weights, whose integer GEMM does the
    work; this layer adds the geometry (stride, padding, dilation) and the im2col padded with
    Z₁. ``groups`` other than 1 and non-zero padding modes are not supported (nor are they by
    :class:`~minidl.nn.Conv2d`). ``scale`` and ``zero_point`` are the output's, as in PyTorch.
    """

    def __init__(self, weight: QuantizedTensor, bias: Any, input_scale: float, input_zero_point: int,
                 output_scale: float, output_zero_point: int, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, relu: bool = False, bits: int = 8) -> None:
        super().__init__()
        if not isinstance(weight, QuantizedTensor) or len(weight.shape) != 4:
            raise TypeError("QuantizedConv2d: weight must be a 4-D QuantizedTensor (out_channels, in_channels, kh, kw)"
                            f" (got {type(weight).__name__} of shape {getattr(weight, 'shape', None)})")
        if weight.axis not in (None, 0):
            raise ValueError(f"QuantizedConv2d: weight scales must be per-tensor or per output channel "
                             f"(axis 0), got axis {weight.axis}")
        self.out_channels, self.in_channels, kh, kw = weight.shape
        self.kernel_size = (kh, kw)
        self.stride = _pair(stride, "stride", 1)
        self.dilation = _pair(dilation, "dilation", 1)
        self.padding = padding if isinstance(padding, str) else _pair(padding, "padding", 0)
        # the smallest input the kernel fits: checks 'same'/'valid' and the pairs now, not at the first call
        conv_window((1, self.in_channels, self.dilation[0] * (kh - 1) + 1, self.dilation[1] * (kw - 1) + 1),
                    weight.shape, self.stride, self.padding, self.dilation)
        flat = QuantizedTensor._wrap(weight.int_repr().reshape(self.out_channels, -1), weight.scale,
                                     weight.zero_point, weight.bits, weight.signed, weight.narrow_range, weight.axis)
        try:
            self.linear = QuantizedLinear(flat, bias, input_scale, input_zero_point, output_scale,
                                          output_zero_point, relu=relu, bits=bits)
        except (TypeError, ValueError) as error:  # its checks are this layer's: say whose they are
            raise type(error)(f"QuantizedConv2d, through its {error}") from error

    @classmethod
    def from_float(cls, weight: Any, bias: Any, weight_spec: QuantSpec, input_scale: float, input_zero_point: int,
                   output_scale: float, output_zero_point: int, stride: Any = 1, padding: Any = 0,
                   dilation: Any = 1, relu: bool = False, bits: int = 8) -> QuantizedConv2d:
        """Quantize a float (O, C, kh, kw) weight (per ``weight_spec``: signed, symmetric) and build the layer."""
        if not (weight_spec.symmetric and weight_spec.signed):
            raise ValueError(f"QuantizedConv2d needs signed symmetric weights (got {weight_spec.describe()})")
        return cls(QuantizedTensor.from_float(weight, weight_spec), bias, input_scale, input_zero_point,
                   output_scale, output_zero_point, stride, padding, dilation, relu, bits)

    # the output's quantization and the fused ReLU live once, in the inner QuantizedLinear
    scale = property(attrgetter("linear.scale"), doc="The output scale (a Tensor), the inner layer's.")
    zero_point = property(attrgetter("linear.zero_point"), doc="The output zero point, the inner layer's.")
    relu = property(attrgetter("linear.relu"), doc="Whether a ReLU is fused into the output, the inner layer's.")

    def window(self, input_shape: tuple[int, ...]) -> Window:
        """Where the windows sit on an (N, C, H, W) input."""
        return conv_window(input_shape, (self.out_channels, self.in_channels) + self.kernel_size,
                           self.stride, self.padding, self.dilation)

    def forward(self, x: QuantizedTensor) -> QuantizedTensor:
        q = self.linear.input_levels(x, "QuantizedConv2d")
        if q.ndim not in (3, 4):
            raise ValueError(f"QuantizedConv2d: input must have shape (N, C, H, W) or (C, H, W) (got {tuple(q.shape)})")
        unbatched = q.ndim == 3
        q = q.reshape((1,) + tuple(q.shape)) if unbatched else q
        if q.shape[1] != self.in_channels:
            raise ValueError(f"QuantizedConv2d: input has {q.shape[1]} channels (shape {tuple(q.shape)}) "
                             f"but the layer expects {self.in_channels}")
        y = integer_conv2d(q, self.linear, self.window(tuple(q.shape)), int(self.linear.input_zero_point.data))
        y = y.reshape(y.shape[1:]) if unbatched else y
        return QuantizedTensor._wrap(y, self.scale.data, self.zero_point.data, self.linear.bits, True)

    def dequantized_weight(self) -> Tensor:
        """W ≈ S₂ q₂ as float32, shape (O, C, kh, kw) (to compare with the float layer)."""
        w = self.linear.dequantized_weight().data
        return Tensor._wrap(w.reshape((self.out_channels, self.in_channels) + self.kernel_size))

    def extra_repr(self) -> str:
        return conv_repr(self)


class QuantizedMaxPool2d(Module):
    """MaxPool2d on a :class:`QuantizedTensor`: the maxima of the integers, with the input's (S, Z).

    PyTorch's arguments (``stride`` defaults to ``kernel_size``); ``return_indices`` is not
    offered (an integer model has no backward pass to use them).
    """

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1,
                 ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.dilation, self.ceil_mode = padding, dilation, ceil_mode
        _pair(kernel_size, "kernel_size", 1)
        _pair(self.stride, "stride", 1)
        _pair(padding, "padding", 0)
        _pair(dilation, "dilation", 1)

    @classmethod
    def from_float(cls, pool: Module) -> QuantizedMaxPool2d:
        if getattr(pool, "return_indices", False):
            raise TypeError("QuantizedMaxPool2d: MaxPool2d(return_indices=True) cannot be quantized")
        return cls(pool.kernel_size, pool.stride, pool.padding, pool.dilation, pool.ceil_mode)

    def forward(self, x: QuantizedTensor) -> QuantizedTensor:
        if not isinstance(x, QuantizedTensor):
            raise TypeError(f"QuantizedMaxPool2d expects a QuantizedTensor (got {type(x).__name__})")
        if x.axis is not None:
            raise ValueError("QuantizedMaxPool2d: the input must be quantized per tensor (one scale and zero "
                             "point): with a scale per channel the integers of different channels do not compare")
        q = x.int_repr()
        if q.ndim not in (3, 4):
            raise ValueError(f"QuantizedMaxPool2d: input must have shape (N, C, H, W) or (C, H, W) "
                             f"(got {tuple(q.shape)})")
        batched = q if q.ndim == 4 else q.reshape((1,) + tuple(q.shape))
        win = pool_window(batched.shape, self.kernel_size, self.stride, self.padding, self.dilation,
                          self.ceil_mode, "QuantizedMaxPool2d")
        y = integer_max_pool2d(batched, win)
        y = y if q.ndim == 4 else y.reshape(y.shape[1:])
        return QuantizedTensor._wrap(y, x.scale, x.zero_point, x.bits, x.signed, x.narrow_range)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")
