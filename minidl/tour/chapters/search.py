"""Chapter: four ways to search learning rate × weight decay × width, at the same epochs spent."""

from __future__ import annotations

import time

from minidl.data import subsample
from minidl.search import (
    IntLogUniform,
    LogUniform,
    bayesian_optimization,
    grid_search,
    random_search,
    successive_halving,
)
from minidl.search.digits import mlp_objective
from minidl.search.plots import plot_best_so_far
from minidl.tour.core import ChapterResult, TourContext, chapter

MAX_TRAIN = 2_000  # on a large dataset the trials train on a stratified subset (every epoch counts 36×)

SPACE = {"lr": LogUniform(1e-4, 1e-1), "weight_decay": LogUniform(1e-6, 1e-1), "width": IntLogUniform(8, 128)}


def _fmt_params(params: dict) -> str:
    return f"lr {params['lr']:.2g}, wd {params['weight_decay']:.1g}, width {params['width']}"


@chapter("search", "Hyperparameter search: grid vs random vs halving vs Bayesian (same epochs)")
def run(ctx: TourContext) -> ChapterResult:
    train, val, _ = ctx.splits()
    if len(train) > MAX_TRAIN:
        train = subsample(train, size=MAX_TRAIN, strategy="stratified", seed=ctx.seed)
    objective = mlp_objective(train, val)
    if ctx.fast:  # 8 trials of 1 epoch; halving 6 × 1 then 2 × 3
        grid = {"lr": [3e-3, 3e-2], "weight_decay": [1e-5, 1e-2], "width": [16, 64]}
        n_trials, epochs, n_halving, halving_max = 8, 1, 6, 3
    else:  # 36 epochs each: 12 trials × 3 epochs; halving 18 × 1 then 6 × 3
        grid = {"lr": [1e-3, 1e-2, 1e-1], "weight_decay": [1e-5, 1e-2], "width": [16, 128]}
        n_trials, epochs, n_halving, halving_max = 12, 3, 18, 3
    common = {"mode": "max", "seed": ctx.seed, "progress": False}
    runs = {
        "grid": lambda: grid_search(objective, grid, budget=epochs, **common),
        "random": lambda: random_search(objective, SPACE, n_trials, budget=epochs, **common),
        "halving": lambda: successive_halving(objective, SPACE, n_halving, min_budget=1,
                                              max_budget=halving_max, **common),
        "bayesian": lambda: bayesian_optimization(objective, SPACE, n_trials, budget=epochs, **common),
    }
    results, seconds = {}, {}
    for name, search in runs.items():
        start = time.perf_counter()
        results[name] = search()
        seconds[name] = time.perf_counter() - start
    worst_final = min(r.best_score for r in results.values())
    fig = plot_best_so_far(results, ylabel="best validation accuracy so far (%)", percent=True,
                           title=f"MLP on {ctx.dataset}: lr × weight decay × width",
                           ylim=(max(0.0, 100 * worst_final - 15), 100))
    figure = ctx.save(fig, "search_best_so_far")
    lines = [f"{'method':9s} {'trials':>6s} {'epochs':>6s} {'best val acc':>12s}  best configuration"]
    metrics: dict = {}
    for name, r in results.items():
        lines.append(f"{name:9s} {len(r):6d} {r.total_budget:6.0f} {r.best_score:12.1%}  "
                     f"{_fmt_params(r.best_params)}")
        metrics[name] = {"trials": len(r), "epochs": r.total_budget, "best_val_accuracy": r.best_score,
                         "best_params": r.best_params, "failed": r.n_failed,
                         "seconds": round(seconds[name], 3)}
    if len(train) < ctx.full_sizes()[0]:
        lines.append(f"each trial trains on a stratified {len(train):,} of the {ctx.full_sizes()[0]:,} "
                     f"training images and is scored on {len(val):,} validation images")
    lines.append(f"best-so-far curves: {figure}")
    return ChapterResult(lines=lines, metrics=metrics, figures=[figure])
