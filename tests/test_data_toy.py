"""Toy 2-D datasets: shapes, balance, seeds, the geometry each docstring states, and one that is learnt."""

from __future__ import annotations

import numpy as np
import pytest

import minidl
from minidl import nn, optim
from minidl.backend import to_numpy
from minidl.data import DataLoader, make_blobs, make_circles, make_moons, make_spirals, make_xor, random_split
from minidl.train import evaluate, fit

GENERATORS = [make_moons, make_circles, make_spirals, make_xor, make_blobs]


def on_host(ds):
    """(features, labels) of a dataset as NumPy arrays, wherever the dataset lives."""
    return to_numpy(ds.features), to_numpy(ds.labels)


@pytest.mark.parametrize("make", GENERATORS)
def test_shapes_balance_and_seeds(make):
    ds = make(n_samples=101, seed=3)
    assert ds.features.shape == (101, 2) and ds.features.dtype == np.float32
    assert ds.labels.dtype == np.int64
    features, labels = on_host(ds)
    counts = np.bincount(labels)
    assert counts.sum() == 101 and counts.max() - counts.min() <= 1
    assert len(ds.class_names) == ds.num_classes == len(counts)
    np.testing.assert_array_equal(on_host(make(n_samples=101, seed=3))[0], features)
    assert not np.array_equal(on_host(make(n_samples=101, seed=4))[0], features)
    assert not np.array_equal(np.sort(labels), labels)  # shuffled, not class by class


def test_noise_free_geometry():
    features, labels = on_host(make_moons(400, noise=0.0))
    upper, lower = features[labels == 0], features[labels == 1]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0, atol=1e-6)
    assert upper[:, 1].min() >= 0 and lower[:, 1].max() <= 0.5

    features, labels = on_host(make_circles(300, noise=0.0, factor=0.3))
    radius = np.hypot(*features.T)
    np.testing.assert_allclose(radius[labels == 0], 1.0, atol=1e-6)
    np.testing.assert_allclose(radius[labels == 1], 0.3, atol=1e-6)

    x, labels = on_host(make_xor(200, noise=0.0, margin=0.1))
    assert np.all(np.abs(x) >= 0.1 - 1e-7) and np.all(np.abs(x) <= 1)
    np.testing.assert_array_equal(labels, (np.sign(x[:, 0]) != np.sign(x[:, 1])).astype(int))

    spirals = make_spirals(300, n_classes=3, noise=0.0)
    assert spirals.num_classes == 3 and np.hypot(*on_host(spirals)[0].T).max() <= 1 + 1e-6

    features, labels = on_host(make_blobs(300, centers=[[0, 0], [10, 10]], cluster_std=0.5))
    for k, centre in enumerate([[0, 0], [10, 10]]):
        np.testing.assert_allclose(features[labels == k].mean(axis=0), centre, atol=0.15)


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_samples must be an int >= 2"):
        make_moons(1)
    with pytest.raises(ValueError, match="noise must be >= 0"):
        make_circles(noise=-0.1)
    with pytest.raises(ValueError, match=r"factor must be in \(0, 1\)"):
        make_circles(factor=1.5)
    with pytest.raises(ValueError, match="n_classes"):
        make_spirals(n_classes=1)
    with pytest.raises(ValueError, match="centers must have shape"):
        make_blobs(centers=[1.0, 2.0])


def test_an_mlp_learns_the_moons():
    minidl.manual_seed(0)
    train, test = random_split(make_moons(600, noise=0.15, seed=1), [0.75, 0.25], seed=0)
    model = nn.MLP([2, 32, 32, 2])
    fit(model, nn.functional.cross_entropy, optim.Adam(model.parameters(), lr=0.02),
        DataLoader(train, 32, shuffle=True, seed=0), epochs=40, progress=False)
    assert evaluate(model, DataLoader(test, 150))["accuracy"] >= 0.95
