"""How well-conditioned a least-squares problem on some features is (lesson 06).

For a linear model ŷ = Xw with the mean squared error L(w) = (1/N) ‖Xw − y‖² (minidl's
``mse_loss``), the loss is a quadratic bowl whose curvature is the same everywhere:

    ∇²L = H = (2/N) XᵀX

Gradient descent with step η shrinks the error along the eigenvector of eigenvalue λᵢ
by a factor |1 − η λᵢ| per step: it diverges unless η < 2/λ_max, and the best fixed η
= 2/(λ_max + λ_min) still leaves a factor (κ − 1)/(κ + 1) per step, where

    κ = λ_max / λ_min        (the condition number)

so it needs about (κ/2)·ln(1/ε) steps to shrink the error by ε. Features on very
different scales (or far from zero mean) make κ huge; standardizing them makes H
close to the features' correlation matrix, with κ near 1 when they are uncorrelated.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from minidl import backend


def mse_hessian(features: Any) -> Any:
    """H = (2/N) XᵀX, the Hessian of L(w) = (1/N) ‖Xw − y‖² for features X of shape (N, d)."""
    if not hasattr(features, "ndim") or features.ndim != 2 or len(features) == 0:
        shape = getattr(features, "shape", None)
        raise ValueError(f"features must be a non-empty (N, d) array (got shape {shape})")
    x = features.astype("float64")
    return (2.0 / len(x)) * (x.T @ x)


def hessian_eigenvalues(features: Any) -> list[float]:
    """Eigenvalues of :func:`mse_hessian`, smallest first."""
    # H is only d × d: it comes to the host, where the eigen-solver is
    return [float(v) for v in np.linalg.eigvalsh(backend.to_numpy(mse_hessian(features)))]


def condition_number(features: Any) -> float:
    """κ = λ_max / λ_min of H = (2/N) XᵀX (``inf`` when some direction has no curvature)."""
    eig = hessian_eigenvalues(features)
    low, high = max(eig[0], 0.0), eig[-1]
    if high <= 0:
        raise ValueError("features are all zero: the loss has no curvature at all")
    return math.inf if low <= high * 1e-15 else high / low
