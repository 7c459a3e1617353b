"""Integer-only inference (Jacob et al. 2018): layers that store int8 weights and compute in integers.

A linear layer y = x Wᵀ + b with x ≈ S₁(q₁ − Z₁), W ≈ S₂ q₂ (symmetric, Z₂ = 0, one S₂ per
output channel) and y ≈ S₃(q₃ − Z₃) becomes

    q₃ = Z₃ + M · (Σₖ (q₁ − Z₁) q₂  +  q_b),      M = S₁ S₂ / S₃,   q_b = round(b / (S₁ S₂))

- the sum is an int8 × int8 product accumulated in int32;
- the bias is stored in int32 with scale S₁S₂ and zero point 0, so it adds straight onto
  the accumulator;
- −Z₁ Σₖ q₂ does not depend on the input: it is folded into the bias once, at conversion;
- M (a real number, usually < 1) is applied as an integer multiply and shift
  (:func:`~minidl.kernels.int8.quantize_multiplier`, :func:`~minidl.kernels.int8.requantize`);
- a ReLU after the layer is just a tighter clamp: q₃ ≥ Z₃.

Activations are int8 (TFLite's int8 scheme, affine) rather than PyTorch's uint8: then every
product is at most 128·128 in magnitude, which is what makes the float32-exact BLAS route of
:mod:`minidl.kernels.int8` exact for K ≤ 1024.

A quantized convolution is the same layer applied to the im2col matrix of its input (each
row one receptive field, padded with Z₁ — the integer that means 0.0 — not with 0):
:meth:`QuantizedLinear.gemm` is written for that reuse (:mod:`~minidl.compress.quantize.qconv`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minidl import backend
from minidl.compress.quantize.qparams import QuantSpec, calculate_qparams, quant_range
from minidl.compress.quantize.quantize import QuantizedTensor, quantize_int8
from minidl.engine.tensor import Tensor
from minidl.kernels.int8 import int8_linear, int8_matmul, quantize_multiplier
from minidl.nn.module import Module


def check_features(layer: str, shape: tuple[int, ...], in_features: int) -> None:
    """Raise unless the last axis of an input of ``shape`` holds ``in_features`` values."""
    if len(shape) == 0 or shape[-1] != in_features:
        given = "a 0-d input" if len(shape) == 0 else f"{shape[-1]} features (input shape {tuple(shape)})"
        raise ValueError(f"{layer}: input has {given}, but the layer expects in_features={in_features} "
                         "on the last axis")


class Quantize(Module):
    """float Tensor → int8 :class:`QuantizedTensor` with fixed (S, Z): the integer model's entrance.

    ``scale`` and ``zero_point`` are buffers (saved in the ``state_dict``), as in PyTorch.
    """

    def __init__(self, scale: float, zero_point: int, bits: int = 8, signed: bool = True) -> None:
        super().__init__()
        self.bits, self.signed = bits, signed
        self.qmin, self.qmax = quant_range(bits, signed)
        if not self.qmin <= int(zero_point) <= self.qmax:
            raise ValueError(f"Quantize: zero_point must lie in [{self.qmin}, {self.qmax}] (got {zero_point})")
        if not float(scale) > 0:
            raise ValueError(f"Quantize: scale must be positive (got {scale})")
        xp = backend.xp
        self.register_buffer("scale", Tensor._wrap(xp.asarray(float(scale), dtype=xp.float32)))
        self.register_buffer("zero_point", Tensor._wrap(xp.asarray(int(zero_point), dtype=xp.int32)))

    def forward(self, x: Tensor) -> QuantizedTensor:
        data = x.data if isinstance(x, Tensor) else backend.xp.asarray(x, dtype=backend.xp.float32)
        s, z = self.scale.data, self.zero_point.data
        q = quantize_int8(data, s, z, self.qmin, self.qmax)
        return QuantizedTensor._wrap(q, s, z, self.bits, self.signed)

    def extra_repr(self) -> str:
        return (f"scale={float(self.scale.data):.6g}, zero_point={int(self.zero_point.data)}, "
                f"{'int' if self.signed else 'uint'}{self.bits}")


class DeQuantize(Module):
    """:class:`QuantizedTensor` → float Tensor: the integer model's exit."""

    def forward(self, q: QuantizedTensor) -> Tensor:
        return q.dequantize()


