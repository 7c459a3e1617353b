"""What a Bayesian-optimization step costs (GP fit + EI maximization) next to what it decides
about (training epochs), and how much better than random search it is at equal evaluations."""

from __future__ import annotations

import numpy as np

from benchmarks.harness import Section, fmt_time, measure, spread

OBSERVATIONS = (10, 30, 60)


def _digits_epoch():
    import minidl
    from minidl import nn, optim
    from minidl.data import DataLoader, load_digits
    from minidl.train import fit

    minidl.manual_seed(0)
    train = load_digits("train")
    model = nn.MLP([64, 64, 10])
    opt = optim.Adam(model.parameters(), lr=3e-3)
    loader = DataLoader(train, batch_size=64, shuffle=True, seed=0)

    def epoch() -> None:
        fit(model, nn.functional.cross_entropy, opt, loader, epochs=1, progress=False)

    return epoch


def _bo_step(n: int):
    """Fit the GP to n observations of a 3-D search (lr, weight decay, width) from a cold start
    and pick the next point, as one step of ``bayesian_optimization`` does."""
    from minidl.search import (
        GaussianProcess,
        IntLogUniform,
        LogUniform,
        SearchSpace,
        maximize_acquisition,
    )
    from minidl.search.bayesian import gp_log_expected_improvement

    space = SearchSpace({"lr": LogUniform(1e-4, 1e-1), "weight_decay": LogUniform(1e-6, 1e-1),
                         "width": IntLogUniform(8, 256)})
    rng = np.random.default_rng(0)
    X = space.encode(space.latin_hypercube(rng, n))
    y = np.sin(5 * X[:, 0]) + 0.3 * X[:, 2] + 0.01 * rng.standard_normal(n)  # a smooth score

    def step() -> None:
        gp = GaussianProcess("matern52", n_restarts=0, seed=0).fit(X, y)
        maximize_acquisition(lambda U: gp_log_expected_improvement(gp, U),
                             space, np.random.default_rng(1), anchors=X[np.argsort(y)[:1]],
                             gradient=lambda U: gp_log_expected_improvement(gp, U, with_gradient=True),
                             length_scale=gp.length_scale)

    return step


def _bo_vs_random(seeds: range) -> dict[str, tuple[int, float, float]]:
    from minidl.search import bayesian_optimization, random_search
    from minidl.search import toy_functions as toy

    out = {}
    problems = [("Branin (2-D), 20 evaluations", toy.branin, toy.BRANIN_SPACE, 20, toy.BRANIN_MINIMUM),
                ("Forrester (1-D), 12 evaluations", toy.forrester, toy.FORRESTER_SPACE, 12, toy.FORRESTER_MINIMUM)]
    for name, fn, space, n, f_min in problems:
        bo = [bayesian_optimization(fn, space, n, seed=s, progress=False).best_score for s in seeds]
        rs = [random_search(fn, space, n, seed=s, progress=False).best_score for s in seeds]
        out[name] = (sum(b < r for b, r in zip(bo, rs)), float(np.median(bo)) - f_min,
                     float(np.median(rs)) - f_min)
    return out


def run(quick: bool = False) -> Section:
    candidates = {"one digits epoch (MLP 64-64-10, batch 64)": _digits_epoch()}
    for n in OBSERVATIONS:
        candidates[f"one BO step, {n} observations"] = _bo_step(n)
    timings = measure(candidates, number=1 if quick else 3, rounds=3 if quick else 7, warmup=1)
    ref = timings["one digits epoch (MLP 64-64-10, batch 64)"].median_s
    rows = [[name, fmt_time(t.median_s), spread(t), f"{t.median_s / ref:.2f}×"]
            for name, t in timings.items()]
    seeds = range(3 if quick else 10)
    notes = ["a BO step: fit the GP's hyperparameters (L-BFGS on log marginal likelihood + prior, from the "
             "defaults: cold, where bayesian_optimization also starts from its last fit) and maximize log EI "
             "(2048 random candidates, then 10 independent L-BFGS climbs in length-scale units) over lr × weight "
             "decay × width; the comparison with Optuna is bench_bo"]
    for name, (wins, gap_bo, gap_rs) in _bo_vs_random(seeds).items():
        notes.append(f"{name}: BO beats random search in {wins}/{len(seeds)} seeds; median gap to the "
                     f"minimum {gap_bo:.3f} (BO) vs {gap_rs:.3f} (random)")
    return Section(title="Search: the cost of a Bayesian-optimization step, and what it buys",
                   header=["what", "median", "spread", "vs one epoch"], rows=rows, notes=notes)
