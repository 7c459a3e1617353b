"""Grid search: every point of a finite space, each exactly once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from minidl.search.space import SearchSpace, SpaceSpec
from minidl.search.trials import SearchResult, TrialRunner


def grid_search(objective: Callable[..., Any], space: SpaceSpec, *, mode: str = "min",
                budget: float = 1, seed: int = 0, progress: bool | None = None) -> SearchResult:
    """Evaluate ``objective(params, budget)`` at every point of the grid.

    The grid is the product of the choices over the *sorted* keys (the last key varies
    fastest); a list of dicts is the union of their grids, a point two dicts share being
    run once. Every entry must be finite (a list, a range or a constant). ``mode="min"``
    means a lower score is better, ``"max"`` a higher one. ``seed`` seeds each trial
    (see :class:`~minidl.search.trials.TrialRunner`); the grid itself is not random.
    """
    space = SearchSpace(space)
    points = list(space.grid())
    runner = TrialRunner(objective, method="grid", mode=mode, seed=seed, space=space,
                         settings={"budget": budget}, total=len(points), progress=progress)
    for i, params in enumerate(points):
        runner.run(params, budget, config=i)
    return runner.close()
