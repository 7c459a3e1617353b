"""Lesson 13 runs (fast mode) and shows what it claims: the stand-in catches a leak, and the
same training script gives the same weights on NumPy and on the stand-in."""

from __future__ import annotations

from pathlib import Path

import pytest

LESSON = Path(__file__).resolve().parents[1] / "lessons" / "13_same_code_on_a_gpu.py"


@pytest.mark.numpy_only
def test_lesson_13(lesson) -> None:
    run = lesson  # the same memoized run as tests/test_lessons.py
    results = run.results
    assert results["leak_caught"] is True
    assert results["standin_matches_numpy"] is True
    assert results["accuracy_cpu"] > 0.5 and results["accuracy_device"] > 0.5
    assert (run.figures / "13_cpu_vs_gpu.png").exists()
