"""Importance scores: how much each weight (or each slice of weights) matters.

Each criterion is one formula on arrays — the weights w and whatever else it needs
(a gradient, a Hessian diagonal) — returning scores of w's shape (one per slice for the
structured norm). High score = keep. Turning scores into a mask is a separate step
(:mod:`minidl.compress.prune.selection`), and estimating gradients and curvature is
another (:mod:`minidl.compress.prune.estimates`).

| criterion | score of weight k | idea |
|---|---|---|
| magnitude | \\|w_k\\| | small weights contribute little |
| random | u_k ~ U(0, 1) | the baseline every criterion must beat |
| Ln norm of a slice | (Σ \\|w\\|ⁿ)^(1/n) over the slice | whole neurons / filters |
| gradient | E\\|∂L/∂w_k\\| | the loss is insensitive to this weight |
| Taylor / SNIP | \\|w_k · ∂L/∂w_k\\| | first-order change of L when w_k → 0 |
| Optimal Brain Damage | ½ h_kk w_k² | second-order change of L when w_k → 0 (at a minimum) |
| Optimal Brain Surgeon | w_q² / (2 [H⁻¹]_qq) | change of L when w_q → 0 and the others adjust |
"""

from __future__ import annotations

from typing import Any

from numpy.random import Generator

from minidl import backend, random
from minidl.engine.tensor import Tensor


def _array(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _same_shape(name: str, a: Any, w: Any) -> None:
    if tuple(a.shape) != tuple(w.shape):
        raise ValueError(f"{name} must have the weight's shape {tuple(w.shape)} (got {tuple(a.shape)})")


def magnitude(weight: Any) -> Any:
    """s_k = |w_k|   (L1 magnitude; PyTorch's ``l1_unstructured``)."""
    w = _array(weight)
    return backend.get_array_module(w).abs(w)


def random_scores(weight: Any, generator: Generator | None = None) -> Any:
    """s_k ~ U(0, 1), independent of w (PyTorch's ``random_unstructured``), from minidl's seeded generator."""
    w = _array(weight)
    xp = backend.get_array_module(w)
    return random.uniform(w.shape, 0.0, 1.0, "float64", xp, generator)


def ln_norm(weight: Any, n: float | str, dim: int) -> Any:
    """s_j = ‖w[j]‖ₙ = (Σ |w|ⁿ)^(1/n) over every axis but ``dim``: one score per slice j.

    ``n`` is a positive number, ``float("inf")`` (max |w|) or ``"fro"`` (n = 2); with
    ``dim=0`` on a Linear or Conv2d weight the slices are output neurons / filters.
    """
    w = _array(weight)
    xp = backend.get_array_module(w)
    if w.ndim < 2:
        raise ValueError("structured pruning needs a weight with at least 2 dims "
                         f"(got shape {tuple(w.shape)})")
    if not -w.ndim <= dim < w.ndim:
        raise IndexError(f"dim={dim} is out of range for a weight with {w.ndim} dims")
    if n == "fro":
        n = 2
    if isinstance(n, str) or not n > 0:
        raise ValueError(f"n must be a positive number, inf or 'fro' (got {n!r})")
    other = tuple(d for d in range(w.ndim) if d != dim % w.ndim)
    a = xp.abs(w.astype("float64"))
    if n == float("inf"):
        return a.max(axis=other)
    return (a ** n).sum(axis=other) ** (1.0 / n)


def gradient_saliency(mean_abs_gradient: Any) -> Any:
    """s_k = E_batches |∂L/∂w_k|   (the gradient's magnitude, averaged over batches).

    Takes the averaged magnitude from :func:`minidl.compress.prune.estimates.average_gradients`.
    """
    g = _array(mean_abs_gradient)
    return backend.get_array_module(g).abs(g)


def taylor_saliency(weight: Any, gradient: Any) -> Any:
    """s_k = |w_k · ∂L/∂w_k|   (first-order Taylor; SNIP when measured at initialization).

    Setting w_k to 0 changes the loss by ΔL ≈ −w_k · ∂L/∂w_k, so this is |ΔL| to first order.
    Which gradient matters: at a minimum the mean gradient ḡ vanishes and |w·ḡ| ranks
    noise. Passing the batch-averaged magnitude E_b|g_b| (the second result of
    :func:`~minidl.compress.prune.estimates.average_gradients`) gives E_b|w·g_b| instead,
    the per-batch first-order change (Molchanov et al.), which works on trained models.
    """
    w, g = _array(weight), _array(gradient)
    _same_shape("gradient", g, w)
    return backend.get_array_module(w).abs(w * g)


def obd_saliency(weight: Any, hessian_diagonal: Any) -> Any:
    """s_k = ½ · h_kk · w_k²   (Optimal Brain Damage, LeCun, Denker & Solla 1990).

    At a minimum (∂L/∂w = 0), with the Hessian taken as diagonal, setting w_k to 0
    raises the loss by ΔL ≈ ½ h_kk w_k². h_kk comes from
    :func:`~minidl.compress.prune.estimates.hessian_diagonal`.
    """
    w, h = _array(weight), _array(hessian_diagonal)
    _same_shape("hessian_diagonal", h, w)
    return 0.5 * h * (w * w)


def obs_saliency(weight: Any, inverse_hessian_diagonal: Any) -> Any:
    """L_q = w_q² / (2 [H⁻¹]_qq)   (Optimal Brain Surgeon, Hassibi & Stork 1993).

    The loss increase when w_q is set to 0 and every other weight moves by the
    compensating update δw = −(w_q / [H⁻¹]_qq) · H⁻¹ e_q (see
    :func:`~minidl.compress.prune.surgeon.optimal_brain_surgeon`).
    """
    w, d = _array(weight), _array(inverse_hessian_diagonal)
    _same_shape("inverse_hessian_diagonal", d, w)
    if d.size and not bool((d > 0).all()):  # H positive definite ⇒ every [H⁻¹]_qq > 0; NaN fails too
        bad = d[~(d > 0)].reshape(-1)[0]
        raise ValueError(f"obs_saliency: inverse_hessian_diagonal must be > 0 everywhere, as for a positive "
                         f"definite Hessian (got {float(bad):.6g}); add damping λI to H before inverting")
    return (w * w) / (2.0 * d)
