"""Activation-based neuron pruning: APoZ and mean |a| are computed as defined, over a calibration
set, and they prune whole neurons / channels that compaction then removes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minidl
from minidl import nn
from minidl.compress import prune
from minidl.compress.prune import activation


@settings(deadline=None, max_examples=100)
@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 5)),
                  elements=st.sampled_from([0.0, 0.5, -1.0, 2.0])))
def test_apoz_and_mean_activation_are_their_formulas(a) -> None:
    for j in range(a.shape[1]):
        assert activation.apoz(a)[j] == pytest.approx(np.mean(a[:, j] == 0))
        assert activation.mean_activation(a)[j] == pytest.approx(np.mean(np.abs(a[:, j])))


def test_conv_channels_average_over_samples_and_positions() -> None:
    a = np.zeros((2, 3, 2, 2))
    a[:, 1] = 1.0
    a[0, 2, 0, 0] = 4.0
    np.testing.assert_allclose(activation.apoz(a), [1.0, 0.0, 7 / 8])
    np.testing.assert_allclose(activation.mean_activation(a), [0.0, 1.0, 0.5])


def test_statistics_over_batches_equal_statistics_over_the_whole_set() -> None:
    minidl.manual_seed(0)
    model = nn.MLP([5, 8, 6, 3])
    x = np.random.default_rng(0).normal(size=(37, 5)).astype(np.float32)
    whole = activation.activation_statistics(model, [minidl.tensor(x)])
    parts = activation.activation_statistics(model, [(minidl.tensor(x[:10]), None), (minidl.tensor(x[10:]), None)])
    assert list(whole) == ["0", "2"]  # the last Linear has no ReLU after it
    for name in whole:
        host = minidl.backend.to_numpy
        np.testing.assert_allclose(host(parts[name].apoz), host(whole[name].apoz))
        np.testing.assert_allclose(host(parts[name].mean_activation), host(whole[name].mean_activation), rtol=1e-6)
    assert model.training  # the mode is restored


@pytest.mark.parametrize("criterion", activation.CRITERIA)
def test_dead_neurons_go_first_and_compaction_removes_them(criterion) -> None:
    minidl.manual_seed(1)
    model = nn.MLP([4, 6, 2])
    with minidl.no_grad():
        model[0].weight.data[[1, 4]] = 0.0
        model[0].bias.data[[1, 4]] = -1.0  # relu(-1) = 0 for every input: dead
    x = minidl.tensor(np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32))
    scores = activation.activation_structured(model, [x], amount=2, criterion=criterion)
    assert scores["0"][1] == scores["0"][4] == 0.0
    mask = prune.get_mask(model[0], "weight")
    assert not mask[[1, 4]].any() and mask[[0, 2, 3, 5]].all()
    small, report = prune.compact(model)
    assert small[0].weight.shape == (4, 4)
    np.testing.assert_allclose(small(x).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)


def test_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="criterion must be one of"):
        activation.activation_structured(nn.MLP([3, 4, 2]), [minidl.zeros(2, 3)], 0.5, criterion="taylor")
    with pytest.raises(ValueError, match="no Linear/Conv2d followed by a ReLU"):
        activation.activation_statistics(nn.Sequential(nn.Linear(3, 2)), [minidl.zeros(2, 3)])
    with pytest.raises(ValueError, match="empty"):
        activation.activation_statistics(nn.MLP([3, 4, 2]), [])


def test_conv_channels_are_pruned_by_activation_and_compacted() -> None:
    minidl.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(6 * 4 * 4, 3))
    x = minidl.tensor(np.random.default_rng(0).normal(size=(10, 1, 8, 8)).astype(np.float32))
    scores = activation.activation_structured(model, [x], amount=3, criterion="apoz")
    assert scores["0"].shape == (6,)
    assert int(prune.get_mask(model[0], "weight").any(axis=(1, 2, 3)).sum()) == 3
    small, _ = prune.compact(model)
    assert small[0].weight.shape[0] == 3 and small[4].weight.shape == (3, 3 * 4 * 4)
    np.testing.assert_allclose(small(x).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-5)
