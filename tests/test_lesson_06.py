"""Lesson 06 runs in fast mode and shows what it claims: conditioning, augmentation, learning curves."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

import minidl
import minidl.data
from minidl.data import DatasetNotAvailableError
from tests.conftest import SHARED_DATA

LESSON = Path(__file__).resolve().parents[1] / "lessons" / "06_data_optimization.py"
FIGURES = ["06_augmentation_grid.png", "06_conditioning.png", "06_learning_curve.png"]


def test_lesson_leaves_minidl_as_it_found_it(lesson):
    assert minidl.is_grad_enabled() and minidl.get_default_dtype() == minidl.float32
    assert lesson.figure_names == FIGURES


def test_standardization_and_conditioning(lesson):
    results = lesson.results
    # κ from ~15,000 to ~9; GD stalls on raw features and converges on standardized ones
    assert results["kappa_raw"] > 1000 > 20 > results["kappa_standardized"]
    assert results["gd_weight_error_raw"] > 0.5 and results["gd_loss_ratio_raw"] > 1.5
    assert results["gd_weight_error_standardized"] < 1e-3
    assert results["slow_shrink_measured"] == pytest.approx(results["slow_shrink_predicted"], rel=1e-3)
    assert results["whitened_kappa"] == pytest.approx(1.0, abs=1e-4)


def test_augmentation_learning_curve_and_flips(lesson):
    results = lesson.results
    if (SHARED_DATA / "mnist").is_dir():  # CI: the lesson must find MNIST in the shared folder
        assert results["augmentation_dataset"] == "MNIST"
        assert 0.7 < results["zero_fraction"] < 0.9
    assert 0.5 < results["test_accuracy_plain"] <= 1 and 0.5 < results["test_accuracy_augmented"] <= 1
    curve = results["learning_curve"]
    assert curve[max(curve)] > curve[min(curve)]  # more data, better test accuracy
    assert results["mirrored_test_accuracy"] < results["digits_test_accuracy"] - 0.3  # a mirrored 2 is no 2


def test_without_mnist_the_lesson_falls_back_to_digits(tmp_path, monkeypatch):
    def unavailable(*args, **kwargs):
        raise DatasetNotAvailableError("MNIST is not available: (simulated) no files and no network.")

    monkeypatch.setattr(minidl.data, "load_mnist", unavailable)  # what a user's offline clone sees
    monkeypatch.setenv("MINIDL_FAST", "1")
    monkeypatch.setenv("MINIDL_FIGURES", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    results = runpy.run_path(str(LESSON), run_name="__main__")["results"]
    assert results["augmentation_dataset"] == "digits"
    assert 0.5 < results["test_accuracy_augmented"] <= 1
    assert (tmp_path / "06_augmentation_grid.png").is_file()
