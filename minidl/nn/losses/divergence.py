"""The Kullback–Leibler divergence loss, with PyTorch's arguments and reductions.

``kl_div(input, target)`` takes ``input`` as **log**-probabilities (the model's
``log_softmax``) and ``target`` as probabilities (or log-probabilities with
``log_target=True``), and sums, elementwise,

    ℓ = target · (log target − input)            (0 where target = 0, as 0·log 0 = 0)

so that summing ℓ over one row gives KL(target ‖ exp(input)). The four reductions differ
in what they divide the total by:

    "sum"        Σ ℓ                     "batchmean"  Σ ℓ / B      (B = input.shape[0])
    "none"       ℓ (no reduction)        "mean"       Σ ℓ / (B·C)  (every element)

Only "batchmean" is the KL divergence per sample. "mean", PyTorch's default, is smaller
by the number of classes C — the bug behind many knowledge-distillation scripts whose
soft-target term silently weighs C times too little.
"""

from __future__ import annotations

import warnings
from typing import Any

from minidl import backend
from minidl.engine import ops
from minidl.engine.ops._args import as_tensor
from minidl.engine.tensor import Tensor

KL_REDUCTIONS = ("none", "batchmean", "sum", "mean")


def kl_div(input: Tensor, target: Any, *, reduction: str = "mean",  # noqa: A002
           log_target: bool = False) -> Tensor:
    """KL divergence loss: ℓ = target·(log target − input) elementwise, then reduced.

    ``input`` holds log-probabilities; ``target`` probabilities (or log-probabilities when
    ``log_target=True``, where ℓ = exp(target)·(target − input), which never evaluates
    log 0). Reductions as PyTorch's ``torch.nn.functional.kl_div``: ``"batchmean"``
    divides the sum by ``input.shape[0]`` (the batch size for (B, C) inputs — and, as in
    PyTorch, the length itself for a 1-D input), ``"mean"`` by the number of elements.

    Where minidl differs from PyTorch, and why:

    - ``reduction`` and ``log_target`` are keyword-only (PyTorch's third positional
      argument is the deprecated ``size_average``, which minidl does not have);
    - ``input`` and ``target`` must have the same shape (PyTorch broadcasts them, which
      hides a missing batch axis) and a negative probability target is a ValueError
      (PyTorch returns NaN);
    - the gradient with respect to a target entry that is exactly 0 is −∞ in exact
      arithmetic; PyTorch returns NaN there, minidl returns the finite −input (treating
      0·log 0 as the constant 0). Targets are usually constants, so this rarely matters.

    ``reduction="mean"`` warns, as PyTorch does: it is not the KL divergence.
    """
    if reduction not in KL_REDUCTIONS:
        raise ValueError(f"kl_div: reduction must be one of {KL_REDUCTIONS} (got {reduction!r})")
    input = as_tensor(input)  # noqa: A001
    target = as_tensor(target)
    if input.shape != target.shape:
        raise ValueError(f"kl_div: input shape {input.shape} and target shape {target.shape} differ "
                         "(both hold one distribution per row)")
    for name, t in (("input", input), ("target", target)):
        if t.dtype.kind != "f":
            raise TypeError(f"kl_div: {name} must be floating point (got dtype {t.dtype})")
    if reduction == "batchmean" and input.ndim == 0:
        raise ValueError("kl_div: reduction='batchmean' needs an input with a batch axis (got a 0-d input)")

    if log_target:
        pointwise = ops.exp(target) * (target - input)
    else:
        t = target.data
        xp = backend.get_array_module(t)
        if t.size and bool((t < 0).any()):
            raise ValueError(f"kl_div: target holds probabilities, which cannot be negative "
                             f"(min {float(t.min()):.4g}); pass log_target=True for log-probabilities")
        positive = t > 0
        if target.requires_grad:
            t_log_t = ops.where(positive, target * ops.log(ops.where(positive, target, 1.0)), 0.0)
        else:  # a constant target (the usual case): t·log t is a constant too
            safe_log = xp.log(xp.where(positive, t, 1))
            t_log_t = Tensor._wrap(xp.where(positive, t * safe_log, 0).astype(t.dtype))
        pointwise = t_log_t - target * input

    if reduction == "none":
        return pointwise
    if reduction == "sum":
        return ops.sum(pointwise)
    if reduction == "batchmean":
        return ops.sum(pointwise) / input.shape[0]
    warnings.warn("kl_div: reduction='mean' divides the sum by every element (batch size × number of "
                  "classes), which is not the KL divergence; reduction='batchmean' divides by the batch "
                  "size only and matches the math", UserWarning, stacklevel=2)
    return ops.mean(pointwise)
