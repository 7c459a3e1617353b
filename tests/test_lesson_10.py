"""Lesson 10 (knowledge distillation) runs in fast mode and shows what it claims: the soft
gradient formula, T²'s 1/T² compensation and the logit-matching limit, the batchmean bug,
rounding vs argmax, and why copying parameters is not distillation."""

from __future__ import annotations

from pathlib import Path

import pytest

LESSON = Path(__file__).resolve().parents[1] / "lessons" / "10_knowledge_distillation.py"


@pytest.fixture(scope="module")
def lesson(run_lesson) -> tuple[dict, Path]:
    run = run_lesson(LESSON)
    return run.results, run.figures


def test_the_math_checks_out(lesson) -> None:
    results, _ = lesson
    assert results["gradient_formula_max_error"] < 1e-12
    assert results["high_t_limit_error"] < 0.02  # T·(p_s − p_t) → (z_s − z_t)/C as T grows
    assert -2.2 < results["no_t2_decay_slope"] < -1.8  # without T² the gradient fades as 1/T²
    assert results["batchmean_over_mean"] == pytest.approx(results["classes"])
    assert results["alpha_without_t2"] == pytest.approx(0.1 / (0.1 + 0.9 / 64))
    top = results["top_probability_by_T"]
    assert top[1.0] > top[4.0] > top[20.0] > 0.1  # the temperature softens the teacher


def test_teacher_student_and_experiments_ran(lesson) -> None:
    results, _ = lesson
    assert results["fast_mode"] is True
    assert results["teacher_accuracy"] > 0.9
    assert results["teacher_parameters"] == 85_002 and results["student_parameters"] == 1_210
    assert len(results["all_labels_scratch"]) == len(results["all_labels_distilled"]) == results["seeds"]
    for rows in results["few_labels"].values():
        assert set(rows) == {"scratch", "teacher's argmax", "distilled"}
        assert all(0.1 <= v <= 1.0 for v in rows.values())
    grid = results["grid_accuracy"]
    assert len(grid) == len(results["grid_temperatures"]) and len(grid[0]) == len(results["grid_alphas"])


def test_hard_labels_and_the_source_articles_exercises(lesson) -> None:
    results, _ = lesson
    assert results["rounded_no_label_fraction_T4"] > 0.0  # rounding probabilities loses labels
    assert results["copy_refused"] is True  # copying parameters fails when the shapes differ
    assert results["clone_matches_teacher"] is True  # ... and compresses nothing when they match
    assert all(0.5 < acc <= 1.0 for acc in results["merged_neurons_accuracy"].values())


def test_pipeline_section_measures_only_what_exists(lesson) -> None:
    results, _ = lesson
    pipeline = results["pipeline"]
    # until the prune and quantize steps run, only the two float32 models are points
    assert set(pipeline["points"]) == {"teacher (float32)", "distilled student (float32)"}
    assert "prune" in pipeline["status"]
    teacher, student = pipeline["points"]["teacher (float32)"], pipeline["points"]["distilled student (float32)"]
    assert teacher["bytes"] == 4 * results["teacher_parameters"]
    assert student["bytes"] == 4 * results["student_parameters"]
    assert teacher["latency_ms_batch1"] > 0 and student["latency_ms_batch128"] > 0


def test_figures_saved(lesson) -> None:
    _, folder = lesson
    for name in ("10_dark_knowledge", "10_t_squared", "10_students", "10_grid", "10_pareto"):
        assert (folder / f"{name}.png").exists(), name
