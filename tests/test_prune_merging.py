"""Data-free neuron merging (Srinivas & Babu 2015): the saliency is the paper's, merging two
identical neurons computes exactly the same function, and compaction then drops the merged one."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minidl
from minidl import nn
from minidl.compress import prune
from minidl.compress.prune import merging

weights = st.floats(-2, 2, allow_nan=False, width=64)


@settings(deadline=None, max_examples=100)
@given(hnp.arrays(np.float64, st.tuples(st.integers(2, 6), st.integers(1, 4)), elements=weights),
       st.data())
def test_saliency_is_mean_squared_outgoing_times_squared_distance(incoming, data) -> None:
    n = incoming.shape[0]
    outgoing = data.draw(hnp.arrays(np.float64, (3, n), elements=weights))
    s = merging.merge_saliency(incoming, outgoing)
    for i in range(n):
        for j in range(n):
            expected = np.inf if i == j else np.mean(outgoing[:, j] ** 2) * np.sum((incoming[i] - incoming[j]) ** 2)
            assert s[i, j] == pytest.approx(expected, rel=1e-12, abs=1e-300)


@settings(deadline=None, max_examples=60)
@given(st.integers(0, 10_000), st.integers(3, 8), st.data())
def test_merging_two_identical_neurons_computes_the_same_function(seed, hidden, data) -> None:
    minidl.manual_seed(seed)
    model = nn.MLP([5, hidden, 3]).double()
    i, j = data.draw(st.lists(st.integers(0, hidden - 1), min_size=2, max_size=2, unique=True))
    with minidl.no_grad():
        model[0].weight.data[j] = model[0].weight.data[i]
        model[0].bias.data[j] = model[0].bias.data[i]
    x = minidl.tensor(np.random.default_rng(seed).normal(size=(16, 5)), dtype=minidl.float64)
    before = model(x).numpy()
    merges = merging.merge_structured(model, amount=1)["0"]
    assert {merges[0].kept, merges[0].removed} == {i, j} and merges[0].saliency == 0.0
    np.testing.assert_allclose(model(x).numpy(), before, rtol=1e-12, atol=1e-12)
    small, _ = prune.compact(model)
    assert small[0].weight.shape == (hidden - 1, 5)
    np.testing.assert_allclose(small(x).numpy(), before, rtol=1e-12, atol=1e-12)


def test_repeated_merges_update_the_survivor_and_skip_pruned_neurons() -> None:
    minidl.manual_seed(0)
    model = nn.MLP([4, 10, 3])
    prune.ln_structured(model[0], "weight", amount=2, n=2, dim=0)
    already = ~prune.get_mask(model[0], "weight").any(axis=1)
    out_before = copy.deepcopy(model[2].weight.numpy())
    merges = merging.merge_neurons(model[0], model[2], amount=3)
    assert len(merges) == 3
    assert not any(already[m.removed] or already[m.kept] for m in merges)
    alive = prune.get_mask(model[0], "weight").any(axis=1)
    assert int(alive.sum()) == 10 - 2 - 3
    # every removed neuron's outgoing weights moved to a survivor: B's row sums are unchanged
    w2 = model[2].weight.numpy()
    np.testing.assert_allclose(w2.sum(axis=1), out_before.sum(axis=1), rtol=1e-5, atol=1e-6)
    assert (w2[:, [m.removed for m in merges]] == 0).all()


def test_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="no Linear → ReLU → Linear"):
        merging.merge_structured(nn.Sequential(nn.Linear(3, 2)), 0.5)
    with pytest.raises(ValueError, match="B's inputs = A's outputs"):
        merging.merge_neurons(nn.Linear(3, 4), nn.Linear(5, 2), 1)