class QuantizedFlatten(Module):
    """Flatten for quantized activations (per-tensor parameters survive any reshape)."""

    def __init__(self, start_dim: int = 1) -> None:
        super().__init__()
        self.start_dim = start_dim

    def forward(self, q: QuantizedTensor) -> QuantizedTensor:
        shape = q.shape
        return q.reshape(shape[:self.start_dim] + (-1,))


class QuantizedLinear(Module):
    """y_q = requantize(x_q W_qᵀ + bias) in integers: int8 in, int8 out (see the module notes).

    Stored (``state_dict``, counted by :func:`~minidl.compress.quantize.model_nbytes`): the
    int8 weights, their float32 per-channel scales, and per output channel the folded
    int32 bias, the int32 multiplier M₀ and the int8 shift; plus the input's and the
    output's (scale, zero point) (``scale`` and ``zero_point`` are the output's, PyTorch's
    names). A float Linear stores 4 bytes per weight and per bias; this stores 1 per weight
    and 13 per output channel.
    """

    def __init__(self, weight: QuantizedTensor, bias: Any, input_scale: float, input_zero_point: int,
                 output_scale: float, output_zero_point: int, relu: bool = False, bits: int = 8) -> None:
        super().__init__()
        if not isinstance(weight, QuantizedTensor) or len(weight.shape) != 2:
            raise TypeError("QuantizedLinear: weight must be a 2-D QuantizedTensor (out_features, in_features)")
        if weight.bits > 8 or not weight.signed:
            raise ValueError(f"QuantizedLinear: weights must be signed with at most 8 bits (got "
                             f"{'int' if weight.signed else 'uint'}{weight.bits})")
        if weight.axis not in (None, 0):
            raise ValueError(f"QuantizedLinear: weight scales must be per-tensor or per output channel "
                             f"(axis 0), got axis {weight.axis}")
        if bool((weight.zero_point != 0).any()):
            raise ValueError("QuantizedLinear: weights must be symmetric (zero point 0); an affine weight "
                             "would need the input's row sums at run time")
        if not 2 <= bits <= 8:
            raise ValueError(f"QuantizedLinear: activation bits must be in [2, 8] (got {bits})")
        qmin, qmax = quant_range(bits, signed=True)
        for name, z in (("input_zero_point", input_zero_point), ("output_zero_point", output_zero_point)):
            if not qmin <= int(z) <= qmax:
                raise ValueError(f"QuantizedLinear: {name} must lie in [{qmin}, {qmax}] (got {z})")
        if not (float(input_scale) > 0 and float(output_scale) > 0):
            raise ValueError(f"QuantizedLinear: scales must be positive "
                             f"(got input {input_scale}, output {output_scale})")
        self.out_features, self.in_features = weight.shape
        self.relu, self.bits, self.weight_bits = bool(relu), bits, weight.bits

        xp = backend.get_array_module(weight.int_repr())
        w_q = weight.int_repr().astype(xp.int8)
        w_scale = xp.broadcast_to(weight.scale.reshape(-1), (self.out_features,)).astype(xp.float32)
        acc_scale = backend.to_numpy(w_scale).astype(np.float64) * float(input_scale)  # S₁S₂ per channel
        if bias is None:
            q_bias = np.zeros(self.out_features, dtype=np.int64)  # host: a few numbers per layer
        else:
            b = backend.to_numpy(bias.data if isinstance(bias, Tensor) else bias).astype(np.float64)
            q_bias = np.rint(b / acc_scale).astype(np.int64)
        row_sums = backend.to_numpy(w_q).astype(np.int64).sum(axis=1)
        folded = q_bias - int(input_zero_point) * row_sums
        if np.abs(folded).max(initial=0) >= 2 ** 31:
            raise ValueError("QuantizedLinear: the bias does not fit int32 at scale s1*s2 "
                             "(the input or weight scale is far too small for it)")
        multiplier, shift = quantize_multiplier(acc_scale / float(output_scale))
        self.register_buffer("weight", Tensor._wrap(w_q))
        self.register_buffer("weight_scale", Tensor._wrap(w_scale))
        self.register_buffer("bias_folded", Tensor._wrap(xp.asarray(folded.astype(np.int32))))
        self.register_buffer("multiplier", Tensor._wrap(xp.asarray(multiplier.astype(np.int32))))
        self.register_buffer("shift", Tensor._wrap(xp.asarray(shift.astype(np.int8))))
        self.register_buffer("input_scale", Tensor._wrap(xp.asarray(float(input_scale), dtype=xp.float32)))
        self.register_buffer("input_zero_point", Tensor._wrap(xp.asarray(int(input_zero_point), dtype=xp.int32)))
        self.register_buffer("scale", Tensor._wrap(xp.asarray(float(output_scale), dtype=xp.float32)))
        self.register_buffer("zero_point", Tensor._wrap(xp.asarray(int(output_zero_point), dtype=xp.int32)))

    @property
    def output_range(self) -> tuple[int, int]:
        """[qmin, qmax] of the output; a fused ReLU raises qmin to the zero point (the level of 0.0)."""
        qmin, qmax = -(1 << (self.bits - 1)), (1 << (self.bits - 1)) - 1  # signed b-bit (runs every call)
        return (max(qmin, int(self.zero_point.data)) if self.relu else qmin), qmax

    @classmethod
    def from_float(cls, weight: Any, bias: Any, weight_spec: QuantSpec, input_scale: float, input_zero_point: int,
                   output_scale: float, output_zero_point: int, relu: bool = False, bits: int = 8) -> QuantizedLinear:
        """Quantize a float weight (per ``weight_spec``, which must be symmetric and signed) and build the layer."""
        if not (weight_spec.symmetric and weight_spec.signed):
            raise ValueError(f"QuantizedLinear needs signed symmetric weights (got {weight_spec.describe()})")
        return cls(QuantizedTensor.from_float(weight, weight_spec), bias, input_scale, input_zero_point,
                   output_scale, output_zero_point, relu, bits)

    def gemm(self, rows: Any) -> Any:
        """The layer on an int8 matrix of shape (n, in_features): int8 (n, out_features).

        Also the core of a quantized convolution, applied to an im2col matrix.
        """
        qmin, qmax = self.output_range
        return int8_linear(rows, self.weight.data, self.bias_folded.data, self.multiplier.data,
                           self.shift.data, int(self.zero_point.data), qmin, qmax)

    def input_levels(self, x: QuantizedTensor, layer: str = "QuantizedLinear") -> Any:
        """The int8 array of ``x`` after checking it is quantized as this layer expects (S₁, Z₁)."""
        if not isinstance(x, QuantizedTensor):
            raise TypeError(f"{layer} expects a QuantizedTensor (got {type(x).__name__}); "
                            "put a Quantize module in front, as convert() does")
        s_in, z_in = float(self.input_scale.data), int(self.input_zero_point.data)
        if x.axis is not None or abs(float(x.scale) - s_in) > 1e-6 * s_in or int(x.zero_point) != z_in:
            raise ValueError(f"{layer}: input quantized with (s={float(x.scale):.6g}, z={int(x.zero_point)}) "
                             f"but the layer was built for (s={s_in:.6g}, z={z_in})")
        q = x.int_repr()
        if q.dtype.kind != "i" or q.dtype.itemsize != 1:
            raise TypeError(f"{layer}: input integers must be int8 (got {q.dtype})")
        return q

    def forward(self, x: QuantizedTensor) -> QuantizedTensor:
        q = self.input_levels(x)
        check_features("QuantizedLinear", tuple(q.shape), self.in_features)
        batch = q.shape[:-1]
        out = self.gemm(q.reshape(-1, self.in_features))
        return QuantizedTensor._wrap(out.reshape(batch + (self.out_features,)), self.scale.data,
                                     self.zero_point.data, self.bits, True)

    def dequantized_weight(self) -> Tensor:
        """W ≈ S₂ q₂ as float32 (to compare with the float layer)."""
        return Tensor._wrap(self.weight.data.astype("float32") * self.weight_scale.data[:, None])

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"weights int{self.weight_bits}, activations int{self.bits}, relu={self.relu}, "
                f"input (s={float(self.input_scale.data):.4g}, z={int(self.input_zero_point.data)}), "
                f"output (s={float(self.scale.data):.4g}, z={int(self.zero_point.data)})")


