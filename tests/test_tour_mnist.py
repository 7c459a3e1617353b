"""The whole tour on MNIST (fast mode, shared data): every chapter derives its models and its text
from the dataset (issue 14 §8), and says what part of MNIST it trains on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from minidl.tour import run_tour
from minidl.tour.chapters import CHAPTERS


@pytest.fixture
def mnist_env(shared_data: Path, tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("MINIDL_DATA", str(shared_data))  # what a user sets after downloading
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # checksum verdicts stay in the test
    return tmp_path


def test_every_chapter_runs_on_mnist(mnist_env: Path) -> None:
    printed: list[str] = []
    report = run_tour(out_dir=mnist_env / "tour", dataset="mnist", fast=True, echo=printed.append)
    text = "\n".join(printed)
    assert list(report["chapters"]) == [c.key for c in CHAPTERS]
    # models and text come from the data: 784 inputs, never the digits' 64
    for digits_only in ("64 → 128", "64-128-10", "64→256", "(64, 16", "8×8"):
        assert digits_only not in text, digits_only
    chapters = report["chapters"]
    assert "MLP 784 → 128 → 10 on mnist" in text
    assert "teacher MLP 784 → 256 → 256 → 10" in text and "student 784 → 16 → 10" in text
    assert "784-128-10 MLP" in text  # the quantization chapter's latency line
    assert "28×28 images" in text  # the CNN chapter
    # what part of MNIST the chapters use is said, once at the start and in the chapters
    note = "a stratified 2,000 of the 50,000 training images"
    assert f"The chapters use {note}" in text and text.count(note) >= 5
    assert report["data"] == {"train": 2000, "full_train": 50000}
    # it learns, and the chapters compare the same model
    assert chapters["mlp"]["test_accuracy"] > 0.85
    assert chapters["quantization"]["float32_accuracy"] == chapters["mlp"]["test_accuracy"]
    assert chapters["quantization"]["cnn_float32_accuracy"] == chapters["cnn"]["test_accuracy"]
    assert chapters["distill"]["teacher_accuracy"] > 0.85
    for key, chapter in chapters.items():
        for figure in chapter["figures"]:
            assert Path(figure).is_file(), (key, figure)
    assert not re.search(r"\bnan\b", text, re.IGNORECASE)
