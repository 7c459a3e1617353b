"""Functions of ``minidl.nn`` without state, as ``torch.nn.functional``.

- activations: ``relu``, ``leaky_relu``, ``tanh``, ``sigmoid``, ``softplus``, ``softmax``,
  ``log_softmax`` (engine ops in ``minidl.engine.ops``, except ``softplus`` defined here)
- layers: ``linear``, ``conv2d``, ``max_pool2d``, ``avg_pool2d``, ``dropout``, ``one_hot``
- losses (``minidl.nn.losses``): ``cross_entropy``, ``nll_loss``, ``binary_cross_entropy``,
  ``binary_cross_entropy_with_logits``, ``mse_loss``, ``l1_loss``, ``smooth_l1_loss``,
  ``huber_loss``, ``kl_div``
"""

from __future__ import annotations

from typing import Any

from minidl import backend, random
from minidl.engine.function import Function
from minidl.engine.ops import (
    exp,
    leaky_relu,
    linear,
    log_softmax,
    mul,
    relu,
    sigmoid,
    softmax,
    tanh,
    where,
)
from minidl.engine.ops.conv import conv2d
from minidl.engine.ops.pool import avg_pool2d, max_pool2d
from minidl.engine.tensor import Tensor
from minidl.nn.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)

__all__ = [
    # activations
    "relu", "leaky_relu", "tanh", "sigmoid", "softplus", "softmax", "log_softmax",
    # layers
    "linear", "conv2d", "max_pool2d", "avg_pool2d", "dropout", "one_hot",
    # losses
    "cross_entropy", "nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "kl_div",
]


class Softplus(Function):
    """y = log(1 + e^{βx})/β, and y = x where βx > threshold;   ∂y/∂x = σ(βx), 1 where βx > threshold

    PyTorch's formula, branch included: past the threshold the function is x within
    float precision. The other branch is evaluated at 0 there, so e^{βx} never overflows.
    """

    def __init__(self, beta: float, threshold: float) -> None:
        self.beta, self.threshold = beta, threshold

    def forward(self, x: Any) -> Any:
        xp = backend.get_array_module(x)
        bx = x * self.beta
        linear_part = bx > self.threshold
        return xp.where(linear_part, x, xp.log1p(xp.exp(xp.where(linear_part, 0, bx))) / self.beta)

    def backward(self, gy: Any, x: Any) -> Any:
        bx = x * self.beta
        linear_part = bx > self.threshold
        z = exp(where(linear_part, 0.0, bx))
        return where(linear_part, gy, gy * (z / (z + 1)))  # z/(z + 1) = σ(βx), as PyTorch writes it


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:  # noqa: A002
    """Softplus, a smooth ReLU: log(1 + e^{βx})/β, reverting to x where βx > ``threshold``.

    As ``torch.nn.functional.softplus`` (same defaults, same linear branch).
    """
    if not isinstance(input, Tensor):
        input = Tensor(input)  # noqa: A001
    return Softplus(beta, threshold)(input)


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout: zero each element with probability p, scale the rest by 1/(1 − p).

    The scaling keeps E[output] = input, so nothing changes at evaluation time.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability p must be in [0, 1] (got {p})")
    if not training or p == 0.0:
        return x
    xp = backend.get_array_module(x.data)
    if p == 1.0:
        return mul(x, Tensor._wrap(xp.zeros(x.shape, dtype=x.dtype)))
    keep = random.uniform(x.shape, 0.0, 1.0, x.dtype, xp) >= p
    return mul(x, Tensor._wrap(keep.astype(x.dtype) * (1.0 / (1.0 - p))))


def one_hot(target: Any, num_classes: int = -1) -> Tensor:
    """Integer class indices → an int64 one-hot array with a new last axis (PyTorch's ``one_hot``)."""
    t = target.data if isinstance(target, Tensor) else target
    xp = backend.get_array_module(t)
    t = xp.asarray(t)
    if t.dtype.kind not in "iu":
        raise TypeError(f"one_hot needs integer class indices (got dtype {t.dtype})")
    if num_classes == -1:
        num_classes = int(t.max()) + 1 if t.size else 0
    if t.size and (int(t.min()) < 0 or int(t.max()) >= num_classes):
        raise IndexError(f"one_hot: class values must be in [0, {num_classes - 1}] "
                         f"(got {int(t.min())}..{int(t.max())})")
    return Tensor._wrap((t[..., None] == xp.arange(num_classes)).astype("int64"))
