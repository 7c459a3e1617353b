"""Lesson 07 runs end to end in fast mode and reaches its key results."""

from __future__ import annotations

from pathlib import Path

import minidl

LESSON = Path(__file__).resolve().parents[1] / "lessons" / "07_convolution.py"


def test_lesson_07_results(lesson):
    run = lesson  # the same memoized run as tests/test_lessons.py
    assert minidl.is_grad_enabled() and minidl.get_default_dtype() == minidl.float32
    results = run.results
    assert results["dataset"] == "digits 8×8"  # fast mode trains on the bundled digits
    assert results["test_accuracy"] >= 0.85
    assert 0 < results["conv_share_of_step"] < 1
    assert results["col2im_numba_vs_naive"] > 0 and results["lenet_step_ms"] > 0
    names = sorted(p.name for p in run.figures.glob("*.png"))
    assert names == ["07_cnn_filters.png", "07_col2im_timings.png", "07_im2col_picture.png",
                     "07_lenet_step_profile.png"]
