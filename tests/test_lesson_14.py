"""Lesson 14 runs end to end in fast mode and reaches its key results."""

from __future__ import annotations

from pathlib import Path

import minidl

LESSON = Path(__file__).resolve().parents[1] / "lessons" / "14_making_it_fast.py"


def test_lesson_14_results(lesson):
    run = lesson  # the same memoized run as tests/test_lessons.py
    assert minidl.is_grad_enabled() and minidl.get_default_dtype() == minidl.float32
    results = run.results
    # No timing assertions (the machine decides those); the numbers must exist and make sense.
    assert results["first_call_over_later"] > 1  # the first call compiled the function
    assert 0 <= results["lenet_rest_share"] < 1
    for key in ("median_us", "self_ratio", "overhead_ratio_small", "relu_numba_gain",
                "blas_over_numba_matmul"):
        assert results[key] > 0
    figures = sorted(p.name for p in run.figures.glob("*.png"))
    assert figures == ["14_overhead_vs_size.png", "14_timing_noise.png"]
