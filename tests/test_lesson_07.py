"""Lesson 07 runs end to end in fast mode and reaches its key results."""

from __future__ import annotations

import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_lesson_07_runs(monkeypatch, tmp_path):
    monkeypatch.setenv("MINIDL_FAST", "1")
    monkeypatch.setenv("MINIDL_FIGURES", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    results = runpy.run_path(str(ROOT / "lessons" / "07_convolution.py"), run_name="__main__")["results"]
    assert results["dataset"] == "digits 8×8"  # fast mode trains on the bundled digits
    assert results["test_accuracy"] >= 0.85
    assert 0 < results["conv_share_of_step"] < 1
    assert results["col2im_numba_vs_naive"] > 0 and results["lenet_step_ms"] > 0
    for name in ("im2col_picture", "col2im_timings", "lenet_step_profile", "cnn_filters"):
        assert (tmp_path / f"{name}.png").stat().st_size > 1000
