"""What the gradient- and curvature-based criteria need, measured on data.

- :func:`average_gradients` — the mean gradient ḡ = E[∂L/∂w] and the mean magnitude
  E|∂L/∂w| over batches (gradient and Taylor criteria).
- :func:`hessian_vector_product` — Hv without forming H: differentiate g·v once more,
  using the engine's higher-order gradients (``minidl.grad(..., create_graph=True)``).
- :func:`hessian_diagonal` — h_kk for Optimal Brain Damage, by Hutchinson's estimator
  diag(H) = E_v[v ⊙ Hv] with random ±1 vectors v (exact in expectation, since
  E[v_j v_k] = 1 if j = k else 0), or exactly with one Hv per weight (tiny networks).
- :func:`hessian` — the full Hessian of one tensor (Optimal Brain Surgeon on a small layer).

Every function takes the same description of "the loss": a ``model``, a ``loss_fn``
(``loss_fn(model(x), y)``), an iterable of ``(x, y)`` batches, and the ``(module, name)``
pairs to differentiate with respect to. Pruned tensors are differentiated through
their mask (with respect to ``<name>_orig``). Gradients are computed with
``minidl.grad``: the parameters' ``.grad`` are left alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from numpy.random import Generator

from minidl import backend, random
from minidl.compress.prune.masks import learnable
from minidl.engine.autograd import grad
from minidl.engine.ops import sum as tsum
from minidl.engine.tensor import Tensor
from minidl.nn.module import Module

Target = tuple[Module, str]
Batch = tuple[Any, Any]


def _leaves(targets: Sequence[Target]) -> list[Tensor]:
    if not targets:
        raise ValueError("no (module, name) pairs to differentiate with respect to")
    return [learnable(m, n) for m, n in targets]


def _batch_loss(model: Module, loss_fn: Callable[..., Tensor], batch: Batch) -> Tensor:
    x, y = batch
    loss = loss_fn(model(x), y)
    if loss.numel() != 1:
        raise ValueError(f"loss_fn must return a scalar loss (got shape {loss.shape})")
    return loss


def average_gradients(model: Module, loss_fn: Callable[..., Tensor], batches: Iterable[Batch],
                      targets: Sequence[Target]) -> tuple[dict[Target, Any], dict[Target, Any]]:
    """(ḡ, E|g|) per target: the gradient of each batch's loss, averaged over the batches.

    ḡ is the gradient of the average loss (for Taylor: ΔL ≈ −w·ḡ); E|g| averages
    magnitudes, so gradients of opposite sign in different batches do not cancel.
    """
    leaves = _leaves(targets)
    total = [None] * len(leaves)
    total_abs = [None] * len(leaves)
    count = 0
    for batch in batches:
        gs = grad(_batch_loss(model, loss_fn, batch), leaves)
        for i, g in enumerate(gs):
            xp = backend.get_array_module(g.data)
            total[i] = g.data.copy() if total[i] is None else total[i] + g.data
            total_abs[i] = xp.abs(g.data) if total_abs[i] is None else total_abs[i] + xp.abs(g.data)
        count += 1
    if count == 0:
        raise ValueError("average_gradients: batches yielded nothing")
    mean = {t: g / count for t, g in zip(targets, total)}
    mean_abs = {t: g / count for t, g in zip(targets, total_abs)}
    return mean, mean_abs


def hessian_vector_product(loss: Tensor, leaves: Sequence[Tensor], vectors: Sequence[Any],
                           gradients: Sequence[Tensor] | None = None) -> list[Any]:
    """Hv = ∂(g·v)/∂w with g = ∂L/∂w, for the blocks ``vectors`` (one array per leaf).

    Pass ``gradients`` (from ``grad(loss, leaves, create_graph=True)``) to reuse them
    across many v; the graph is kept for further products.
    """
    if gradients is None:
        gradients = grad(loss, leaves, create_graph=True)
    dot = None
    for g, v in zip(gradients, vectors):
        term = tsum(g * Tensor._wrap(v))
        dot = term if dot is None else dot + term
    hv = grad(dot, leaves, retain_graph=True, allow_unused=True)
    return [backend.get_array_module(v).zeros_like(v) if h is None else h.data
            for h, v in zip(hv, vectors)]


def rademacher(shape: tuple[int, ...], dtype: Any, xp: Any, generator: Generator) -> Any:
    """A random vector of ±1 entries (each sign with probability ½): Hutchinson's probe."""
    signs = generator.integers(0, 2, size=shape).astype(dtype) * 2 - 1
    return signs if xp is np else xp.asarray(signs)


