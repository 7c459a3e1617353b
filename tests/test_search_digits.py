"""The search package on real data: a tiny architecture search on digits, and the tour chapter."""

from __future__ import annotations

from pathlib import Path

from minidl.search import IntLogUniform, random_search
from minidl.search.digits import mlp_objective
from minidl.tour import run_tour


def test_a_tiny_architecture_search_on_digits_finds_a_good_width_and_depth():
    objective = mlp_objective()
    space = {"width": IntLogUniform(8, 128), "depth": range(1, 4), "lr": [1e-2]}
    result = random_search(objective, space, 5, mode="max", budget=3, seed=0, progress=False)
    assert result.n_failed == 0
    assert result.best_score > 0.9  # validation accuracy after 3 epochs
    for t in result:  # the parameter count the objective reports is the architecture's
        w, d = t.params["width"], t.params["depth"]
        assert t.info["parameters"] == (64 * w + w) + (d - 1) * (w * w + w) + (w * 10 + 10)
        assert 0.0 <= t.info["val_loss"] < 3.0


def test_a_diverging_or_misconfigured_run_is_a_failed_trial_not_a_crash():
    objective = mlp_objective()
    space = [{"optimizer": ["sgd"], "lr": [1e30]},  # blows up: inf, then NaN
             {"optimizer": ["rmsprop"]},  # not offered by the objective
             {"width": [16], "lr": [1e-2]}]  # fine
    result = random_search(objective, space, 3, mode="max", budget=1, seed=0, progress=False)
    by_kind = {t.params.get("optimizer", "ok"): t for t in result}
    assert not by_kind["sgd"].ok and by_kind["sgd"].error
    assert not by_kind["rmsprop"].ok and "optimizer must be 'adam' or 'sgd'" in by_kind["rmsprop"].error
    assert by_kind["ok"].ok and result.best is by_kind["ok"]


def test_the_tour_chapter_compares_four_methods_at_equal_epochs(tmp_path: Path):
    report = run_tour(out_dir=tmp_path, only=["search"], fast=True, echo=lambda line: None)
    chapter = report["chapters"]["search"]
    assert set(chapter) >= {"grid", "random", "halving", "bayesian", "figures"}
    for method in ("grid", "random", "bayesian"):
        assert chapter[method]["epochs"] == chapter["grid"]["epochs"]  # same budget
    for method in ("grid", "random", "halving", "bayesian"):
        assert chapter[method]["best_val_accuracy"] > 0.6
    assert Path(chapter["figures"][0]).is_file()
