"""Small quasi-Newton minimizers in a box: BFGS with a multi-start wrapper, and L-BFGS for one
problem or a batch of independent ones.

Used to fit the Gaussian process's hyperparameters (a handful of numbers, with an analytic
gradient) and to climb the acquisition function from many starts at once; written here so
minidl needs no SciPy.
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

    One problem of :func:`minimize_lbfgs_batch` (the algorithm is described there):
    ``fun_and_grad(x)`` returns (f(x), ∇f(x)) for one point x. ``callback(x)`` is called with
    every accepted iterate (to draw the optimizer's path).
    """
    def batch(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        f, g = fun_and_grad(X[0])
        return np.array([f], dtype=np.float64), np.asarray(g, dtype=np.float64)[None, :]  # host

    lo, hi = _box(bounds)
    X, f, calls = minimize_lbfgs_batch(batch, np.asarray(x0, dtype=np.float64)[None, :],  # host
                                       bounds=None if lo is None else (lo, hi), memory=memory, max_iter=max_iter,
                                       gtol=gtol, ftol=ftol,
                                       callback=None if callback is None else (lambda X: callback(X[0].copy())))
    return X[0], float(f[0]), calls


BatchValueAndGrad = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def minimize_lbfgs_batch(fun_and_grad: BatchValueAndGrad, X0: np.ndarray, *,
                         bounds: tuple[Any, Any] | None = None, memory: int = 10, max_iter: int = 200,
                         gtol: float = 1e-6, ftol: float = 1e-10,
                         callback: Callable[[np.ndarray], None] | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Minimize B independent functions at once with projected L-BFGS in a box, one per row of
    ``X0`` (B, n). ``fun_and_grad(X)`` takes any k of the rows, (k, n), and returns their values
    (k,) and gradients (k, n): row i of the answer may depend on row i of X only. Returns
    (X, f(X), calls of fun_and_grad). ``bounds`` = (lower, upper), each broadcastable to (B, n).

    L-BFGS is BFGS that keeps only the last ``memory`` pairs (s_i, y_i) instead of the n × n
    matrix H, and applies H ≈ (∇²f)⁻¹ to g by the two-loop recursion (Nocedal & Wright, Alg. 7.4):

        q ← g;  for i newest → oldest:  a_i = ρ_i s_iᵀq,  q ← q − a_i y_i        (ρ_i = 1/(y_iᵀs_i))
        r ← γ q,  γ = s_kᵀy_k / y_kᵀy_k;  for i oldest → newest:  b = ρ_i y_iᵀr,  r ← r + (a_i − b) s_i
        d = −r

    The box is kept by projection: coordinates on a bound whose gradient pushes outwards are
    *pinned* (their gradient and step are 0), the step x + t d is clipped into the box, and a
    backtracking line search halves t until f(P(x + t d)) ≤ f(x) + 10⁻⁴ gᵀ(P(x + t d) − x)
    (Armijo along the projected path). A pair is stored only when yᵀs > 0, so H stays positive
    definite. A row stops when its largest free gradient is below ``gtol``, when its f improves by
    less than ``ftol``·(1 + |f|), when no step lowers it, or after ``max_iter`` iterations; a
    non-finite f counts as +∞.

    Every row has its own memory, step length and stopping test — as if each were solved alone —
    but each round evaluates all the rows still moving in one call, so the cost of B starts is
    about that of one vectorized evaluation per round (what Optuna's batched L-BFGS-B does for
    its acquisition restarts). Summing the B functions into one problem instead would share one
    step length and one curvature memory between unrelated starts: the steepest start sets the
    step for all, and a start near a sharp maximum stops the others early.
    ``callback(X)`` is called with all rows after every iteration (to draw the optimizer's paths).
    """
    X = np.array(X0, dtype=np.float64)  # host
    if X.ndim != 2:
        raise ValueError(f"X0 must be (B, n): one start per row (got shape {X.shape})")
    B, n = X.shape
    lo, hi = (None, None) if bounds is None else tuple(
        np.broadcast_to(np.asarray(b, dtype=np.float64), (B, n)) for b in bounds)  # host
    if lo is not None:
        X = np.clip(X, lo, hi)
    calls = 0

    def evaluate(rows: np.ndarray, P: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        nonlocal calls
        calls += 1
        f, g = fun_and_grad(P)
        f = np.asarray(f, dtype=np.float64).reshape(len(rows))  # host
        g = np.asarray(g, dtype=np.float64).reshape(len(rows), n)  # host
        bad = ~np.isfinite(f) | ~np.all(np.isfinite(g), axis=1)
        return np.where(bad, math.inf, f), np.where(bad[:, None], 0.0, g)

    every = np.arange(B)  # host: the optimizer runs on the CPU
    f, G = evaluate(every, X)
    S, Y = np.zeros((B, memory, n)), np.zeros((B, memory, n))  # host; newest pair last, unused pairs 0
    rho = np.zeros((B, memory))  # host; ρ = 0 marks an unused slot (the two-loop skips it)
    moving = np.isfinite(f)
    for _ in range(max_iter):
        free, G_free = _free_gradient(X, G, lo, hi)
        moving &= np.abs(G_free).max(axis=1, initial=0.0) >= gtol
        if not moving.any():
            break
        D = np.where(free, -_two_loop_batch(G_free, S, Y, rho), 0.0)
        uphill = (G_free * D).sum(1) >= 0  # the memory points uphill on the free set: restart it
        S[uphill], Y[uphill], rho[uphill] = 0.0, 0.0, 0.0
        D[uphill] = -G_free[uphill]
        # the first step of a fresh memory: at most a unit move of the largest coordinate
        fresh = rho[:, -1] == 0
        t = np.where(fresh, np.minimum(1.0, 1.0 / np.maximum(np.abs(D).max(axis=1), 1e-300)), 1.0)
        X_new, f_new, G_new = X.copy(), f.copy(), G.copy()
        searching = moving.copy()
        while searching.any():
            rows = np.flatnonzero(searching)
            P = X[rows] + t[rows, None] * D[rows]
            if lo is not None:
                P = np.clip(P, lo[rows], hi[rows])
            fp, gp = evaluate(rows, P)
            accepted = fp <= f[rows] + 1e-4 * ((G[rows] * (P - X[rows])).sum(1))
            done = rows[accepted]
            X_new[done], f_new[done], G_new[done] = P[accepted], fp[accepted], gp[accepted]
            searching[done] = False
            t[rows[~accepted]] *= 0.5
            stuck = rows[~accepted][t[rows[~accepted]] < 1e-12]  # no step lowers f: a (constrained) minimum
            searching[stuck] = False
            moving[stuck] = False
        stepped = moving  # the rows that accepted a step this round
        s, y = X_new - X, G_new - G
        sy, yy = (s * y).sum(1), (y * y).sum(1)
        store = stepped & (sy > 1e-12 * yy)
        if store.any():
            S[store] = np.concatenate([S[store, 1:], s[store, None]], axis=1)  # drop the oldest pair
            Y[store] = np.concatenate([Y[store, 1:], y[store, None]], axis=1)
            rho[store] = np.concatenate([rho[store, 1:], 1.0 / sy[store, None]], axis=1)
        small = stepped & (f - f_new <= ftol * (1.0 + np.abs(f)))
        X, f, G = X_new, f_new, G_new
        moving &= ~small
        if callback is not None:
            callback(X.copy())
    return X, f, calls


def _two_loop_batch(G: np.ndarray, S: np.ndarray, Y: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """H g for every row at once, by the L-BFGS two-loop recursion over its stored (s, y, ρ)
    pairs (see :func:`minimize_lbfgs_batch`); unused slots have ρ = 0 and change nothing."""
    Q = G.copy()
    memory = S.shape[1]
    used = range(memory - int((rho > 0).sum(1).max(initial=0)), memory)  # the newest slots hold the pairs
    A = np.zeros(rho.shape)  # host
    for j in reversed(used):
        A[:, j] = rho[:, j] * (S[:, j] * Q).sum(1)
        Q -= A[:, j, None] * Y[:, j]
    sy, yy = (S[:, -1] * Y[:, -1]).sum(1), (Y[:, -1] * Y[:, -1]).sum(1)
    Q *= np.where(rho[:, -1] > 0, sy / np.where(yy > 0, yy, 1.0), 1.0)[:, None]  # γ of the newest pair
    for j in used:
        b = rho[:, j] * (Y[:, j] * Q).sum(1)
        Q += (A[:, j] - b)[:, None] * S[:, j]
    return Q


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