def hessian_diagonal(model: Module, loss_fn: Callable[..., Tensor], batches: Iterable[Batch],
                     targets: Sequence[Target], method: str = "hutchinson", samples: int = 16,
                     generator: Generator | None = None,
                     probes: Iterable[Sequence[Any]] | None = None) -> dict[Target, Any]:
    """diag(H) of the loss per target, averaged over the batches.

    ``method="hutchinson"``: h ≈ (1/S) Σ_s v_s ⊙ H v_s with S = ``samples`` random ±1
    vectors per batch, drawn from minidl's seeded generator unless ``generator`` is given
    (or the given ``probes``: an iterable of lists of arrays, one per target, on the
    host or the weights' device). ``method="exact"``: h_kk = e_kᵀ H e_k with one
    Hessian-vector product per weight — exact, and affordable only for tiny networks.
    """
    if method not in ("hutchinson", "exact"):
        raise ValueError(f"method must be 'hutchinson' or 'exact' (got {method!r})")
    if method == "hutchinson" and probes is None and (not isinstance(samples, int) or samples < 1):
        raise ValueError(f"samples must be a positive int (got {samples!r})")
    leaves = _leaves(targets)
    gen = random.host_rng(generator)
    xp = backend.get_array_module(leaves[0].data)
    # probes given as host (NumPy) arrays move to where the weights live
    probe_list = None if probes is None else [[xp.asarray(v) for v in p] for p in probes]
    total = [xp.zeros(p.shape, dtype=p.dtype) for p in leaves]
    batches_seen = 0
    for batch in batches:
        loss = _batch_loss(model, loss_fn, batch)
        gs = grad(loss, leaves, create_graph=True)
        if method == "exact":
            for i, p in enumerate(leaves):
                flat = total[i].reshape(-1)
                for k in range(p.numel()):
                    e = [xp.zeros(q.shape, dtype=q.dtype) for q in leaves]
                    e[i].reshape(-1)[k] = 1
                    flat[k] += hessian_vector_product(loss, leaves, e, gs)[i].reshape(-1)[k]
        else:
            vs_all = probe_list if probe_list is not None else [
                [rademacher(p.shape, p.dtype, xp, gen) for p in leaves] for _ in range(samples)]
            for vs in vs_all:
                hv = hessian_vector_product(loss, leaves, vs, gs)
                for i in range(len(leaves)):
                    total[i] += (vs[i] * hv[i]) / len(vs_all)
        batches_seen += 1
    if batches_seen == 0:
        raise ValueError("hessian_diagonal: batches yielded nothing")
    return {t: h / batches_seen for t, h in zip(targets, total)}


def hessian(model: Module, loss_fn: Callable[..., Tensor], batches: Iterable[Batch], target: Target) -> Any:
    """The full Hessian ∂²L/∂w∂w of one tensor (flattened, shape (n, n)), averaged over batches.

    n Hessian-vector products per batch: for a small layer (Optimal Brain Surgeon).
    """
    (leaf,) = _leaves([target])
    n = leaf.numel()
    xp = backend.get_array_module(leaf.data)
    H = xp.zeros((n, n), dtype=leaf.dtype)
    batches_seen = 0
    for batch in batches:
        loss = _batch_loss(model, loss_fn, batch)
        gs = grad(loss, [leaf], create_graph=True)
        for k in range(n):
            e = xp.zeros(leaf.shape, dtype=leaf.dtype)
            e.reshape(-1)[k] = 1
            H[:, k] += hessian_vector_product(loss, [leaf], [e], gs)[0].reshape(-1)
        batches_seen += 1
    if batches_seen == 0:
        raise ValueError("hessian: batches yielded nothing")
    H = H / batches_seen
    return (H + H.T) / 2  # symmetric up to rounding; make it exactly so
