"""Every lesson runs, in fast mode, and reaches its key results (d2l's habit: lessons are CI).

Lessons are found with a glob, so a new ``lessons/NN_*.py`` is tested without touching this
file. Each must define a dict ``results`` and save at least one figure; lessons listed in
``CHECKS`` also have their numbers checked.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import minidl

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "lessons").glob("[0-9][0-9]_*.py"))
SECONDS_PER_LESSON = 60  # fast mode aims at a few seconds; this only catches a lesson ignoring it


def lesson_number(path: Path) -> int:
    return int(path.name[:2])


def check_01(results: dict[str, Any]) -> None:
    assert results["scalar_autograd_matches"] is True
    assert results["max_abs_diff"] < 1e-12
    assert results["bias_grad_is_batch_sum"] is True
    assert results["second_derivative_ok"] is True
    assert results["gradcheck_passed"] is True
    # central differences in float64 agree with autograd; float32 cannot get close
    assert results["tanh_autograd_vs_central_difference"] < 1e-8
    assert results["best_fd_error_float64"] < 1e-9 < 1e-7 < results["best_fd_error_float32"]


def check_02(results: dict[str, Any]) -> None:
    assert results["test_accuracy"] >= 0.8, results
    assert results["mlp_test_accuracy"] >= 0.8, results
    assert results["gradient_formula_max_error"] < 1e-12
    assert results["large_lr_final_loss"] > 2.0  # stuck near ln 10 with dead relus


CHECKS: dict[int, Callable[[dict[str, Any]], None]] = {1: check_01, 2: check_02}


def test_lessons_exist_and_checks_point_at_them() -> None:
    numbers = [lesson_number(p) for p in LESSONS]
    assert numbers, "no lessons/NN_*.py found"
    assert len(numbers) == len(set(numbers)), f"two lessons share a number: {numbers}"
    assert set(CHECKS) <= set(numbers), f"checks for lessons that do not exist: {set(CHECKS) - set(numbers)}"


# The course's conventions (issue 17): every lesson follows them.
FOLLOWS_CONVENTIONS = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}


def _cells(path: Path) -> list[tuple[str, str]]:
    """(header line, body) of every jupytext cell of a lesson."""
    text = path.read_text(encoding="utf-8")
    parts = re.split(r"^(# %%.*)$", text, flags=re.M)
    return [(parts[i], parts[i + 1]) for i in range(1, len(parts) - 1, 2)]


@pytest.mark.parametrize("path", [p for p in LESSONS if lesson_number(p) in FOLLOWS_CONVENTIONS],
                         ids=lambda p: p.stem)
def test_lesson_follows_the_course_conventions(path: Path) -> None:
    cells = _cells(path)
    header = next(body for head, body in cells if "[markdown]" in head)
    assert "(../docs/notation.md)" in header, f"{path.name}: the header must link the notation table"
    assert re.search(r"Time: the full version takes about \d+ s", header), f"{path.name}: say how long it takes"
    first_code = next(body for head, body in cells if "[markdown]" not in head)
    assert "lesson_threads()" in first_code, f"{path.name}: set the BLAS threads at the top (lesson_threads())"
    # every exercise question is followed by its answer, in cells tagged as answers
    questions = [i for i, (head, body) in enumerate(cells)
                 if "[markdown]" in head and "answer" not in head and re.search(r"^# \*\*\d+\.", body, re.M)]
    assert questions, f"{path.name} has no exercises"
    for i in questions:
        assert i + 1 < len(cells) and 'tags=["answer", "hide-cell"]' in cells[i + 1][0], (
            f"{path.name}: the exercise in cell {i} must be followed by an answer cell (tags answer, hide-cell)")
    assert not re.search(r"(?<!\*)\*Answer\.\*(?!\*)", path.read_text(encoding="utf-8")), (
        f"{path.name}: an answer left inside a question")
    assert re.search(rf'check\("{lesson_number(path):02d}\.\d+"', path.read_text(encoding="utf-8")), (
        f"{path.name}: at least one exercise needs a minidl.course.check")


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_lesson_title(path: Path) -> None:
    # minidl.course.list_lessons reads the title from the first "# # " heading
    lines = path.read_text(encoding="utf-8").splitlines()
    first_heading = next(line for line in lines if line.startswith("# # "))
    assert re.fullmatch(rf"# # Lesson {lesson_number(path):02d} — \S.*", first_heading), first_heading


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_lesson_runs(path: Path, run_lesson: Callable[[Path], Any]) -> None:
    run = run_lesson(path)
    assert isinstance(run.results, dict) and run.results, f"{path.name} must end by defining a dict `results`"
    assert list(run.figures.glob("*.png")), f"{path.name} saved no figure in $MINIDL_FIGURES"
    assert run.seconds < SECONDS_PER_LESSON, f"{path.name} took {run.seconds:.1f} s in fast mode"
    # a lesson must leave minidl as it found it, or it would change the tests that run after it
    assert run.grad_enabled_after
    assert run.default_dtype_after == minidl.float32

    check = CHECKS.get(lesson_number(path))
    if check is not None:
        check(run.results)
