"""Bayesian optimization: a Gaussian process models the score, log Expected Improvement picks the next point.

One step, after a few space-filling points:

1. encode the tried configurations into the unit cube (:meth:`SearchSpace.encode`: log
   distributions in log space, integers as numbers rounded on the way out, lists one-hot);
2. fit a :class:`~minidl.search.gp.GaussianProcess` (ARD Matérn-5/2 by default) to their
   standardized scores (minimized: a ``mode="max"`` score is negated) — hyperparameters by
   maximum a posteriori (log marginal likelihood + a weak prior), L-BFGS from the last
   step's fit and from the defaults;
3. maximize :func:`~minidl.search.acquisition.log_expected_improvement` over the space:
   a few thousand random candidates, then gradient ascent from ten starts (the incumbent,
   the best candidate, eight more by roulette), each by its own box L-BFGS in length-scale
   units, all evaluated together each round (:func:`maximize_acquisition`);
4. evaluate the objective at the winner (never at a point already tried) and repeat.

A failed trial is given the worst score seen so far, so the model learns to avoid it.
The design follows Optuna's GPSampler (itself after BoTorch); everything here is NumPy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.random import Generator, default_rng

from minidl.search.acquisition import expected_improvement, log_expected_improvement
from minidl.search.gp import GaussianProcess
from minidl.search.optimize import minimize_lbfgs_batch
from minidl.search.space import SearchSpace, SpaceSpec, point_key
from minidl.search.trials import SearchResult, TrialRunner, check_seed

ValuesAndGradients = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def maximize_acquisition(acquisition: Callable[[np.ndarray], np.ndarray], space: SearchSpace, rng: Generator,
                         *, gradient: ValuesAndGradients | None = None, anchors: np.ndarray | None = None,
                         n_candidates: int = 2048, n_starts: int = 10, max_iter: int = 100,
                         length_scale: Any = None, paths: list[np.ndarray] | None = None,
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Candidates (encoded, valid) sorted by decreasing acquisition value, with their values.

    1. ``n_candidates`` random points cover the space; ``acquisition(U)`` scores them all at once.
    2. With ``gradient(U) -> (values, ∂values/∂U)``, ``n_starts`` points — the ``anchors``
       (the best point so far: the search refines it), the best candidate, and the rest
       drawn with probability ∝ exp(value − max) (Optuna's roulette: good, but not all in
       one basin) — climb by box L-BFGS on their ordinal columns, each start on its own
       (:func:`~minidl.search.optimize.minimize_lbfgs_batch`: its own step length, memory and
       stopping test, all starts evaluated together each round). One-hot columns stay as they
       are; integer columns move as numbers and are rounded afterwards.
    3. Every point is snapped to the nearest valid one (:meth:`SearchSpace.snap`) and rescored.

    ``length_scale`` (the GP's ℓ, one per column, or a number) preconditions the climb: it runs in
    z = x/ℓ, in the box [0, 1/ℓ], with ∂a/∂z = ℓ ∂a/∂x. A stationary kernel sees x only through
    x/ℓ, so in z the acquisition varies about equally fast along every axis and L-BFGS's first
    steps (before its memory has learned the curvature) are well scaled — Optuna does the same.
    ``paths``, if given a list, receives one (iterations, columns) array per start, in x: the
    route each start took (the lesson draws it).
    """
    U = space.sample_encoded(rng, n_candidates)
    ordinal = space.ordinal_columns()
    values = acquisition(U)
    if gradient is not None and ordinal.any() and n_starts > 0:
        n_anchors = 0 if anchors is None else min(len(anchors), n_starts - 1)
        starts = _pick_starts(values, min(n_starts - n_anchors, len(U)), rng)
        S = np.concatenate([U[starts], anchors[:n_anchors]]) if n_anchors else U[starts].copy()
        free = space.active_columns(S) & ordinal  # the columns each start may move
        ell = np.broadcast_to(np.asarray(1.0 if length_scale is None else length_scale,  # host
                                         dtype=np.float64), S.shape[1:])
        lower = np.where(free, 0.0, S / ell)  # a column that may not move is held by lower = upper
        upper = np.where(free, 1.0 / ell, S / ell)
        trace: list[np.ndarray] = [S.copy()]

        def negative(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            vals, grads = gradient(Z * ell)
            return -vals, -grads * ell

        Z, _, _ = minimize_lbfgs_batch(negative, S / ell, bounds=(lower, upper), max_iter=max_iter,
                                       gtol=1e-5, ftol=1e-9,
                                       callback=(lambda Z: trace.append(Z * ell)) if paths is not None else None)
        S = np.where(free, Z * ell, S)
        if paths is not None:
            steps = np.stack(trace)  # (iterations, starts, columns)
            paths.extend(steps[:, i] for i in range(len(S)))
        S = space.snap(S)
        U = np.concatenate([S, U])
        values = np.concatenate([acquisition(S), values])
    order = np.argsort(-values, kind="stable")
    return U[order], values[order]


def _pick_starts(values: np.ndarray, k: int, rng: Generator) -> np.ndarray:
    """The best index, then k − 1 others drawn without replacement with p ∝ exp(value − max)."""
    best = int(np.argmax(values))
    finite = np.where(np.isfinite(values), values, -np.inf)
    weights = np.exp(finite - finite[best])
    weights[best] = 0.0
    n_positive = int((weights > 0).sum())
    if n_positive == 0:
        return np.array([best])  # host
    others = rng.choice(len(values), size=min(k - 1, n_positive), replace=False, p=weights / weights.sum())
    return np.concatenate([[best], others]).astype(np.int64)


def gp_expected_improvement(gp: GaussianProcess, U: np.ndarray, xi: float = 0.0) -> np.ndarray:
    """Expected Improvement of a fitted :class:`GaussianProcess` at points U, as Bayesian
    optimization uses it: :func:`~minidl.search.acquisition.expected_improvement` of the
    posterior in the standardized units of the fit (so ξ is in standard deviations of the
    scores), against the incumbent f* = the lowest observation."""
    mean, std = gp.posterior(U)
    return expected_improvement(mean, std, float(gp.y.min()), xi)


def gp_log_expected_improvement(gp: GaussianProcess, U: np.ndarray, xi: float = 0.0, *,
                                with_gradient: bool = False) -> Any:
    """log EI of a fitted :class:`GaussianProcess` at points U (units as in
    :func:`gp_expected_improvement`); with its gradient in U by the chain rule
    (:func:`~minidl.search.acquisition.log_expected_improvement`, :meth:`GaussianProcess.posterior`):

        ∂ log EI/∂x = ∂ log EI/∂μ · ∂μ/∂x + ∂ log EI/∂σ · ∂σ/∂x
    """
    best = float(gp.y.min())
    if not with_gradient:
        mean, std = gp.posterior(U)
        return log_expected_improvement(mean, std, best, xi)
    mean, std, d_mean, d_std = gp.posterior(U, with_gradient=True)
    value, by_mean, by_std = log_expected_improvement(mean, std, best, xi, with_gradient=True)
    return value, by_mean[:, None] * d_mean + by_std[:, None] * d_std


def default_n_initial(space: SpaceSpec, n_trials: int) -> int:
    """How many space-filling points :func:`bayesian_optimization` starts with: columns + 4
    (the GP's d + 2 hyperparameters need about that many points to be fitted at all, and two
    more keep a first basin from capturing the search), at most ``n_trials``. Optuna's
    GPSampler starts with 10 random points in any dimension; this is the same 10 at six
    columns (Hartmann-6, 60 evaluations, ξ = 0, seeds 0–19: 8 points left 11 of the 20 searches
    in a local minimum, 10 points 6 of 20), and fewer for the small spaces of the lessons."""
    return min(n_trials, SearchSpace(space).n_columns + 4)


def bayesian_optimization(objective: Callable[..., Any], space: SpaceSpec, n_trials: int, *,
                          n_initial: int | None = None, kernel: str = "matern52",
                          xi: float = 0.0, mode: str = "min", budget: float = 1, seed: int = 0,
                          n_candidates: int = 2048, progress: bool | None = None) -> SearchResult:
    """Bayesian optimization of ``objective(params, budget)`` over ``space`` in ``n_trials`` trials.

    The first ``n_initial`` points (default columns + 4: :func:`default_n_initial`) are a Latin hypercube
    (:meth:`SearchSpace.latin_hypercube`: on every column each of n equal slices holds one
    point — spread out, unlike plain random points); each later one maximizes log Expected
    Improvement under a Gaussian process fitted to the trials so far (``kernel`` "matern52"
    or "rbf", one length scale per column, a noise term, hyperparameters by maximum a
    posteriori) — see the module docstring for the steps. Scores are standardized before the
    fit, so ``xi`` is in units of the scores' standard deviation. The default ξ = 0 is Optuna's
    and BoTorch's choice; ξ = 0.01 (scikit-optimize's default) asks each step for an
    improvement of 1 % of the scores' spread, a little exploration that stops refining at about
    that scale (``benchmarks/bench_bo.py`` measures both: on Hartmann-6, 60 evaluations, ξ = 0
    ends about 10× closer to the minimum). ``n_candidates`` random
    points seed the acquisition's optimizer. Lists are one-hot columns, ranges and integer
    distributions ordinal, log distributions are searched in log space (see
    :mod:`minidl.search.space`). A finite space is never sampled twice at one point; the
    search stops early when every point has been tried.
    """
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise ValueError(f"n_trials must be a positive int: the number of objective evaluations (got {n_trials!r})")
    if isinstance(n_candidates, bool) or not isinstance(n_candidates, int) or n_candidates < 1:
        raise ValueError(f"n_candidates must be a positive int (got {n_candidates!r})")
    if xi < 0:
        raise ValueError(f"xi must be >= 0 (got {xi!r})")
    space = SearchSpace(space)
    n_initial = default_n_initial(space, n_trials) if n_initial is None else n_initial
    if isinstance(n_initial, bool) or not isinstance(n_initial, int) or n_initial < 1:
        raise ValueError(f"n_initial must be a positive int (got {n_initial!r})")
    n_initial = min(n_initial, n_trials)
    rng = default_rng(check_seed(seed))
    runner = TrialRunner(objective, method="bayesian", mode=mode, seed=seed, space=space,
                         settings={"budget": budget, "n_trials": n_trials, "n_initial": n_initial,
                                   "kernel": kernel, "xi": xi, "n_candidates": n_candidates},
                         total=n_trials, progress=progress)
    # each step's fit starts from the last step's fit and from the defaults, as Optuna's does; a
    # random restart as well measured 1.5× the time per trial on Hartmann-6, over GPSampler's time
    gp = GaussianProcess(kernel, seed=rng, n_restarts=0)
    sign = 1.0 if mode == "min" else -1.0
    tried: set[str] = set()
    for params in space.latin_hypercube(rng, n_initial):
        if point_key(params) in tried:  # a small finite space: two cells rounded to one point
            params = _random_untried(space, rng, tried)
            if params is None:
                break
        tried.add(point_key(params))
        runner.run(params, budget, config=len(runner.result.trials))
    while len(runner.result.trials) < n_trials:
        params = _propose(runner.result, space, gp, rng, sign, xi, tried, n_candidates)
        if params is None:  # a finite space, fully explored
            break
        tried.add(point_key(params))
        runner.run(params, budget, config=len(runner.result.trials))
    return runner.close()


def _propose(result: SearchResult, space: SearchSpace, gp: GaussianProcess, rng: Generator, sign: float,
             xi: float, tried: set[str], n_candidates: int) -> dict[str, Any] | None:
    ok = result.ok_trials
    if len(ok) < 2:  # nothing to model yet
        return _random_untried(space, rng, tried)
    worst = max(sign * t.score for t in ok)
    trials = result.trials
    X = space.encode([t.params for t in trials])
    y = np.asarray([sign * t.score if t.ok else worst for t in trials], dtype=np.float64)  # host
    gp.fit(X, y)

    def log_ei(U: np.ndarray) -> np.ndarray:
        return gp_log_expected_improvement(gp, U, xi)

    def log_ei_and_gradient(U: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return gp_log_expected_improvement(gp, U, xi, with_gradient=True)

    anchors = X[np.argsort(y, kind="stable")[:1]]  # the incumbent, as Optuna's GPSampler does
    U, _ = maximize_acquisition(log_ei, space, rng, gradient=log_ei_and_gradient, anchors=anchors,
                                n_candidates=n_candidates, length_scale=gp.length_scale)
    for params in space.decode(U):
        key = point_key(params)
        if key not in tried:
            return params
    return _random_untried(space, rng, tried)


def _random_untried(space: SearchSpace, rng: Generator, tried: set[str]) -> dict[str, Any] | None:
    if space.finite:
        remaining = space.grid_size()
        for params in space.sample_distinct(rng, min(remaining, len(tried) + 1)):
            if point_key(params) not in tried:
                return params
        return None
    for _ in range(1000):
        params = space.sample(rng)
        if point_key(params) not in tried:
            return params
    return space.sample(rng)
