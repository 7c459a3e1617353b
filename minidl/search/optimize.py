"""A small quasi-Newton minimizer (BFGS in a box) and a multi-start wrapper.

Used to fit the Gaussian process's hyperparameters (a handful of numbers, with an
analytic gradient); written here so minidl needs no SciPy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

ValueAndGrad = Callable[[np.ndarray], tuple[float, np.ndarray]]


def minimize_bfgs(fun_and_grad: ValueAndGrad, x0: Sequence[float], *,
                  bounds: tuple[np.ndarray, np.ndarray] | None = None, max_iter: int = 200,
                  gtol: float = 1e-6, ftol: float = 1e-10, max_step: float = math.inf,
                  ) -> tuple[np.ndarray, float, int]:
    """Minimize f from ``x0``; ``fun_and_grad(x)`` returns (f(x), ∇f(x)). Returns (x, f(x), evaluations).

    BFGS keeps H ≈ (∇²f)⁻¹ and steps along d = −H g. A backtracking line search shrinks t
    (to the minimum of a fitted parabola) until f(x + t d) ≤ f(x) + 10⁻⁴ gᵀ(t d) (Armijo);
    then, with s = x_new − x and y = g_new − g,

        H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ,     ρ = 1 / (yᵀs)   (only when yᵀs > 0)

    The line search starts at t = 1, or at the t that moves no coordinate more than
    ``max_step``. Points are clipped into ``bounds`` = (lower, upper); a coordinate sitting
    on a bound with the gradient pushing outwards is held fixed (a projected step). Stops when the
    free gradient is below ``gtol``, when f improves by less than ``ftol``·(1 + |f|), or
    after ``max_iter`` iterations. A non-finite f counts as +∞, so the line search backs off.
    """
    lo, hi = _box(bounds)

    def clip(x: np.ndarray) -> np.ndarray:
        return x if lo is None else np.clip(x, lo, hi)

    evaluate = _Counted(fun_and_grad)

    x = clip(np.asarray(x0, dtype=np.float64))  # host
    f, g = evaluate(x)
    if not math.isfinite(f):
        return x, f, evaluate.calls
    n = len(x)
    H = np.eye(n)  # host
    first = True
    for _ in range(max_iter):
        free, g_free = _free_gradient(x, g, lo, hi)
        if np.abs(g_free).max(initial=0.0) < gtol:
            break
        d = np.where(free, -(H @ g_free), 0.0)
        if g_free @ d >= 0:  # not a descent direction: restart from (scaled) steepest descent
            H = np.eye(n) * float(np.mean(np.diag(H)))  # host
            d = -(H @ g_free)
        t = min(1.0, max_step / max(float(np.abs(d).max()), 1e-300))
        while True:
            x_new = clip(x + t * d)
            f_new, g_new = evaluate(x_new)
            slope = float(g @ (x_new - x)) / t  # d f(x + t d) / dt at t = 0 (along the clipped step)
            if f_new <= f + 1e-4 * t * slope:
                break
            # backtrack to the minimum of the parabola through f(0), f'(0) and f(t), within [t/10, t/2]
            curvature = f_new - f - slope * t
            t_min = -slope * t * t / (2.0 * curvature) if math.isfinite(f_new) and curvature > 0 else 0.1 * t
            t = min(max(t_min, 0.1 * t), 0.5 * t)
            if t < 1e-12:
                return x, f, evaluate.calls  # no step lowers f: a (constrained) minimum to working precision
        s, y = x_new - x, g_new - g
        sy = float(s @ y)
        if sy > 1e-12:
            if first:  # scale the first guess of the inverse Hessian to the curvature seen
                H = np.eye(n) * (sy / float(y @ y))  # host
                first = False
            rho = 1.0 / sy
            V = np.eye(n) - rho * np.outer(s, y)  # host
            H = V @ H @ V.T + rho * np.outer(s, s)
        small = f - f_new <= ftol * (1.0 + abs(f))
        x, f, g = x_new, f_new, g_new
        if small:
            break
    return x, f, evaluate.calls


def minimize_multi_start(fun_and_grad: ValueAndGrad, starts: Sequence[Sequence[float]], *,
                         bounds: tuple[np.ndarray, np.ndarray] | None = None,
                         **options: float) -> tuple[np.ndarray, float]:
    """Run :func:`minimize_bfgs` from each start and keep the best end point (x, f(x)).

    Several starts guard against a local minimum, which a likelihood surface often has.
    """
    if len(starts) == 0:
        raise ValueError("minimize_multi_start needs at least one start")
    best_x, best_f = None, math.inf
    for x0 in starts:
        x, fx, _ = minimize_bfgs(fun_and_grad, x0, bounds=bounds, **options)
        if best_x is None or fx < best_f:
            best_x, best_f = x, fx
    return best_x, best_f


def minimize_lbfgs(fun_and_grad: ValueAndGrad, x0: Sequence[float], *,
                   bounds: tuple[np.ndarray, np.ndarray] | None = None, memory: int = 10,
                   max_iter: int = 200, gtol: float = 1e-6, ftol: float = 1e-10,
                   callback: Callable[[np.ndarray], None] | None = None) -> tuple[np.ndarray, float, int]:
    """Minimize f in a box with projected L-BFGS; returns (x, f(x), evaluations).

    L-BFGS is BFGS that keeps only the last ``memory`` pairs (s_i, y_i) instead of the n × n
    matrix H, and applies H ≈ (∇²f)⁻¹ to g by the two-loop recursion (Nocedal & Wright, Alg. 7.4):

        q ← g;  for i newest → oldest:  a_i = ρ_i s_iᵀq,  q ← q − a_i y_i        (ρ_i = 1/(y_iᵀs_i))
        r ← γ q,  γ = s_kᵀy_k / y_kᵀy_k;  for i oldest → newest:  b = ρ_i y_iᵀr,  r ← r + (a_i − b) s_i
        d = −r

    The box [lower, upper] is kept by projection: coordinates on a bound whose gradient pushes
    outwards are *pinned* (their gradient and step are 0), the step x + t d is clipped into the
    box, and a backtracking line search accepts t when f(P(x + t d)) ≤ f(x) + 10⁻⁴ gᵀ(P(x + t d) − x)
    (Armijo along the projected path). A pair is stored only when yᵀs > 0, so H stays positive
    definite. Stops when the largest free gradient is below ``gtol``, when f improves by less than
    ``ftol``·(1 + |f|), or after ``max_iter`` iterations. A non-finite f counts as +∞.

    Several independent problems can be solved at once by concatenating them (f the sum): the
    gradient of each block depends on its own block only. BoTorch optimizes its restarts this way.
    ``callback(x)`` is called with every accepted iterate (to draw the optimizer's path).
    """
    lo, hi = _box(bounds)
    evaluate = _Counted(fun_and_grad)

    x = np.asarray(x0, dtype=np.float64).copy()  # host
    if lo is not None:
        x = np.clip(x, lo, hi)
    f, g = evaluate(x)
    if not math.isfinite(f):
        return x, f, evaluate.calls
    pairs: list[tuple[np.ndarray, np.ndarray, float]] = []
    for _ in range(max_iter):
        free, g_free = _free_gradient(x, g, lo, hi)
        if np.abs(g_free).max(initial=0.0) < gtol:
            break
        d = -_two_loop(g_free, pairs)
        d = np.where(free, d, 0.0)
        if g_free @ d >= 0:  # the memory points uphill on the free set: restart it
            pairs.clear()
            d = -g_free
        # the first step: at most a unit move of the largest coordinate (the box is O(1))
        t = 1.0 if pairs else min(1.0, 1.0 / max(float(np.abs(d).max()), 1e-300))
        while True:
            x_new = x + t * d
            if lo is not None:
                x_new = np.clip(x_new, lo, hi)
            f_new, g_new = evaluate(x_new)
            decrease = float(g @ (x_new - x))
            if f_new <= f + 1e-4 * decrease:
                break
            t *= 0.5
            if t < 1e-12:
                return x, f, evaluate.calls  # no step lowers f: a (constrained) minimum to working precision
        s, y = x_new - x, g_new - g
        sy = float(s @ y)
        if sy > 1e-12 * float(y @ y):
            pairs.append((s, y, 1.0 / sy))
            if len(pairs) > memory:
                pairs.pop(0)
        small = f - f_new <= ftol * (1.0 + abs(f))
        x, f, g = x_new, f_new, g_new
        if callback is not None:
            callback(x.copy())
        if small:
            break
    return x, f, evaluate.calls


def _two_loop(g: np.ndarray, pairs: list[tuple[np.ndarray, np.ndarray, float]]) -> np.ndarray:
    """H g by the L-BFGS two-loop recursion over the stored (s, y, ρ) pairs (see minimize_lbfgs)."""
    q = g.copy()
    alphas = []
    for s, y, rho in reversed(pairs):
        a = rho * float(s @ q)
        q -= a * y
        alphas.append(a)
    if pairs:
        s, y, _ = pairs[-1]
        q *= float(s @ y) / float(y @ y)
    for (s, y, rho), a in zip(pairs, reversed(alphas)):
        b = rho * float(y @ q)
        q += (a - b) * s
    return q


class _Counted:
    """f(x), ∇f(x) as float64, counting the calls; a non-finite f or ∇f counts as f = +∞ (so a
    line search backs off from it)."""

    def __init__(self, fun_and_grad: ValueAndGrad) -> None:
        self.fun_and_grad, self.calls = fun_and_grad, 0

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        self.calls += 1
        f, g = self.fun_and_grad(x)
        f = float(f)
        if not math.isfinite(f) or not np.all(np.isfinite(g)):
            return math.inf, np.zeros_like(x)
        return f, np.asarray(g, dtype=np.float64)  # host


def _box(bounds: tuple[Any, Any] | None) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(lower, upper) as float64 arrays, or (None, None) for no bounds."""
    if bounds is None:
        return None, None
    return np.asarray(bounds[0], dtype=np.float64), np.asarray(bounds[1], dtype=np.float64)  # host


def _free_gradient(x: np.ndarray, g: np.ndarray, lo: np.ndarray | None,
                   hi: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(free, g_free): a coordinate on a bound whose gradient pushes outwards is pinned (not free),
    and its gradient is taken as 0 (the projected gradient)."""
    pinned = False if lo is None else ((x <= lo) & (g > 0)) | ((x >= hi) & (g < 0))
    free = ~np.broadcast_to(pinned, x.shape)
    return free, np.where(free, g, 0.0)
