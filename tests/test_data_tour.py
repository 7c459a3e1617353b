"""The tour's data chapter: offline on digits, and on MNIST when its files are available."""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path

from minidl.cli import main
from minidl.tour import run_tour


def test_data_chapter_on_digits(tmp_path):
    report = run_tour(out_dir=tmp_path, only=["data"], fast=True, echo=lambda line: None)
    data = report["chapters"]["data"]
    assert data["kappa_raw"] > 100 * data["kappa_standardized"]
    losses = data["val_loss_by_lr"]
    assert losses["standardized"]["0.1"] < losses["raw"]["0.1"]  # same step size: standardized is ahead
    curve = data["learning_curve"]
    sizes = sorted(curve, key=int)
    assert curve[sizes[-1]]["test_accuracy"] > curve[sizes[0]]["test_accuracy"]
    assert data["train_samples"] == 1078
    assert all(Path(f).is_file() for f in data["figures"])


def test_tour_dataset_mnist_runs_the_same_chapter(shared_data, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MINIDL_DATA", str(shared_data))  # what a user sets after downloading
    assert main(["tour", "--dataset", "mnist", "--only", "data", "--fast", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "tour on mnist" in printed and "a stratified 2,000 of 50,000" in printed


def test_tour_dataset_mnist_offline_is_a_clean_error(tmp_path, monkeypatch, capsys):
    from minidl.data import mnist

    with socket.socket() as s:  # a port where nothing listens: as good as being offline
        s.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{s.getsockname()[1]}/"
    monkeypatch.setattr(mnist, "MNIST", dataclasses.replace(mnist.MNIST, mirrors=(nowhere,)))
    monkeypatch.setenv("MINIDL_DATA", str(tmp_path / "empty"))
    assert main(["tour", "--dataset", "mnist", "--only", "data", "--fast", "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "MNIST is not available" in error and "MINIDL_DATA" in error


def test_data_chapter_notices_standardizing_with_the_test_statistics(tmp_path, monkeypatch):
    # The bug the chapter must catch (issue 14 §9): a scaler fitted on the test split instead of the
    # training split. The chapter claims the training features come out with mean 0 and std 1.
    import pytest

    from minidl.course import ClaimFailed
    from minidl.data import load_digits
    from minidl.data.transforms import Standardize
    from minidl.tour.chapters import data as data_chapter

    report = run_tour(out_dir=tmp_path, only=["data"], fast=True, echo=lambda line: None)
    assert report["chapters"]["data"]["standardized_train_mean_error"] < 1e-4
    assert report["chapters"]["data"]["standardized_train_std_error"] < 1e-3

    test_features = load_digits("test").features

    class FittedOnTheTestSplit(Standardize):
        def fit(self, x, *, refit=False):
            return super().fit(test_features, refit=refit)

    monkeypatch.setattr(data_chapter, "Standardize", FittedOnTheTestSplit)
    with pytest.raises(ClaimFailed, match="training statistics"):
        run_tour(out_dir=tmp_path, only=["data"], fast=True, echo=lambda line: None)
