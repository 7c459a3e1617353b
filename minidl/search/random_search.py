"""Random search, and the arithmetic that explains why it works: 1 − (1 − p)ⁿ."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

from numpy.random import default_rng

from minidl.search.space import SearchSpace, SpaceSpec
from minidl.search.trials import SearchResult, TrialRunner, check_seed


def prob_top_fraction(p: float, n: int) -> float:
    """P(at least one of n independent draws lands in the best fraction p of the space)

        P = 1 − (1 − p)ⁿ

    e.g. p = 5 %, n = 59 → 95.2 %. It does not depend on how many hyperparameters there
    are: that is why a few dozen random trials are often enough.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be a fraction in [0, 1] (got {p!r})")
    if n < 0:
        raise ValueError(f"n must be >= 0 (got {n!r})")
    return 1.0 - (1.0 - p) ** n


def trials_needed(p: float, confidence: float) -> int:
    """The smallest n with 1 − (1 − p)ⁿ ≥ confidence:  n = ⌈log(1 − confidence) / log(1 − p)⌉."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1) (got {p!r})")
    if not 0.0 <= confidence < 1.0:
        raise ValueError(f"confidence must be in [0, 1) (got {confidence!r})")
    n = math.ceil(math.log(1.0 - confidence) / math.log(1.0 - p))
    while n > 0 and prob_top_fraction(p, n - 1) >= confidence:  # guard against rounding up too far
        n -= 1
    return n


def random_search(objective: Callable[..., Any], space: SpaceSpec, n_trials: int, *,
                  mode: str = "min", budget: float = 1, seed: int = 0,
                  progress: bool | None = None) -> SearchResult:
    """Evaluate ``objective(params, budget)`` at ``n_trials`` random points of ``space``.

    When every entry is finite (lists, ranges, constants) the points are drawn **without
    replacement**, so no point is tried twice (asking for more trials than the space has
    points runs each point once, with a warning). As soon as one entry is a distribution,
    points are drawn independently (with replacement). A union of dicts picks a dict
    uniformly, then a point in it. ``seed`` drives the draws and every trial's seed.
    """
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 0:
        raise ValueError(f"n_trials must be a non-negative int (got {n_trials!r})")
    space = SearchSpace(space)
    rng = default_rng(check_seed(seed))
    if space.finite:
        points = space.sample_distinct(rng, n_trials)
        if len(points) < n_trials:
            warnings.warn(f"random_search: the space has only {len(points)} distinct points; "
                          f"running each once instead of {n_trials} trials", stacklevel=2)
    else:
        points = [space.sample(rng) for _ in range(n_trials)]
    runner = TrialRunner(objective, method="random", mode=mode, seed=seed, space=space,
                         settings={"budget": budget, "n_trials": n_trials}, total=len(points),
                         progress=progress)
    for i, params in enumerate(points):
        runner.run(params, budget, config=i)
    return runner.close()
