"""Lesson 05 runs (fast mode) and its numbers say what the lesson claims."""

from __future__ import annotations

from pathlib import Path

import pytest

LESSON = Path(__file__).resolve().parents[1] / "lessons" / "05_regularization.py"


def test_lesson_05_saves_its_figures(lesson) -> None:
    folder = lesson.figures
    for name in ("05_overfitting", "05_weight_histograms", "05_adam_l2_vs_adamw"):
        assert (folder / f"{name}.png").is_file(), name


def test_lesson_05_numbers(lesson) -> None:
    r = lesson.results
    t = r["table"]
    none = t["no regularization"]
    l2 = next(v for k, v in t.items() if k.startswith("L2 penalty"))
    sub = next(v for k, v in t.items() if "subgradient" in k)
    prox = next(v for k, v in t.items() if "proximal" in k)
    assert none["train_acc"] > 0.9 and none["val_acc"] < none["train_acc"]  # the gap: overfitting
    assert l2["mean_abs_w"] < none["mean_abs_w"] and sub["mean_abs_w"] < none["mean_abs_w"]
    assert sub["exact_zeros"] == 0.0 < 0.02 < prox["exact_zeros"]  # only the proximal step lands on 0
    assert prox["mean_abs_w"] == pytest.approx(sub["mean_abs_w"], rel=0.1)  # same strength otherwise
    # the factor of 2: weight_decay=λ is (λ/2)‖θ‖², and 2λ is λ‖θ‖²
    assert r["weight_decay_vs_half_penalty_gap"] < 1e-5 < r["weight_decay_vs_full_penalty_gap"]
    assert r["double_decay_vs_full_penalty_gap"] < 1e-5
    a = r["adam_table"]
    start = a["initial weights"]["blank_pixel_mean_abs_w"]
    assert a["Adam"]["blank_pixel_mean_abs_w"] == pytest.approx(start)  # no gradient, no change
    assert a["Adam + L2 (weight_decay=1e-3)"]["blank_pixel_mean_abs_w"] < 0.1 * start  # crushed
    assert 0.5 * start < a["AdamW (weight_decay=0.5)"]["blank_pixel_mean_abs_w"] < start  # (1 − lr·λ)^steps
    eps = r["eps_table"]
    spread = max(v["mean_abs_w"] for v in eps.values()) - min(v["mean_abs_w"] for v in eps.values())
    assert spread < 1e-3 * eps[1e-8]["mean_abs_w"]  # ε regularizes nothing
    assert r["l2_mean_abs_w_for_eps_exercise"] < 0.9 * eps[1e-8]["mean_abs_w"]  # a real penalty does
    for scale, (unsquared, squared) in r["unsquared_norm_grad"].items():
        assert unsquared == pytest.approx(0.1, rel=1e-4)  # constant pull α
        assert squared == pytest.approx(0.1 * 5 * scale, rel=1e-4)  # αw: proportional
