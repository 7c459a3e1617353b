"""Lesson 04 runs (fast mode) and its numbers say what the lesson claims."""

from __future__ import annotations

from pathlib import Path

import pytest

LESSON = Path(__file__).resolve().parents[1] / "lessons" / "04_adam_rmsprop_adagrad_schedules.py"


def test_lesson_04_saves_its_figures(lesson) -> None:
    folder = lesson.figures
    for name in ("04_per_coordinate_steps", "04_bias_correction", "04_schedules", "04_schedules_training"):
        assert (folder / f"{name}.png").is_file(), name


def test_lesson_04_numbers(lesson) -> None:
    r = lesson.results
    bowl = r["bowl_final_loss"]
    gd = bowl["GD, lr 0.038 (just stable)"]
    assert bowl["Adagrad, lr 0.3"] < 1e-3 * gd and bowl["RMSprop, lr 0.03"] < 1e-3 * gd
    # the bias correction: m̂ = g at step 1 while m = (1 − β₁) g; uncorrected steps up to ~6.6 lr
    assert r["m_hat_first_step_error"] < 1e-12
    assert r["m_first_step_ratio"] == pytest.approx(0.1)
    assert 6.0 < r["max_uncorrected_multiplier"] < 7.0
    acc, first = r["adam_val_accuracy"], r["adam_first_epoch_loss"]
    assert acc["lr=0.05, corrected=True"] > 0.85 > 0.6 > acc["lr=0.05, corrected=False"]
    assert first["lr=0.05, corrected=False"] > 2 * first["lr=0.05, corrected=True"]
    # schedules: the cosine climbs back after T_max (the documented choice); one-cycle ends lowest
    past = r["cosine_past_tmax"]
    assert past[0] == pytest.approx(0.0, abs=1e-12) and all(a < b for a, b in zip(past, past[1:]))
    loss = r["schedule_final_train_loss"]
    assert loss["one-cycle, peak 0.2"] < loss["constant lr 0.1"]
    assert min(r["schedule_val_accuracy"].values()) > 0.85
    assert r["constant_gradient_m_hat_error"] < 1e-12
    assert r["adagrad_steps"] == pytest.approx([1.0, 0.5, 0.1], rel=1e-4)  # lr/√t
    assert r["adam_beta1_0_is_rmsprop"] is True
