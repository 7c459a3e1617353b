"""The integer-only model as a whole: an MLP's layers fused into one call.

Layer by layer, an integer MLP at batch 1 spends most of its time in Python: every module
call, check and small array costs microseconds around a GEMV that takes ten. Fused,

    y = dequantize(layer_L(… layer_1(quantize(x)) …)),   layer_l(q) = requantize(q W_lᵀ + bias_l)

runs in one Numba call (:func:`minidl.kernels.int8.int8_mlp`) with the same integers: each
piece is the formula of its own module — :func:`~minidl.compress.quantize.quantize.quantize_affine`,
:func:`~minidl.kernels.int8.requantize_reference` (its clamp at z is the fused ReLU),
:func:`~minidl.compress.quantize.quantize.dequantize_affine` — and :func:`integer_mlp_reference`,
the unfused composition of those references, is what the fused loop must equal bit for bit.
:class:`QuantizedSequential` (what :func:`~minidl.compress.quantize.convert` returns) takes the
fused call when its layers form such an MLP and runs them one by one otherwise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minidl.compress.quantize.qlinear import DeQuantize, Quantize, QuantizedFlatten, QuantizedLinear
from minidl.compress.quantize.quantize import dequantize_affine, quantize_affine
from minidl.engine.tensor import Tensor
from minidl.kernels import dispatch
from minidl.kernels import int8 as int8_kernels
from minidl.kernels.int8 import IntegerMLP
from minidl.nn.container import Sequential

_FLOAT32 = np.dtype("float32")


def integer_mlp_reference(x: Any, p: IntegerMLP) -> Any:
    """y = dequantize(layer_L(… layer_1(quantize(x)) …)) for float32 x of shape (n, K₀): the unfused path.

    quantize: q = clamp(round(x/s) + z, qmin, qmax) (:func:`quantize_affine`, per tensor);
    layer l: q ← clamp(z_l + round((q W_lᵀ + bias_l)·M_l), low_l, high_l) with low_l raised to z_l by a
    fused ReLU (:func:`~minidl.kernels.int8.int8_linear_reference`); dequantize: (q − z)·s
    (:func:`dequantize_affine`). ``p`` holds the layers' arrays (:class:`~minidl.kernels.int8.IntegerMLP`).
    """
    if x.ndim != 2 or x.shape[1] != p.in_features:
        raise ValueError(f"integer_mlp: x must have shape (n, {p.in_features}) (got {tuple(x.shape)})")
    q = quantize_affine(x, p.in_scale, p.in_zero, *p.in_range)
    for layer, w in enumerate(p.weights):
        z = int(p.zeros[layer])
        low = max(int(p.lows[layer]), z) if p.relu[layer] else int(p.lows[layer])
        q = int8_kernels.int8_linear_reference(q, w, p.biases[layer], p.multipliers[layer], p.shifts[layer], z,
                                               low, int(p.highs[layer]))
    return dequantize_affine(q, p.out_scale, p.out_zero)


@dispatch(integer_mlp_reference)
def integer_mlp(x: Any, p: IntegerMLP) -> Any:
    """:func:`integer_mlp_reference` by the fused loops of :func:`minidl.kernels.int8.int8_mlp` (NumPy
    arrays): one Numba call for small batches; for larger ones float32 BLAS products with the
    quantization and each requantization one Numba pass. Equal bit for bit."""
    return int8_kernels.int8_mlp(x, p)


class _Plan:
    """The modules of a fusable MLP and their arrays as :func:`integer_mlp` takes them.

    The arrays are the buffers themselves (a state_dict loaded in place is seen), and
    :meth:`arrays` rebuilds them when any buffer was replaced (``model.to(...)`` does that).
    """

    __slots__ = ("quantize", "flatten", "linears", "in_features", "out_features", "_pairs", "_arrays")

    def __init__(self, quantize: Quantize, flatten: QuantizedFlatten | None, linears: list[QuantizedLinear]) -> None:
        self.quantize, self.flatten, self.linears = quantize, flatten, linears
        self.in_features, self.out_features = linears[0].in_features, linears[-1].out_features
        self._pairs: tuple = ()
        self._arrays: IntegerMLP | None = None

    def arrays(self) -> IntegerMLP:
        for t, a in self._pairs:
            if t.data is not a:
                break
        else:
            if self._arrays is not None:
                return self._arrays
        q, linears = self.quantize, self.linears
        buffers = [q.scale, q.zero_point]
        for m in linears:
            buffers += [m.weight, m.bias_folded, m.multiplier, m.shift, m.zero_point, m.scale]
        self._pairs = tuple((t, t.data) for t in buffers)
        last = linears[-1]
        self._arrays = IntegerMLP(
            q.scale.data, q.zero_point.data, (q.qmin, q.qmax), [m.weight.data for m in linears],
            [m.bias_folded.data for m in linears], [m.multiplier.data for m in linears],
            [m.shift.data for m in linears], [m.zero_point.data for m in linears],
            np.array([m.relu for m in linears], dtype=np.bool_),  # host: one flag per layer
            np.array([-(1 << (m.bits - 1)) for m in linears], dtype=np.int64),  # host
            np.array([(1 << (m.bits - 1)) - 1 for m in linears], dtype=np.int64),  # host
            last.scale.data, last.zero_point.data)
        return self._arrays


def _fusable(modules: tuple) -> _Plan | None:
    """A plan when ``modules`` are Quantize → [QuantizedFlatten] → QuantizedLinear … → DeQuantize, chained
    with matching (s, z); None for anything else (which runs layer by layer, with that path's errors)."""
    if len(modules) < 3 or type(modules[0]) is not Quantize or type(modules[-1]) is not DeQuantize:
        return None
    quantize, middle = modules[0], list(modules[1:-1])
    flatten = middle.pop(0) if middle and type(middle[0]) is QuantizedFlatten else None
    if not quantize.signed or quantize.bits > 8 or not middle \
            or any(type(m) is not QuantizedLinear for m in middle):
        return None
    scale, zero = float(quantize.scale.data), int(quantize.zero_point.data)
    for m in middle:
        s_in = float(m.input_scale.data)
        if abs(scale - s_in) > 1e-6 * s_in or zero != int(m.input_zero_point.data):
            return None  # QuantizedLinear.input_levels raises the clear error on the layer-by-layer path
        scale, zero = float(m.scale.data), int(m.zero_point.data)
    return _Plan(quantize, flatten, middle)


class QuantizedSequential(Sequential):
    """The integer-only model :func:`~minidl.compress.quantize.convert` returns: a Sequential that runs
    an MLP in one fused call.

    When its layers are ``Quantize → [QuantizedFlatten] → QuantizedLinear … → DeQuantize``, no hook
    is registered on them and the input is float32, ``forward`` is :func:`integer_mlp` — the same
    integers as calling the layers one by one (tested bit for bit), without the Python between them.
    Anything else — a CNN, a hook (which must see every layer), float64 input — runs layer by
    layer, as a plain ``Sequential``. PyTorch's ``convert`` keeps the model's own container type;
    minidl returns this subclass so that the fusion is a property of the converted model rather
    than of a separate compile step.
    """

    def _plan(self) -> _Plan | None:
        modules = tuple(self._modules.values())
        cached = self.__dict__.get("_fused_plan")
        if cached is None or cached[0] != modules:  # layers replaced or appended: plan again
            cached = self.__dict__["_fused_plan"] = (modules, _fusable(modules))
        for m in modules:
            if m._forward_pre_hooks or m._forward_hooks:
                return None
        return cached[1]

    def forward(self, x: Any) -> Any:
        plan = self._plan()
        data = x.data if isinstance(x, Tensor) else x
        if plan is None or getattr(data, "dtype", None) != _FLOAT32 or data.ndim == 0:
            return super().forward(x)
        if plan.flatten is not None:
            start = plan.flatten.start_dim
            if data.ndim < start:
                return super().forward(x)
            data = data.reshape(data.shape[:start] + (-1,))
        if data.shape[-1] != plan.in_features:
            return super().forward(x)  # the layers' own error message
        if data.ndim == 2:  # (batch, features): no reshape either way
            return Tensor._wrap(integer_mlp(data, plan.arrays()))
        y = integer_mlp(data.reshape(-1, plan.in_features), plan.arrays())
        return Tensor._wrap(y.reshape(data.shape[:-1] + (plan.out_features,)))


def is_fused(model: Any) -> bool:
    """True when ``model`` runs as one fused integer MLP (see :class:`QuantizedSequential`)."""
    return isinstance(model, QuantizedSequential) and model._plan() is not None


__all__ = ["integer_mlp", "integer_mlp_reference", "QuantizedSequential", "is_fused"]
