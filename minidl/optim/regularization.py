"""Regularization: L1 and L2 penalties as loss terms, and the proximal L1 step.

Three ways to pull weights towards zero, and how they relate (λ ≥ 0 the strength):

- **L2 penalty** ``loss + (λ/2) · l2_penalty(params)`` with l2_penalty = Σ θ² (= ‖θ‖²).
  Its gradient is λθ — exactly what an optimizer's ``weight_decay=λ`` adds to the gradient
  (coupled decay). Note the factor 2: Keras' ``L2(l2)`` adds l2·Σθ², whose gradient is
  2·l2·θ, so Keras ``l2`` = PyTorch ``weight_decay`` / 2.
- **Decoupled weight decay** (``AdamW``): θ ← θ − lr·λθ outside the adaptive scaling. For
  plain SGD it is the same as L2; for Adam it is not (see :func:`minidl.optim.rules.adamw`).
- **L1 penalty** ``loss + λ · l1_penalty(params)`` with l1_penalty = Σ |θ| (= ‖θ‖₁). Its
  (sub)gradient is λ·sign(θ), with sign(0) = 0. Gradient steps with it make weights jitter
  around zero but almost never land on it. The *proximal* step (:func:`soft_threshold`,
  :func:`add_proximal_l1`) handles the |θ| term exactly instead and gives exact zeros.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from minidl import backend
from minidl.engine.grad_mode import no_grad
from minidl.engine.tensor import Tensor


def _tensors(params: Tensor | Iterable[Tensor]) -> list[Tensor]:
    params = [params] if isinstance(params, Tensor) else list(params)
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"expected Tensors (e.g. model.parameters()), got {type(p).__name__}")
    if not params:
        raise ValueError("got no parameters (an empty iterable; was the generator already used?)")
    return params


def l2_penalty(params: Tensor | Iterable[Tensor]) -> Tensor:
    """‖θ‖² = Σ θ² over every element of every tensor (differentiable; gradient 2θ).

    ``loss + (λ/2) · l2_penalty(model.parameters())`` is what ``weight_decay=λ`` does.
    """
    total = None
    for p in _tensors(params):
        term = (p * p).sum()
        total = term if total is None else total + term
    return total


def l1_penalty(params: Tensor | Iterable[Tensor]) -> Tensor:
    """‖θ‖₁ = Σ |θ| over every element of every tensor (differentiable; subgradient sign(θ))."""
    total = None
    for p in _tensors(params):
        term = p.abs().sum()
        total = term if total is None else total + term
    return total


def soft_threshold(x: Any, threshold: float) -> Any:
    """The proximal operator of τ‖·‖₁:  S(x, τ) = sign(x) · max(|x| − τ, 0)   (an array).

    It solves argmin_z ½‖z − x‖² + τ‖z‖₁ exactly: every |x| ≤ τ becomes exactly 0, the
    rest move towards 0 by τ. One proximal gradient step (ISTA) for loss + λ‖θ‖₁ is a
    gradient step on the loss followed by θ ← S(θ, lr·λ).
    """
    if not threshold >= 0:
        raise ValueError(f"threshold must be >= 0 (got {threshold})")
    xp = backend.get_array_module(x)
    return xp.sign(x) * xp.maximum(xp.abs(x) - float(threshold), 0)


def proximal_l1_(params: Tensor | Iterable[Tensor], threshold: float) -> None:
    """θ ← S(θ, τ) for every parameter, in place (see :func:`soft_threshold`)."""
    with no_grad():
        for p in _tensors(params):
            p.data[...] = soft_threshold(p.data, threshold)


def add_proximal_l1(optimizer: Any, l1: float, params: Iterable[Tensor] | None = None) -> Any:
    """Make ``optimizer`` minimize loss + l1·‖θ‖₁ by proximal steps: after every ``step()``,
    θ ← S(θ, lr·l1) with each parameter group's current lr (so schedules are followed).

    With plain :class:`~minidl.optim.SGD` (no momentum) this is exactly proximal gradient
    descent (ISTA). With other optimizers it is the common heuristic of thresholding after
    each step. ``params``
    limits it to some parameters (e.g. weights, not biases). Returns the hook's handle:
    ``handle.remove()`` stops it.
    """
    if not l1 >= 0:
        raise ValueError(f"l1 must be >= 0 (got {l1})")
    chosen = None if params is None else {id(p) for p in _tensors(params)}

    def threshold_after_step(opt: Any) -> None:
        for group in opt.param_groups:
            ps = [p for p in group["params"] if chosen is None or id(p) in chosen]
            if ps:
                proximal_l1_(ps, float(group["lr"]) * float(l1))

    return optimizer.register_step_post_hook(threshold_after_step)
