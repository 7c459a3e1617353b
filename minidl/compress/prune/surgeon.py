"""Optimal Brain Surgeon (Hassibi & Stork 1993): prune a weight and let the others make up for it.

Near a minimum the loss is quadratic, L(w + δw) − L(w) ≈ ½ δwᵀ H δw. Removing weight q
means the constraint δw_q = −w_q; minimizing the quadratic under it gives

    δw = −(w_q / [H⁻¹]_qq) · H⁻¹ e_q          (the compensating update)
    L_q = w_q² / (2 [H⁻¹]_qq)                  (the loss increase: the saliency)

OBS removes the weight with the smallest L_q, applies δw, and repeats. After removing
q, the inverse Hessian of the weights that remain is the Schur complement

    H⁻¹ ← H⁻¹ − (H⁻¹ e_q)(e_qᵀ H⁻¹) / [H⁻¹]_qq

(row and column q become zero), so no second inversion is needed. Optimal Brain Damage
is the special case that ignores the off-diagonal terms (no update, L_k = ½ h_kk w_k²).
H costs n² memory and n Hessian-vector products: this is for a small layer.
"""

from __future__ import annotations

from typing import Any

from minidl import backend
from minidl.compress.prune.amount import Amount, count_to_prune, validate_amount
from minidl.compress.prune.criteria import obs_saliency
from minidl.compress.prune.masks import current_weight, get_mask, learnable, set_mask
from minidl.compress.prune.selection import lowest_first
from minidl.nn.module import Module


def _remove_from_inverse(h_inv: Any, q: int) -> Any:
    col = h_inv[:, q].copy()
    return h_inv - (col[:, None] * col[None, :]) / col[q]


def optimal_brain_surgeon(weight: Any, hessian: Any, amount: Amount, default_mask: Any = None,
                          damping: float = 0.0) -> tuple[Any, Any, list[float]]:
    """Prune ``amount`` alive entries of ``weight`` one at a time by OBS; returns (weights, mask, saliencies).

    ``hessian`` is the (n, n) Hessian of the loss with respect to ``weight.reshape(-1)``
    (see :func:`~minidl.compress.prune.estimates.hessian`); ``damping`` λ inverts
    H + λI instead, for a singular H. The returned weights include every compensating
    update and are exactly zero where the mask is False; ``saliencies`` are the L_q of
    the removed weights, in removal order. Computed in float64, returned in ``weight``'s dtype.
    """
    validate_amount(amount)
    xp = backend.get_array_module(weight)
    n = weight.size
    if tuple(hessian.shape) != (n, n):
        raise ValueError(f"hessian must have shape ({n}, {n}) for a weight of {n} entries "
                         f"(got {tuple(hessian.shape)})")
    if not damping >= 0:
        raise ValueError(f"damping must be >= 0 (got {damping})")
    w = weight.reshape(-1).astype("float64")
    keep = (xp.ones(n, dtype=bool) if default_mask is None
            else default_mask.reshape(-1).astype(bool, copy=True))
    h = hessian.astype("float64") + damping * xp.eye(n)
    try:
        h_inv = xp.linalg.inv(h)
    except Exception as e:  # numpy.linalg.LinAlgError, or CuPy's
        raise ValueError("the Hessian is singular: pass damping > 0 (e.g. 1e-4 · mean of its "
                         "diagonal)") from e
    for q in xp.flatnonzero(~keep).tolist():  # already pruned: fixed at zero, no update
        w[q] = 0.0
        h_inv = _remove_from_inverse(h_inv, q)
    k = count_to_prune(amount, int(keep.sum()))
    saliencies: list[float] = []
    for _ in range(k):
        alive = xp.flatnonzero(keep)
        scores = obs_saliency(w[alive], xp.diagonal(h_inv)[alive])
        q = int(alive[int(lowest_first(scores)[0])])
        saliencies.append(float(scores.min()))
        w = w - (w[q] / h_inv[q, q]) * h_inv[:, q]
        w[q] = 0.0  # exactly zero, not zero up to rounding
        h_inv = _remove_from_inverse(h_inv, q)
        keep[q] = False
    w[~keep] = 0.0
    return w.reshape(weight.shape).astype(weight.dtype), keep.reshape(weight.shape), saliencies


def obs_prune(module: Module, name: str, hessian: Any, amount: Amount, damping: float = 0.0) -> list[float]:
    """Prune ``module.<name>`` by Optimal Brain Surgeon and write the compensated weights back.

    The survivors' new values go into the same Parameter (``<name>_orig`` once pruned),
    and the mask is installed as by the other pruning functions. Returns the saliencies.
    """
    new_w, keep, saliencies = optimal_brain_surgeon(current_weight(module, name), hessian, amount,
                                                    get_mask(module, name), damping)
    param = learnable(module, name)
    param.data[...] = new_w
    set_mask(module, name, keep, f"optimal_brain_surgeon(amount={amount})")
    return saliencies
