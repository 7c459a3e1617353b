"""Bayesian optimization against Optuna: median simple regret over 10 seeds, and the time per trial.

    python -m benchmarks --only bo            # minidl columns; Optuna's too when it is installed
    pip install -e '.[search-bench]'          # Optuna (TPE, GPSampler) and what its GPSampler needs

Simple regret = best value found − the true minimum, after the same number of evaluations for
every method. Every method runs single-threaded (one BLAS thread, one torch thread) and its
time per trial is CPU time (``time.process_time``), objective included, so two methods timed
on a loaded machine stay comparable.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.harness import Section

PROBLEMS = ("Branin", 30), ("Hartmann-6", 60)


def _problems() -> dict[str, tuple[Callable[..., float], dict[str, Any], int, float]]:
    from minidl.search.toy_functions import (
        BRANIN_MINIMUM,
        BRANIN_SPACE,
        HARTMANN6_MINIMUM,
        HARTMANN6_SPACE,
        branin,
        hartmann6,
    )

    return {"Branin": (branin, BRANIN_SPACE, 30, BRANIN_MINIMUM),
            "Hartmann-6": (hartmann6, HARTMANN6_SPACE, 60, HARTMANN6_MINIMUM)}


def _minidl(method: str) -> Callable[..., float]:
    from minidl.search import bayesian_optimization, random_search

    def run(fn: Callable[..., float], space: dict[str, Any], n: int, seed: int) -> float:
        if method == "random":
            return random_search(fn, space, n, seed=seed, progress=False).best_score
        xi = 0.0 if method == "bo_xi0" else 0.01
        return bayesian_optimization(fn, space, n, seed=seed, xi=xi, progress=False).best_score

    return run


def _optuna(sampler: str) -> Callable[..., float] | None:
    try:
        import optuna
        import torch
    except ImportError:
        return None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    torch.set_num_threads(1)

    def run(fn: Callable[..., float], space: dict[str, Any], n: int, seed: int) -> float:
        s = optuna.samplers.GPSampler(seed=seed) if sampler == "gp" else optuna.samplers.TPESampler(seed=seed)
        study = optuna.create_study(sampler=s)
        study.optimize(lambda t: fn({k: t.suggest_float(k, d.low, d.high) for k, d in space.items()}), n_trials=n)
        return study.best_value

    return run


def measure_regret(seeds: range) -> tuple[dict[str, dict[str, tuple[list[float], float]]], list[str]]:
    """{method: {problem: (regrets per seed, CPU seconds per trial)}}, and the methods measured."""
    from threadpoolctl import threadpool_limits

    methods: dict[str, Callable[..., float] | None] = {
        "minidl BO (ξ = 0.01)": _minidl("bo"), "minidl BO (ξ = 0, default)": _minidl("bo_xi0"),
        "minidl random": _minidl("random"), "Optuna TPE": _optuna("tpe"), "Optuna GPSampler": _optuna("gp")}
    present = [m for m, f in methods.items() if f is not None]
    out: dict[str, dict[str, tuple[list[float], float]]] = {m: {} for m in present}
    with threadpool_limits(1):
        for problem, (fn, space, n, f_min) in _problems().items():
            for method in present:
                start = time.process_time()
                regrets = [methods[method](fn, space, n, s) - f_min for s in seeds]
                out[method][problem] = (regrets, (time.process_time() - start) / (len(seeds) * n))
    return out, present


def run(quick: bool = False) -> Section:
    seeds = range(3 if quick else 10)
    results, methods = measure_regret(seeds)
    rows = []
    for problem, n in PROBLEMS:
        rows.append([f"{problem}, {n} evaluations"]
                    + [f"{np.median(results[m][problem][0]):.3g}" for m in methods])
    for problem, _ in PROBLEMS:
        rows.append([f"{problem}: ms per trial (CPU, 1 thread)"]
                    + [f"{results[m][problem][1] * 1e3:.1f}" for m in methods])
    for problem, _ in PROBLEMS:
        rows.append([f"{problem}: seeds with regret > 0.05 (a local minimum)"]
                    + [f"{sum(r > 0.05 for r in results[m][problem][0])}/{len(seeds)}" for m in methods])
    notes = [f"median simple regret over {len(seeds)} seeds (0…{len(seeds) - 1}); every method gets the same "
             "number of evaluations; lower is better"]
    if "Optuna GPSampler" in methods:
        gp, ours = results["Optuna GPSampler"], results["minidl BO (ξ = 0, default)"]
        tpe = results["Optuna TPE"]
        for problem, _ in PROBLEMS:
            ratio = np.median(ours[problem][0]) / np.median(gp[problem][0])
            notes.append(f"{problem}: minidl BO (ξ = 0, default) / GPSampler median regret = {ratio:.2f}× "
                         "(target ≤ 2×); "
                         f"better than TPE: {np.median(ours[problem][0]) < np.median(tpe[problem][0])}; "
                         f"time per trial {ours[problem][1] / gp[problem][1]:.2f}× GPSampler's (target ≤ 1×)")
        for problem, _ in PROBLEMS:
            for m in ("minidl BO (ξ = 0, default)", "Optuna GPSampler"):
                notes.append(f"{problem}, {m}, regret per seed: "
                             + ", ".join(f"{r:.2g}" for r in results[m][problem][0]))
    else:
        notes.append("Optuna is not installed: its columns are left out (pip install -e '.[search-bench]')")
    return Section(title="Search: Bayesian optimization against Optuna (median simple regret)",
                   header=["problem", *methods], rows=rows, notes=notes)
