"""CNNs learn from real images: a small CNN on the bundled digits, LeNet on an MNIST subset."""

from __future__ import annotations

import numpy as np
import pytest

import minidl as md
from examples.mnist_cnn import train
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
    """The `make mnist-cnn` script, on 640 training images (20 steps): it must be learning."""
    result = train(shared_data, epochs=1, batch_size=32, train_limit=640, test_limit=500,
                   progress=False, echo=lambda line: None)
    assert result["train_samples"] == 640
    assert result["test_accuracy"] >= 0.6  # chance is 0.1; the full run reaches 98.5%+
    assert all(p.dtype == np.float32 and p.grad.dtype == np.float32 for p in result["model"].parameters())
