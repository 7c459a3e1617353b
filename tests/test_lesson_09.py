"""Lesson 09 runs (fast mode) and shows what it claims about quantization."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

LESSON = Path(__file__).resolve().parents[1] / "lessons" / "09_quantization.py"


@pytest.mark.numpy_only
def test_lesson_09(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MINIDL_FAST", "1")
    monkeypatch.setenv("MINIDL_FIGURES", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    r = runpy.run_path(str(LESSON), run_name="__main__")["results"]
    assert r["float_accuracy"] > 0.9
    assert abs(r["int8_per_channel_accuracy"] - r["float_accuracy"]) <= 0.01
    assert 0.45 < r["error_halves_per_bit"] < 0.55  # one more bit, half the error
    assert r["histogram_beats_minmax_4bit"] and r["per_channel_weight_mse_lower"]
    assert r["qat_gain_3bit"] > 0  # QAT recovers what 3-bit PTQ loses
    assert r["integer_layer_matches"] is True and r["integer_vs_fake_max_step"] <= 1
    assert r["sizes_bytes"]["int8"] < r["sizes_bytes"]["float32"] / 3
    assert r["fp16_max_relative_error"] <= 2 ** -11 and r["bf16_max_relative_error"] <= 2 ** -8
    assert r["article_saves_no_memory"] and r["article_loop_changes_nothing"] and r["fixed_loop_changes_weights"]
    assert r["fp16_needs_no_range"]
    # the integer CNN: as good as float when padded with Z₁; padded with 0 it breaks
    assert r["cnn_float_accuracy"] > 0.9 and r["cnn_input_zero_point"] == -128
    assert abs(r["cnn_int8_accuracy"] - r["cnn_float_accuracy"]) <= 0.015
    assert r["cnn_int8_zero_padded_accuracy"] < r["cnn_int8_accuracy"] - 0.3
    assert r["cnn_padding_max_error_steps"]["Z₁"] <= 0.51  # half a step: the output's rounding
    assert r["cnn_padding_max_error_steps"]["0"] > 20
    assert r["cnn_sizes_bytes"]["int8"] < r["cnn_sizes_bytes"]["float32"] / 3
    for name in ("number_line", "error_vs_bits", "observers", "ste", "ptq_vs_qat", "cnn_padding"):
        assert (tmp_path / f"09_{name}.png").exists()
