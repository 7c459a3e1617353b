"""Bayesian optimization: a Gaussian process models the score, Expected Improvement picks the
next point.

One step, after a few random points:

1. encode the tried configurations into the unit cube (:meth:`SearchSpace.encode`);
2. fit a :class:`~minidl.search.gp.GaussianProcess` to their scores (minimized: a
   ``mode="max"`` score is negated);
3. maximize :func:`~minidl.search.acquisition.expected_improvement` over the space —
   many random candidates, plus candidates near the best points so far, then a local
   refinement of the most promising ones;
4. evaluate the objective at the winner (never at a point already tried) and repeat.

A failed trial is given the worst score seen so far, so the model learns to avoid it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.random import Generator, default_rng

from minidl.search.acquisition import expected_improvement
from minidl.search.gp import GaussianProcess
from minidl.search.space import SearchSpace, SpaceSpec, point_key
from minidl.search.trials import SearchResult, TrialRunner, check_seed


def maximize_acquisition(acquisition: Callable[[np.ndarray], np.ndarray], space: SearchSpace, rng: Generator,
                         *, anchors: np.ndarray | None = None, n_candidates: int = 1000, n_local: int = 5,
                         local_steps: int = 12, local_batch: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Candidates (encoded, valid) sorted by decreasing acquisition value, with their values.

    Random candidates cover the space; perturbations of ``anchors`` (the best points so
    far) look where the optimum probably is; then each of the ``n_local`` best candidates
    is refined by a shrinking random local search on its ordinal columns (categories
    stay as they are).
    """
    cands = [space.sample_encoded(rng, n_candidates)]
    ordinal = space.ordinal_columns()
    if anchors is not None and len(anchors):
        reps = max(1, n_candidates // (4 * len(anchors)))
        around = np.repeat(anchors, reps, axis=0)
        around = around + ordinal * rng.normal(0.0, 0.05, size=around.shape)
        cands.append(space.snap(np.clip(around, 0.0, 1.0)))
    U = np.concatenate(cands)
    values = acquisition(U)
    if ordinal.any() and n_local > 0:
        top = np.argsort(-values)[:n_local]
        starts, start_values = U[top].copy(), values[top].copy()
        scale = np.full(len(starts), 0.1)  # host
        for _ in range(local_steps):
            trial = np.repeat(starts, local_batch, axis=0)
            noise = rng.normal(0.0, 1.0, size=trial.shape) * np.repeat(scale, local_batch)[:, None]
            trial = space.snap(np.clip(trial + ordinal * noise, 0.0, 1.0))
            trial_values = acquisition(trial).reshape(len(starts), local_batch)
            best = trial_values.argmax(1)
            improved = trial_values[np.arange(len(starts)), best] > start_values  # host
            rows = np.flatnonzero(improved)
            starts[rows] = trial.reshape(len(starts), local_batch, -1)[rows, best[rows]]
            start_values[rows] = trial_values[rows, best[rows]]
            scale = np.where(improved, scale, scale * 0.5)
        U = np.concatenate([starts, U])
        values = np.concatenate([start_values, values])
    order = np.argsort(-values, kind="stable")
    return U[order], values[order]


def gp_expected_improvement(gp: GaussianProcess, U: np.ndarray, xi: float = 0.01) -> np.ndarray:
    """Expected Improvement of a fitted :class:`GaussianProcess` at points U, as Bayesian
    optimization uses it: :func:`~minidl.search.acquisition.expected_improvement` of the
    posterior in the standardized units of the fit (so ξ is in standard deviations of the
    scores), against the incumbent f* = the lowest observation."""
    mean, std = gp.predict(U)
    return expected_improvement((mean - gp.y_mean) / gp.y_std, std / gp.y_std, float(gp.y.min()), xi)


def _default_n_initial(space: SearchSpace, n_trials: int) -> int:
    return min(n_trials, max(4, space.n_columns + 2))


def bayesian_optimization(objective: Callable[..., Any], space: SpaceSpec, n_trials: int, *,
                          n_initial: int | None = None, kernel: str = "matern52",
                          xi: float = 0.01, mode: str = "min", budget: float = 1, seed: int = 0,
                          n_candidates: int = 1000, progress: bool | None = None) -> SearchResult:
    """Bayesian optimization of ``objective(params, budget)`` over ``space`` in ``n_trials`` trials.

    The first ``n_initial`` points (default max(4, columns + 2)) are a Latin hypercube
    (:meth:`SearchSpace.latin_hypercube`: spread out, unlike plain random points); each later one
    maximizes Expected Improvement under a Gaussian process fitted to the trials so far
    (``kernel`` "matern52" or "rbf", with a noise term; hyperparameters by maximum
    marginal likelihood). Scores are standardized before the fit, so ``xi`` is in units of
    the scores' standard deviation. Lists are one-hot columns, ranges and integer
    distributions ordinal, log distributions are searched in log space (see
    :mod:`minidl.search.space`). A finite space is never sampled twice at one point; the
    search stops early when every point has been tried.
    """
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 0:
        raise ValueError(f"n_trials must be a non-negative int (got {n_trials!r})")
    if xi < 0:
        raise ValueError(f"xi must be >= 0 (got {xi!r})")
    space = SearchSpace(space)
    n_initial = _default_n_initial(space, n_trials) if n_initial is None else n_initial
    if isinstance(n_initial, bool) or not isinstance(n_initial, int) or n_initial < 1:
        raise ValueError(f"n_initial must be a positive int (got {n_initial!r})")
    n_initial = min(n_initial, n_trials)
    rng = default_rng(check_seed(seed))
    runner = TrialRunner(objective, method="bayesian", mode=mode, seed=seed, space=space,
                         settings={"budget": budget, "n_trials": n_trials, "n_initial": n_initial,
                                   "kernel": kernel, "xi": xi, "n_candidates": n_candidates},
                         total=n_trials, progress=progress)
    gp = GaussianProcess(kernel, seed=rng, n_restarts=1, max_iter=50)  # warm-started every step
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

    def ei(U: np.ndarray) -> np.ndarray:
        return gp_expected_improvement(gp, U, xi)

    n_anchor = min(3, len(ok))
    anchors = X[np.argsort(y, kind="stable")[:n_anchor]]
    U, _ = maximize_acquisition(ei, space, rng, anchors=anchors, n_candidates=n_candidates)
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