class DynamicQuantizedLinear(Module):
    """Linear with int8 weights and activations quantized on the fly, per batch (PyTorch's dynamic quantization).

    Float in, float out, so it drops into any model in place of a Linear. Weights: int8
    symmetric (per tensor by default, as ``torch.ao.quantization.quantize_dynamic``);
    each call quantizes the input with its own [min, max] (int8 affine), accumulates
    Σ (q₁ − Z₁) q₂ in int32 and returns S₁ S₂ · acc + b in float32.
    """

    def __init__(self, weight: QuantizedTensor, bias: Any, bits: int = 8) -> None:
        super().__init__()
        if not isinstance(weight, QuantizedTensor) or len(weight.shape) != 2 or weight.bits > 8 \
                or not weight.signed or bool((weight.zero_point != 0).any()):
            raise ValueError("DynamicQuantizedLinear: weight must be a 2-D signed symmetric QuantizedTensor "
                             "with at most 8 bits")
        if weight.axis not in (None, 0):
            raise ValueError(f"DynamicQuantizedLinear: weight scales must be per-tensor or per output "
                             f"channel (got axis {weight.axis})")
        self.out_features, self.in_features = weight.shape
        self.activation_spec = QuantSpec(bits=bits, signed=True)
        xp = backend.get_array_module(weight.int_repr())
        w_q = weight.int_repr().astype(xp.int8)
        self.register_buffer("weight", Tensor._wrap(w_q))
        self.register_buffer("weight_scale", Tensor._wrap(
            xp.broadcast_to(weight.scale.reshape(-1), (self.out_features,)).astype(xp.float32)))
        self.register_buffer("weight_row_sums", Tensor._wrap(w_q.astype(xp.int32).sum(axis=1)))
        self.register_buffer("bias", None if bias is None else Tensor._wrap(
            xp.asarray(bias.data if isinstance(bias, Tensor) else bias, dtype=xp.float32)))

    @classmethod
    def from_float(cls, linear: Module, bits: int = 8, per_channel: bool = False) -> DynamicQuantizedLinear:
        spec = QuantSpec(bits=bits, signed=True, symmetric=True, narrow_range=True, ch_axis=0 if per_channel else None)
        return cls(QuantizedTensor.from_float(linear.weight, spec), linear.bias, bits)

    def forward(self, x: Tensor) -> Tensor:
        data = x.data if isinstance(x, Tensor) else x
        xp = backend.get_array_module(data)
        check_features("DynamicQuantizedLinear", tuple(data.shape), self.in_features)
        batch = data.shape[:-1]
        rows = data.reshape(-1, self.in_features)
        s1, z1 = calculate_qparams(rows.min(), rows.max(), self.activation_spec)
        q = quantize_int8(rows, s1, z1, self.activation_spec.qmin, self.activation_spec.qmax)
        acc = int8_matmul(q, self.weight.data) - z1 * self.weight_row_sums.data
        y = acc.astype(xp.float32) * (s1 * self.weight_scale.data)
        if self.bias is not None:
            y += self.bias.data
        return Tensor._wrap(y.reshape(batch + (self.out_features,)))

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8 weights, dynamic int8 inputs"

