"""Successive halving and Hyperband: spend little on many configurations, more on the best.

The budget is whatever the objective's second argument means — usually epochs. Each
configuration is trained from scratch at every budget it reaches (with the same seed), so
the objective stays a plain ``objective(params, budget)``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

from numpy.random import Generator, default_rng

from minidl.search.space import SearchSpace, SpaceSpec
from minidl.search.trials import SearchResult, Trial, TrialRunner, check_seed


def _check_budgets(eta: float, min_budget: float, max_budget: float | None) -> None:
    if isinstance(eta, bool) or not isinstance(eta, (int, float)) or not eta > 1:
        raise ValueError(f"eta must be a number > 1 (got {eta!r})")
    if isinstance(min_budget, bool) or not isinstance(min_budget, (int, float)) or not min_budget > 0:
        raise ValueError(f"min_budget must be a number > 0 (got {min_budget!r})")
    if max_budget is not None and (isinstance(max_budget, bool) or not isinstance(max_budget, (int, float))
                                   or not max_budget >= min_budget):
        raise ValueError(f"max_budget must be a number >= min_budget={min_budget!r} (got {max_budget!r})")


def halving_schedule(n_configs: int, eta: float = 3, min_budget: float = 1,
                     max_budget: float | None = None) -> list[tuple[int, float]]:
    """The rounds of successive halving as (configurations, budget each) pairs:

        n₀ = n_configs,          r₀ = min_budget
        n_{i+1} = ⌈n_i / η⌉,     r_{i+1} = η · r_i

    until one configuration is left or the next budget would pass ``max_budget``.
    Example: 27 configurations, η = 3, budget 1 → (27, 1), (9, 3), (3, 9), (1, 27): each
    round costs the same 27 epochs. Integer budgets stay integers.
    """
    if isinstance(n_configs, bool) or not isinstance(n_configs, int) or n_configs < 1:
        raise ValueError(f"n_configs must be a positive int (got {n_configs!r})")
    _check_budgets(eta, min_budget, max_budget)
    rounds = [(n_configs, min_budget)]
    n, r = n_configs, min_budget
    while n > 1:
        next_r = r * eta
        if max_budget is not None and next_r > max_budget * (1 + 1e-12):
            break
        n, r = math.ceil(n / eta), next_r
        rounds.append((n, r))
    return rounds


def hyperband_brackets(max_budget: float, eta: float = 3,
                       min_budget: float = 1) -> list[list[tuple[int, float]]]:
    """Hyperband's brackets (Li et al., 2017), each a successive-halving schedule.

    With R = max_budget / min_budget and s_max = ⌊log_η R⌋, bracket s = s_max, …, 0 starts

        n = ⌈(s_max + 1) · ηˢ / (s + 1)⌉ configurations at budget max_budget / ηˢ

    and halves s times, round i keeping n_i = ⌊n · η⁻ⁱ⌋ configurations at budget
    max_budget · η^{i−s}, as in the paper's Algorithm 1 (so n_i ≥ η^{s−i} ≥ 1: the floor
    never reaches zero), so every bracket ends at max_budget: the most aggressive bracket
    tries many configurations briefly, the last trains a few for the whole budget. With
    R = 27, η = 3 the second bracket is 12×3 → 4×9 → 1×27. (Plain successive halving,
    :func:`halving_schedule`, keeps ⌈n/η⌉ instead, so it never ends with no configuration.)
    With integer budgets each budget is rounded to the nearest integer.
    """
    _check_budgets(eta, min_budget, max_budget)
    ratio = max_budget / min_budget
    s_max = 0
    while eta ** (s_max + 1) <= ratio * (1 + 1e-12):
        s_max += 1
    integer = isinstance(max_budget, int) and isinstance(min_budget, int)
    brackets = []
    for s in range(s_max, -1, -1):
        n = math.ceil((s_max + 1) * eta ** s / (s + 1))
        rounds = []
        for i in range(s + 1):
            budget = max_budget / eta ** (s - i)
            n_i = max(1, math.floor(n / eta ** i * (1 + 1e-12)))  # ⌊n η⁻ⁱ⌋, robust to 9/3**2 = 0.99…
            rounds.append((n_i, max(min_budget, round(budget)) if integer else budget))
        brackets.append(rounds)
    return brackets


def _draw_configs(space: SearchSpace, rng: Generator, n: int, method: str) -> list[dict[str, Any]]:
    if space.finite:
        points = space.sample_distinct(rng, n)
        if len(points) < n:
            warnings.warn(f"{method}: the space has only {len(points)} distinct points; "
                          f"starting with those instead of {n}", stacklevel=3)
        return points
    return [space.sample(rng) for _ in range(n)]


def _rank_key(trial: Trial, mode: str) -> tuple[int, float]:
    if not trial.ok:
        return (1, 0.0)  # failed trials rank last
    return (0, trial.score if mode == "min" else -trial.score)


def _run_rounds(runner: TrialRunner, configs: list[tuple[int, dict[str, Any]]],
                rounds: list[tuple[int, float]], bracket: int) -> None:
    alive = configs
    for rung, (_, budget) in enumerate(rounds):
        trials = [runner.run(params, budget, config=cid, rung=rung, bracket=bracket) for cid, params in alive]
        if rung + 1 < len(rounds):
            keep = min(rounds[rung + 1][0], len(alive))
            order = sorted(range(len(alive)), key=lambda j: _rank_key(trials[j], runner.result.mode))
            alive = [alive[j] for j in order[:keep]]


def successive_halving(objective: Callable[..., Any], space: SpaceSpec, n_configs: int, *,
                       min_budget: float = 1, max_budget: float | None = None,
                       eta: float = 3, mode: str = "min", seed: int = 0,
                       progress: bool | None = None) -> SearchResult:
    """Successive halving (Jamieson & Talwalkar, 2016): try ``n_configs`` random
    configurations at ``min_budget``, keep the best ⌈n/η⌉, multiply the budget by η, and
    repeat (see :func:`halving_schedule`). Failed trials rank last.

    ``objective(params, budget)`` is called again for each survivor with the larger budget.
    """
    check_seed(seed)
    space = SearchSpace(space)
    rounds = halving_schedule(n_configs, eta, min_budget, max_budget)
    configs = _draw_configs(space, default_rng(seed), n_configs, "successive_halving")
    if len(configs) < n_configs:
        rounds = halving_schedule(len(configs), eta, min_budget, max_budget)
    runner = TrialRunner(objective, method="successive_halving", mode=mode, seed=seed, space=space,
                         settings={"n_configs": n_configs, "eta": eta, "min_budget": min_budget,
                                   "max_budget": max_budget},
                         total=sum(n for n, _ in rounds), progress=progress)
    _run_rounds(runner, list(enumerate(configs)), rounds, bracket=0)
    return runner.close()


def hyperband(objective: Callable[..., Any], space: SpaceSpec, max_budget: float, *,
              min_budget: float = 1, eta: float = 3, mode: str = "min",
              seed: int = 0, progress: bool | None = None) -> SearchResult:
    """Hyperband (Li et al., 2017): successive halving run over several brackets that trade
    the number of configurations against the budget each starts with (see
    :func:`hyperband_brackets`), so a wrong guess of how early runs can be judged costs
    at most a constant factor."""
    check_seed(seed)
    space = SearchSpace(space)
    brackets = hyperband_brackets(max_budget, eta, min_budget)
    rng = default_rng(seed)
    planned = []
    for rounds in brackets:
        configs = _draw_configs(space, rng, rounds[0][0], "hyperband")
        if len(configs) < rounds[0][0]:
            rounds = [(min(n, len(configs)), r) for n, r in rounds]
        planned.append((configs, rounds))
    runner = TrialRunner(objective, method="hyperband", mode=mode, seed=seed, space=space,
                         settings={"max_budget": max_budget, "min_budget": min_budget, "eta": eta},
                         total=sum(n for _, rounds in planned for n, _ in rounds), progress=progress)
    next_id = 0
    for b, (configs, rounds) in enumerate(planned):
        ids = list(range(next_id, next_id + len(configs)))
        next_id += len(configs)
        _run_rounds(runner, list(zip(ids, configs)), rounds, bracket=b)
    return runner.close()
