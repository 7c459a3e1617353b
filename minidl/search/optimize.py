"""A small derivative-free minimizer (Nelder–Mead in a box) and a multi-start wrapper.

Used to fit the Gaussian process's hyperparameters (a handful of numbers); written here
so minidl needs no SciPy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np


def nelder_mead(f: Callable[[np.ndarray], float], x0: Sequence[float], *,
                bounds: tuple[np.ndarray, np.ndarray] | None = None, step: float = 0.5,
                max_evals: int = 400, xtol: float = 1e-4,
                ftol: float = 1e-8) -> tuple[np.ndarray, float, int]:
    """Minimize ``f`` from ``x0`` with the Nelder–Mead simplex; returns (x, f(x), evaluations).

    Each iteration replaces the worst vertex x_w of the simplex by a point on the line
    through x_w and the centroid c of the others: the reflection c + (c − x_w), the
    expansion c + 2(c − x_w), or a contraction c ± ½(c − x_w); when none helps, the
    simplex shrinks halfway towards its best vertex. Points are clipped into ``bounds``
    (lower, upper). Stops when the simplex is smaller than ``xtol`` and its values agree to
    within ``ftol``, or after ``max_evals`` evaluations. A non-finite f counts as +∞.
    """
    lo = None if bounds is None else np.asarray(bounds[0], dtype=np.float64)  # host
    hi = None if bounds is None else np.asarray(bounds[1], dtype=np.float64)  # host

    def clip(x: np.ndarray) -> np.ndarray:
        return x if lo is None else np.clip(x, lo, hi)

    evals = 0

    def value(x: np.ndarray) -> float:
        nonlocal evals
        evals += 1
        v = float(f(x))
        return v if math.isfinite(v) else math.inf

    x0 = clip(np.asarray(x0, dtype=np.float64))  # host
    d = len(x0)
    simplex = np.repeat(x0[None, :], d + 1, axis=0)
    for i in range(d):
        width = step if lo is None else step * (hi[i] - lo[i]) / 4
        x = simplex[i + 1]
        x[i] = x[i] + width if lo is None or x[i] + width <= hi[i] else x[i] - width
    simplex = clip(simplex)
    values = np.fromiter((value(x) for x in simplex), dtype=np.float64, count=d + 1)
    while evals < max_evals:
        order = np.argsort(values, kind="stable")
        simplex, values = simplex[order], values[order]
        size = float(np.abs(simplex[1:] - simplex[0]).max()) if d else 0.0
        if size < xtol and values[-1] - values[0] <= ftol * (1 + abs(values[0])):
            break
        centroid = simplex[:-1].mean(axis=0)
        worst = simplex[-1]
        reflected = clip(centroid + (centroid - worst))
        f_r = value(reflected)
        if f_r < values[0]:
            expanded = clip(centroid + 2.0 * (centroid - worst))
            f_e = value(expanded)
            simplex[-1], values[-1] = (expanded, f_e) if f_e < f_r else (reflected, f_r)
        elif f_r < values[-2]:
            simplex[-1], values[-1] = reflected, f_r
        else:
            outside = f_r < values[-1]
            contracted = clip(centroid + 0.5 * ((reflected if outside else worst) - centroid))
            f_c = value(contracted)
            if f_c < min(f_r, values[-1]):
                simplex[-1], values[-1] = contracted, f_c
            else:  # shrink towards the best vertex
                simplex[1:] = simplex[0] + 0.5 * (simplex[1:] - simplex[0])
                for i in range(1, d + 1):
                    values[i] = value(simplex[i])
    best = int(np.argmin(values))
    return simplex[best].copy(), float(values[best]), evals


def minimize_multi_start(f: Callable[[np.ndarray], float], starts: Sequence[Sequence[float]], *,
                         bounds: tuple[np.ndarray, np.ndarray], max_evals: int = 400,
                         xtol: float = 1e-4, ftol: float = 1e-8) -> tuple[np.ndarray, float]:
    """Run :func:`nelder_mead` from each start and keep the best end point (x, f(x)).

    Several starts guard against a local minimum, which a likelihood surface often has.
    """
    if len(starts) == 0:
        raise ValueError("minimize_multi_start needs at least one start")
    best_x, best_f = None, math.inf
    for x0 in starts:
        x, fx, _ = nelder_mead(f, x0, bounds=bounds, max_evals=max_evals, xtol=xtol, ftol=ftol)
        if best_x is None or fx < best_f:
            best_x, best_f = x, fx
    return best_x, best_f
