"""Functions of ``minidl.nn`` without state, as ``torch.nn.functional``: activations, linear,
dropout and the losses."""

from __future__ import annotations

from typing import Any

from minidl import backend, random
from minidl.engine.ops import (
    leaky_relu,
    linear,
    log_softmax,
    mul,
    relu,
    sigmoid,
    softmax,
    tanh,
)
from minidl.engine.tensor import Tensor
from minidl.nn.divergence import kl_div
from minidl.nn.losses import (
    binary_cross_entropy_with_logits,
    cross_entropy,
    l1_loss,
    mse_loss,
    nll_loss,
)

__all__ = [
    "binary_cross_entropy_with_logits", "cross_entropy", "dropout", "l1_loss", "leaky_relu",
    "linear", "log_softmax", "mse_loss", "nll_loss", "one_hot", "relu", "sigmoid", "softmax",
    "tanh",
]
__all__ += ["kl_div"]


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

# Convolution and pooling (engine ops in minidl.engine.ops.conv and .pool).
from minidl.engine.ops.conv import conv2d  # noqa: E402
from minidl.engine.ops.pool import avg_pool2d, max_pool2d  # noqa: E402

__all__ += ["avg_pool2d", "conv2d", "max_pool2d"]
