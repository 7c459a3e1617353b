"""Providers: the places where minidl computes an op's constants from the data in plain Python.

An op's ``forward`` is recorded and replayed, but a few ops receive constants that Python
computed from this call's data before the op ran. Baked into the recording, they would be
stale on the next call, so each is swapped, during capture only, for a version that records
the computation as a ``provider`` step (recomputed at every replay) and otherwise does
exactly what the original does:

- cross-entropy's target coefficients ``a`` (from the targets):
  :func:`minidl.nn.losses.cross_entropy.target_coefficients`;
- a fake-quantizer's observer and its (scale, zero point) (from the activations):
  :class:`minidl.compress.quantize.fake_quant.FakeQuantize`;
- dropout's random mask (a fresh draw per call, from the same random stream as eager):
  :func:`minidl.nn.functional.dropout`.

Any other array that Python computes from the data between ops is baked in at capture —
the same limit as CUDA graphs and tinygrad's TinyJit. ``explain()`` lists every constant.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from minidl import backend, random
from minidl.compress.quantize import fake_quant
from minidl.engine.ops import mul
from minidl.engine.tensor import Tensor
from minidl.nn import functional
from minidl.nn.losses._reduction import values

# the module, not the function of the same name that minidl.nn.losses exports
cross_entropy = importlib.import_module("minidl.nn.losses.cross_entropy")


def _target_coefficients(tr: Any, original: Callable[..., Any]) -> Callable[..., Any]:
    def traced(input_shape: tuple[int, ...], target: Any, dtype: Any, **kwargs: Any) -> Any:
        if tr.suspended:
            return original(input_shape, target, dtype, **kwargs)

        def coefficients(t: Any) -> tuple[Any, Any]:
            a, row_sums = original(input_shape, t, dtype, **kwargs)
            if row_sums is None:  # SoftmaxCrossEntropy would compute it from a: do it here, per call
                row_sums = a.sum(axis=1, keepdims=True)
            return a, row_sums

        return tr.provide(coefficients, [values(target)], "target_coefficients")

    return traced


def _fake_quantize_forward(tr: Any, original: Callable[..., Any]) -> Callable[..., Any]:
    def forward(self: Any, x: Tensor) -> Tensor:
        if tr.suspended or not self.observer_enabled:
            return original(self, x)

        def observe(data: Any) -> tuple[Any, Any]:  # FakeQuantize.forward's observer half
            if self.observe_current_only:
                self.activation_post_process.reset()
            self.activation_post_process(Tensor._wrap(data))
            s, z = self.calculate_qparams()
            self.scale.data, self.zero_point.data = s, z
            xp = backend.get_array_module(data)
            return xp.asarray(s, dtype=xp.float32), xp.asarray(z)  # what fake_quantize makes of them

        s, z = tr.provide(observe, [x.data], "observe_scale_zero_point")
        if not self.fake_quant_enabled:
            return x
        out = fake_quant.fake_quantize(x, s, z, self.quant_min, self.quant_max, self.ch_axis)
        tr.bind_last_forward(scale=s, zero_point=z)
        return out

    return forward


def _dropout(tr: Any, original: Callable[..., Any]) -> Callable[..., Any]:
    def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
        if tr.suspended or not training or p in (0.0, 1.0):
            return original(x, p, training)
        xp = backend.get_array_module(x.data)
        shape, dtype = x.shape, x.dtype

        def mask() -> Any:  # the mask functional.dropout draws, from the same random stream
            return (random.uniform(shape, 0.0, 1.0, dtype, xp) >= p).astype(dtype) * (1.0 / (1.0 - p))

        return mul(x, Tensor._wrap(tr.provide(mask, [], "dropout_mask")))

    return dropout


#: (owner, attribute, make(tracer, original)): what :class:`~minidl.compiler.capture.capturing` swaps.
SWITCHES: list[tuple[Any, str, Callable[[Any, Any], Any]]] = [
    (cross_entropy, "target_coefficients", _target_coefficients),
    (fake_quant.FakeQuantize, "forward", _fake_quantize_forward),
    (functional, "dropout", _dropout),
]
