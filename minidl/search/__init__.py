"""Hyperparameter and model search: grid, random, successive halving, Hyperband, Bayesian
optimization — all driving one user function ``objective(params, budget) -> score``.

    from minidl.search import LogUniform, random_search

    def objective(params, budget):          # budget: epochs to train
        ...                                  # build, train, validate
        return val_accuracy

    space = {"lr": LogUniform(1e-4, 1e-1), "width": [32, 64, 128]}
    result = random_search(objective, space, n_trials=20, mode="max", seed=0)
    print(result.table()); print(result.best_params)
    result.save("search.json")              # reload with load_result("search.json")

Bayesian optimization's parts: ``gp`` (kernels, posterior, marginal likelihood, prior),
``acquisition`` (EI and a stable log EI), ``optimize`` (box BFGS, and L-BFGS for one problem
or a batch of independent ones), ``bayesian`` (the loop and the acquisition optimizer);
``toy_functions`` holds Branin, Forrester and Hartmann-6 with their known minima.

``mode="min"`` means lower scores are better (a loss), ``mode="max"`` higher (accuracy).
One ``seed`` drives every random choice and each trial's seed, and is recorded. A trial
that raises or returns NaN is recorded as failed, with its error, and the search goes on;
a score that is not a number stops the search with a ``TypeError`` naming the trial.
"""

from minidl.search.acquisition import (
    expected_improvement,
    log_expected_improvement,
    log_ndtr,
    normal_cdf,
    normal_pdf,
)
from minidl.search.bayesian import (
    bayesian_optimization,
    default_n_initial,
    gp_expected_improvement,
    gp_log_expected_improvement,
    maximize_acquisition,
)
from minidl.search.gp import (
    GaussianProcess,
    gp_posterior,
    log_marginal_likelihood,
    matern52_kernel,
    rbf_kernel,
)
from minidl.search.grid import grid_search
from minidl.search.halving import halving_schedule, hyperband, hyperband_brackets, successive_halving
from minidl.search.optimize import minimize_bfgs, minimize_lbfgs, minimize_lbfgs_batch, minimize_multi_start
from minidl.search.random_search import prob_top_fraction, random_search, trials_needed
from minidl.search.space import Categorical, IntLogUniform, IntUniform, LogUniform, SearchSpace, Uniform
from minidl.search.trials import SearchResult, Trial, load_result

__all__ = [
    "Categorical", "GaussianProcess", "IntLogUniform", "IntUniform", "LogUniform", "SearchResult",
    "SearchSpace", "Trial", "Uniform", "bayesian_optimization", "default_n_initial", "expected_improvement",
    "gp_expected_improvement", "gp_log_expected_improvement", "gp_posterior", "grid_search",
    "halving_schedule", "hyperband", "hyperband_brackets", "load_result", "log_expected_improvement",
    "log_marginal_likelihood", "log_ndtr", "matern52_kernel", "maximize_acquisition", "minimize_bfgs",
    "minimize_lbfgs", "minimize_lbfgs_batch", "minimize_multi_start", "normal_cdf", "normal_pdf",
    "prob_top_fraction", "random_search", "rbf_kernel", "successive_halving", "trials_needed",
]
