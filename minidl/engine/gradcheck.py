"""Checking gradients against central differences (``torch.autograd.gradcheck``'s idea).

For a function f of tensors and a random output weighting v, the engine's gradient of
L = Σ v ⊙ f(x) must match the central difference

    ∂L/∂xᵢ ≈ (L(x + h·eᵢ) − L(x − h·eᵢ)) / 2h,

whose error is O(h²). In float64 with h = 1e-6 the two agree to about 1e-7 relative,
so a wrong backward rule cannot hide.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
from numpy.random import Generator

from minidl import backend
from minidl.engine.autograd import grad
from minidl.engine.tensor import Tensor


class GradcheckError(AssertionError):
    """The engine's gradient and the central difference disagree."""


def _weighted_sum(fn: Callable[..., Any], inputs: Sequence[Tensor], weights: list[Any] | None,
                  rng: Generator | None = None) -> tuple[Tensor, list[Any]]:
    """Σ weights ⊙ fn(inputs) over fn's float outputs; random N(0, 1) weights when none are given."""
    out = fn(*inputs)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    outs = [o for o in outs if isinstance(o, Tensor) and o.dtype.kind == "f"]
    if weights is None:
        rng = rng or np.random.default_rng(0)  # host: weights are drawn on the host
        weights = []
        for o in outs:
            xp = backend.get_array_module(o.data)
            w = rng.standard_normal(o.shape)
            weights.append(w if xp is np else xp.asarray(w))
    total = None
    for o, w in zip(outs, weights):
        term = (o * Tensor._wrap(w.astype(o.dtype))).sum()
        total = term if total is None else total + term
    return total, weights


def numerical_gradients(fn: Callable[..., Any], inputs: Sequence[Tensor], weights: list[Any],
                        eps: float = 1e-6) -> list[np.ndarray]:
    """Central differences of Σ weights ⊙ fn(inputs) with respect to each input."""
    grads = []
    for x in inputs:
        g = np.zeros(x.shape)  # host: the check works on the host
        for i in np.ndindex(*x.shape):  # element by element, so strided inputs stay strided
            old = x.data[i].item()
            x.data[i] = old + eps
            plus = _weighted_sum(fn, inputs, weights)[0].item()
            x.data[i] = old - eps
            minus = _weighted_sum(fn, inputs, weights)[0].item()
            x.data[i] = old
            g[i] = (plus - minus) / (2 * eps)
        grads.append(g)
    return grads


def gradcheck(fn: Callable[..., Any], inputs: Sequence[Tensor], *, eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-4, seed: int = 0) -> bool:
    """True if the gradients of ``fn`` at ``inputs`` match central differences; else raise.

    ``inputs`` must be float64 Tensors with ``requires_grad=True`` (float32 is too coarse
    for finite differences). ``fn`` returns a Tensor (or a tuple of them).
    """
    for i, x in enumerate(inputs):
        if not isinstance(x, Tensor) or x.dtype != np.float64:
            raise TypeError(f"gradcheck: inputs[{i}] must be a float64 Tensor "
                            f"(got {getattr(x, 'dtype', type(x).__name__)})")
        if not x.requires_grad:
            raise ValueError(f"gradcheck: inputs[{i}] must have requires_grad=True")
        if not getattr(getattr(x.data, "flags", None), "writeable", True):
            x.data = x.data.copy()  # perturbed in place below
    rng = np.random.default_rng(seed)  # host
    total, weights = _weighted_sum(fn, inputs, None, rng)
    # An output that does not depend on the inputs (the gradient of a linear function, in a
    # second-derivative check) has zero gradient.
    analytic = (grad(total, list(inputs), allow_unused=True) if total.requires_grad
                else [None] * len(inputs))
    numeric = numerical_gradients(fn, inputs, weights, eps)
    for i, (a, n) in enumerate(zip(analytic, numeric)):
        a_np = np.zeros_like(n) if a is None else backend.to_numpy(a.data)
        if not np.allclose(a_np, n, atol=atol, rtol=rtol):
            worst = np.unravel_index(np.argmax(np.abs(a_np - n)), n.shape) if n.size else ()
            raise GradcheckError(
                f"gradient of input {i} (shape {n.shape}) differs from central differences: "
                f"max |analytic − numeric| = {np.max(np.abs(a_np - n)):.3g} at {worst} "
                f"(analytic {a_np[worst]:.6g}, numeric {n[worst]:.6g})")
    return True


def gradgradcheck(fn: Callable[..., Any], inputs: Sequence[Tensor], **kwargs: Any) -> bool:
    """Check second derivatives: the gradient of (∇ Σ v⊙fn) · u, against central differences."""
    rng = np.random.default_rng(kwargs.pop("seed", 1))  # host
    us = [rng.standard_normal(x.shape) for x in inputs]

    def directional(*xs: Tensor) -> Tensor:
        t, _ = _weighted_sum(fn, xs, None, np.random.default_rng(1))  # host
        gs = grad(t, list(xs), create_graph=True, allow_unused=True)
        acc = None
        for g, u in zip(gs, us):
            if g is not None:
                xp = backend.get_array_module(g.data)
                term = (g * Tensor._wrap(u if xp is np else xp.asarray(u))).sum()
                acc = term if acc is None else acc + term
        return acc

    return gradcheck(directional, inputs, **kwargs)
