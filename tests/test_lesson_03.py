"""Lesson 03 runs (fast mode) and its numbers say what the lesson claims."""

from __future__ import annotations

from pathlib import Path

import pytest

LESSON = Path(__file__).resolve().parents[1] / "lessons" / "03_gradient_descent_sgd_momentum.py"


def test_lesson_03_saves_its_figures_and_the_animation(lesson) -> None:
    folder = lesson.figures
    for name in ("03_gd_vs_sgd_paths", "03_batch_noise", "03_rosenbrock", "03_momentum_forms"):
        assert (folder / f"{name}.png").is_file(), name
    from PIL import Image

    with Image.open(folder / "03_rosenbrock.gif") as gif:
        assert gif.n_frames > 5


def test_lesson_03_numbers(lesson) -> None:
    r = lesson.results
    # GD reaches the least-squares solution; batch-1 SGD only gets near it (a noise floor)
    assert r["gd_distance_to_least_squares"] < 1e-3 < r["sgd_batch1_distance_to_least_squares"] < 0.3
    noise = r["batch_noise"]
    assert noise[1] > noise[4] > noise[16] > noise[64]
    assert -0.7 < r["batch_noise_slope"] < -0.3  # ≈ −½: error ∝ 1/√B
    d = r["rosenbrock_distance"]
    assert d["momentum 0.9, lr 1e-3"] < 0.05 < d["GD, lr 1e-3"]
    assert d["Nesterov 0.9, lr 1e-3"] < 0.05
    # the two momentum forms: equal with a constant lr, ~10x apart right after an lr drop
    assert r["momentum_forms_same_when_lr_constant"] < 1e-4
    assert r["step_after_drop_sutskever"] > 5 * r["step_after_drop_pytorch"]
    assert r["momentum_last_step"] == pytest.approx(1.0, abs=1e-3)  # lr/(1 − μ)
    p = r["gd_parabola_final"]
    assert p[0.1] < 1e-3 and p[0.45] < 0.1 and p[0.5] == pytest.approx(1.0) and p[0.55] > 10
