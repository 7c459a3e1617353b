"""Training with a large global batch: the learning-rate rule and gradient compression with error feedback.

**Linear scaling rule** (Goyal et al. 2017, "Accurate, Large Minibatch SGD"): when the batch
grows k-fold, multiply the learning rate by k,

    lr(B) = lr_base · B / B_base,

because one step on a k-times larger batch should move the weights about as far as k small
steps did. It breaks down early in training, when the weights change fast, so the rate is
ramped up over the first steps ("warm-up", e.g. :class:`minidl.optim.lr_scheduler.LinearLR`).

**Error feedback** (Seide et al. 2014; Karimireddy et al. 2019): a worker that sends only a
compressed gradient C(·) (int8 levels, the top-k entries) keeps what it did not send and adds
it to the next gradient, so nothing is lost, only delayed:

    p = g + e,   sent = C(p),   e ← p − sent.
"""

from __future__ import annotations

from typing import Any, Callable


def linear_scaling_lr(base_lr: float, batch_size: int, base_batch_size: int) -> float:
    """lr = base_lr · batch_size / base_batch_size (the linear scaling rule)."""
    if base_lr <= 0 or batch_size <= 0 or base_batch_size <= 0:
        raise ValueError(f"base_lr, batch_size and base_batch_size must be > 0 "
                         f"(got {base_lr}, {batch_size}, {base_batch_size})")
    return base_lr * batch_size / base_batch_size


def error_feedback_step(grad: Any, residual: Any, compress: Callable[[Any], Any]) -> tuple[Any, Any]:
    """(sent, new residual): p = g + e, sent = C(p), e' = p − sent. ``compress`` returns C(p) densely."""
    p = grad + residual
    sent = compress(p)
    return sent, p - sent
