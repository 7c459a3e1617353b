"""The optimizers tour chapter runs in fast mode and reports what its table claims."""

from __future__ import annotations

from minidl.tour.core import run_tour


def test_optimizers_chapter(tmp_path) -> None:
    report = run_tour(tmp_path, only=["optimizers"], fast=True, echo=lambda line: None)
    chapter = report["chapters"]["optimizers"]
    rows = chapter["optimizers"]
    gd, sgd = rows["GD (full batch, lr 0.5)"], rows["SGD (batch 32, lr 0.05)"]
    momentum, adam = rows["SGD + momentum 0.9"], rows["Adam (lr 3e-3)"]
    assert gd["steps"] == chapter["epochs"] and sgd["steps"] == 34 * chapter["epochs"]
    assert gd["train_loss"] > sgd["train_loss"] > momentum["train_loss"]
    assert min(momentum["val_accuracy"], adam["val_accuracy"]) > 0.9 > gd["val_accuracy"]
    assert (tmp_path / "optimizers_loss_curves.png").is_file()
