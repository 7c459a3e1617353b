"""Lesson 11 runs (fast mode) and its numbers say what the lesson claims."""

from __future__ import annotations

from pathlib import Path

import pytest

LESSON = Path(__file__).resolve().parents[1] / "lessons" / "11_hyperparameter_search.py"


@pytest.fixture(scope="module")
def results(run_lesson):
    run = run_lesson(LESSON)
    return run.results, run.figures


def test_lesson_11_runs_and_saves_its_figures(results):
    _, folder = results
    for name in ("11_grid_vs_random", "11_one_minus_one_minus_p_to_the_n", "11_successive_halving",
                 "11_bo_step_by_step", "11_digits_best_so_far", "11_architecture_search", "11_log_ei_vs_ei",
                 "11_acquisition_paths"):
        assert (folder / f"{name}.png").is_file(), name
    assert (folder / "11_crash_search.json").is_file()


def test_lesson_11_numbers(results):
    r, _ = results
    assert r["random_beats_grid_fraction"] > 0.7  # the Bergstra–Bengio picture, measured
    assert r["prob_top5_59"] == pytest.approx(0.9515, abs=1e-4)
    assert abs(r["simulated_top5_59"] - r["prob_top5_59"]) < 0.08  # 100 simulated searches in fast mode
    assert r["trials_needed_99_top1"] == 459 and r["halving_81_total_epochs"] == 405
    assert r["bo_max_std_at_data"] < 0.05  # the GP is (nearly) certain at its observations
    assert r["bo_final_best_1d"] < -4.0  # BO's frames home in on the Forrester minimum (−6.02)
    assert set(r["digits_mean_best"]) == {"grid", "random", "halving", "bayesian"}
    assert min(r["digits_mean_best"].values()) > 0.7
    epochs = r["digits_epochs_each"]
    assert epochs["grid"] == epochs["random"] == epochs["bayesian"]  # compared at equal epochs
    assert r["winner_test_accuracy"] > 0.8 and r["nas_best_val_accuracy"] > 0.85


def test_lesson_11_new_bayesian_optimization_sections(results):
    r, folder = results
    assert -39 < r["log_ei_underflow_z"] < -38  # h(z) underflows to 0 near z = −38.5
    assert r["acq_climbed_minus_random"] >= 0 and r["acq_paths"] == 10
    assert r["live_branin_bo_median_regret"] < 0.1 < r["live_branin_random_median_regret"]
    assert set(r["ard_length_scales"]) == {"lr", "weight_decay", "width"}
    assert r["exercise5_picks"] == {0.0: "near", 0.5: "far"}  # ξ changes the pick (issue 17)
    assert r["hyperband_27_second_bracket"] == [(12, 3), (4, 9), (1, 27)]  # Li et al.'s floor


def test_lesson_11_figures_are_projector_ready(results):
    import matplotlib.image

    _, folder = results
    for name in ("11_log_ei_vs_ei", "11_acquisition_paths", "11_bo_step_by_step"):
        height, width = matplotlib.image.imread(folder / f"{name}.png").shape[:2]
        assert width >= 800, (name, width)  # 150 dpi at a slide's width
