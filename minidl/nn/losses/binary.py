"""Binary cross-entropy, on probabilities (``binary_cross_entropy``) and on logits
(``binary_cross_entropy_with_logits``), with PyTorch's arguments and reductions."""

from __future__ import annotations

from typing import Any

import numpy as np

from minidl import backend
from minidl.engine.function import Function
from minidl.engine.ops._args import as_tensor
from minidl.engine.ops.elementwise import maximum, sigmoid
from minidl.engine.tensor import Tensor
from minidl.nn.losses._reduction import check_reduction, reduce, values


def _target_like(input: Tensor, target: Any, fn: str) -> Any:  # noqa: A002
    """The target's array, checked to sit on input's device with input's shape, in input's dtype."""
    y = values(target)
    backend.check_same_device((input.data, y), f"{fn} (input and target)")
    if tuple(getattr(y, "shape", ())) != input.shape:
        raise ValueError(f"{fn}: target shape {tuple(getattr(y, 'shape', ()))} must equal input shape {input.shape}")
    return y.astype(input.dtype, copy=False)


class BinaryCrossEntropyWithLogits(Function):
    """ℓ = (1 − y)·x + c·softplus(−x),  c = 1 + (pos_weight − 1)·y;   ∂ℓ/∂x = c·σ(x) − pos_weight·y

    softplus(−x) = log(1 + e⁻ˣ) is computed as max(−x, 0) + log1p(e^{−|x|}): no overflow
    for logits of ±1e4, and the gradient is exact at x = 0 (σ(0) − y), where a composition
    of relu and abs would give a wrong subgradient.
    """

    def __init__(self, y: Any, pos_weight: Any) -> None:
        self.y, self.pos_weight = y, pos_weight

    def forward(self, x: Any) -> Any:
        xp = backend.get_array_module(x)
        softplus_neg = xp.maximum(-x, 0) + xp.log1p(xp.exp(-xp.abs(x)))
        c = 1 if self.pos_weight is None else 1 + (self.pos_weight - 1) * self.y
        return (1 - self.y) * x + c * softplus_neg

    def backward(self, gl: Any, x: Any) -> Any:
        y, pw = self.y, self.pos_weight
        if pw is None:
            return gl * (sigmoid(x) - y)
        return gl * ((1 + (pw - 1) * y) * sigmoid(x) - pw * y)


def binary_cross_entropy_with_logits(input: Tensor, target: Any, weight: Any = None,  # noqa: A002
                                     reduction: str = "mean", pos_weight: Any = None) -> Tensor:
    """Binary cross-entropy of logits against targets in [0, 1], as PyTorch's (stable, fused)."""
    check_reduction(reduction)
    input = as_tensor(input)  # noqa: A001
    y = _target_like(input, target, "binary_cross_entropy_with_logits")
    pw = None if pos_weight is None else values(pos_weight).astype(input.dtype, copy=False)
    loss = BinaryCrossEntropyWithLogits(y, pw)(input)
    if weight is not None:
        loss = loss * Tensor._wrap(values(weight).astype(input.dtype, copy=False))
    return reduce(loss, reduction)


class BinaryCrossEntropy(Function):
    """ℓ = −[y·max(log x, −100) + (1 − y)·max(log(1 − x), −100)];   ∂ℓ/∂x = (x − y) / max(x(1 − x), 1e-12)

    PyTorch's forward and backward, clamps included: the log is floored at −100 so that
    x = 0 or 1 gives a finite loss, and the gradient's denominator at 1e-12 (PyTorch's
    ``EPSILON``) so that it stays finite there. The gradient is PyTorch's formula, not the
    derivative of the clamped loss: where the clamp is active (x < e⁻¹⁰⁰) the true slope is 0,
    PyTorch's (and minidl's) is (x − y)/1e-12, which keeps pushing x away from the wrong end.
    """

    def __init__(self, y: Any) -> None:
        self.y = y

    def forward(self, x: Any) -> Any:
        xp = backend.get_array_module(x)
        with np.errstate(divide="ignore"):  # log 0 = −∞, floored at −100 just below (host flag)
            log_x = xp.maximum(xp.log(x), -100)
            log_1mx = xp.maximum(xp.log1p(-x), -100)
        return (self.y - 1) * log_1mx - self.y * log_x

    def backward(self, gl: Any, x: Any) -> Any:
        return gl * (x - self.y) / maximum((1 - x) * x, 1e-12)


def binary_cross_entropy(input: Tensor, target: Any, weight: Any = None,  # noqa: A002
                         reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of probabilities ``input`` in [0, 1] against targets in [0, 1].

    ℓ = −w·[y·log x + (1 − y)·log(1 − x)], each log floored at −100 (see
    :class:`BinaryCrossEntropy`), then reduced. ``weight`` broadcasts to the input's shape.
    As ``torch.nn.functional.binary_cross_entropy``; on logits, prefer
    :func:`binary_cross_entropy_with_logits` (stable, and exact where σ(x) rounds to 0 or 1).
    The target is a constant here (PyTorch can differentiate it; minidl does not).
    """
    check_reduction(reduction)
    input = as_tensor(input)  # noqa: A001
    if input.dtype.kind != "f":
        raise TypeError(f"binary_cross_entropy: input must be floating point probabilities "
                        f"(got dtype {input.dtype})")
    y = _target_like(input, target, "binary_cross_entropy")
    x = input.data
    for name, a in (("input", x), ("target", y)):
        if a.size and not bool(((a >= 0) & (a <= 1)).all()):  # NaN fails too
            bad = a[~((a >= 0) & (a <= 1))].reshape(-1)[0]
            raise ValueError(f"binary_cross_entropy: every element of {name} must be in [0, 1] "
                             f"(got {float(bad):.6g}); for logits use binary_cross_entropy_with_logits")
    loss = BinaryCrossEntropy(y)(input)
    if weight is not None:
        w = values(weight).astype(input.dtype, copy=False)
        try:
            broadcast = np.broadcast_shapes(w.shape, input.shape)  # shapes only, no array
        except ValueError:
            broadcast = None
        if broadcast != input.shape:
            raise ValueError(f"binary_cross_entropy: weight of shape {w.shape} does not broadcast to the "
                             f"input's shape {input.shape}")
        loss = loss * Tensor._wrap(w)
    return reduce(loss, reduction)
