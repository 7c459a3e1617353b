"""CNNs learn from real images: a small CNN on the bundled digits, LeNet on an MNIST subset."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

import minidl as md
from examples.mnist_cnn import read_idx, read_mnist, train
from minidl import nn, optim
from minidl.data import DataLoader, load_digits
from minidl.train import evaluate, fit


def test_small_cnn_learns_digits():
    md.manual_seed(0)
    train_set, test_set = load_digits("train", flatten=False), load_digits("test", flatten=False)
    assert train_set.features.shape[1:] == (1, 8, 8)
    model = nn.SmallCNN()
    history = fit(model, nn.functional.cross_entropy, optim.Adam(model.parameters(), lr=3e-3),
                  DataLoader(train_set, batch_size=32, shuffle=True, seed=0), epochs=5, progress=False)
    assert history.train_loss[-1] < history.train_loss[0] / 2
    assert evaluate(model, DataLoader(test_set, batch_size=512))["accuracy"] >= 0.9


@pytest.mark.slow
def test_lenet_learns_an_mnist_subset(shared_data):
    result = train(shared_data / "mnist", epochs=1, batch_size=32, train_limit=640, test_limit=500,
                   progress=False, echo=lambda line: None)
    assert result["test_accuracy"] >= 0.6  # 20 steps; chance is 0.1, the full run reaches 98.5%+
    model = result["model"]
    assert all(p.dtype == np.float32 for p in model.parameters())


def test_mnist_files_parse(shared_data):
    x, y = read_mnist(shared_data / "mnist", "train", limit=5)
    assert x.shape == (5, 1, 28, 28) and x.dtype == np.float32
    assert y.tolist() == [5, 0, 4, 1, 9]  # the well-known first training labels
    assert abs(float(read_mnist(shared_data / "mnist", "test", limit=2000)[0].mean())) < 0.1  # standardized


def test_idx_reader_refuses_broken_files(tmp_path):
    bad_magic = tmp_path / "bad.gz"
    with gzip.open(bad_magic, "wb") as f:
        f.write((1234).to_bytes(4, "big") + (1).to_bytes(4, "big") + b"\x00")
    with pytest.raises(ValueError, match="magic number 1234"):
        read_idx(bad_magic)
    truncated = tmp_path / "short-idx1-ubyte"
    truncated.write_bytes((2049).to_bytes(4, "big") + (10).to_bytes(4, "big") + b"\x01\x02")
    with pytest.raises(ValueError, match="truncated"):
        read_idx(truncated)
    with pytest.raises(FileNotFoundError, match="--data-dir"):
        read_mnist(tmp_path, "train")
