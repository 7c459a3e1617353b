"""Gradient clipping, as ``torch.nn.utils``: ``clip_grad_norm_`` and ``clip_grad_value_``."""

from __future__ import annotations

import math
from collections.abc import Iterable

from minidl import backend
from minidl.engine.grad_mode import recorded_by_compile
from minidl.engine.tensor import Tensor


def _grads(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p.grad for p in params if p.grad is not None]


@recorded_by_compile
def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

    The norm is taken over all gradients as one vector,
    ‖g‖ₚ = (Σᵢ ‖gᵢ‖ₚᵖ)^(1/p) (``norm_type`` p; ``float("inf")`` for the max |g|); then every
    gradient is multiplied by min(1, max_norm / (‖g‖ₚ + 1e-6)) — the direction is kept, only
    the length shrinks. Returns the norm before clipping (a 0-d Tensor), as PyTorch.

    A non-finite norm is returned as is and the gradients become NaN, unless
    ``error_if_nonfinite=True`` (then RuntimeError). Unlike PyTorch, a negative
    ``max_norm`` (which would flip the gradients) is a ValueError.
    """
    if not max_norm >= 0:
        raise ValueError(f"max_norm must be >= 0 (got {max_norm})")
    norm_type = float(norm_type)
    if not norm_type > 0:
        raise ValueError(f"norm_type must be > 0 or inf (got {norm_type})")
    grads = _grads(parameters)
    if not grads:
        return Tensor(0.0)
    xp = backend.get_array_module(grads[0].data)
    if math.isinf(norm_type):
        peaks = [float(xp.abs(g.data).max()) if g.data.size else 0.0 for g in grads]
        total = math.nan if any(math.isnan(v) for v in peaks) else max(peaks)
    elif norm_type == 2.0:
        total = math.sqrt(sum(float((g.data * g.data).sum()) for g in grads))
    else:
        total = sum(float((xp.abs(g.data) ** norm_type).sum()) for g in grads) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"the total norm of order {norm_type} of the gradients is {total}: "
                           "they contain inf or NaN")
    coef = float(max_norm) / (total + 1e-6)
    if not coef >= 1.0:  # also when NaN: the gradients become NaN, as in PyTorch
        for g in grads:
            g.data *= coef
    return Tensor(total, dtype=grads[0].dtype)


@recorded_by_compile
def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clamp every gradient element into [−clip_value, clip_value], in place.

    Unlike norm clipping this changes the gradient's direction. A negative ``clip_value``
    is a ValueError (PyTorch accepts it and clamps to an empty range).
    """
    if not clip_value >= 0:
        raise ValueError(f"clip_value must be >= 0 (got {clip_value})")
    for g in _grads(parameters):
        backend.get_array_module(g.data).clip(g.data, -float(clip_value), float(clip_value), out=g.data)
