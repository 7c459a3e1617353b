"""Schedules: the cubic formula, the gradual pruner, iterative pruning, lottery-ticket rewinding."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl as md
from minidl import nn, optim
from minidl.backend import to_numpy
from minidl.compress import prune


@settings(max_examples=60, deadline=None)
@given(si=st.floats(0, 0.5), sf=st.floats(0.5, 1), t0=st.integers(0, 50), n=st.integers(1, 20),
       dt=st.integers(1, 10), j=st.integers(0, 25))
def test_cubic_sparsity_equals_its_formula(si, sf, t0, n, dt, j):
    end = t0 + n * dt
    t = t0 + j * dt
    s = prune.cubic_sparsity(t, si, sf, t0, end, dt)
    expected = sf + (si - sf) * (1 - (t - t0) / (n * dt)) ** 3 if j <= n else sf
    assert s == pytest.approx(expected, abs=1e-12)
    assert prune.cubic_sparsity(t + dt - 1, si, sf, t0, end, dt) == (  # holds between grid points
        pytest.approx(expected, abs=1e-12) if j < n else sf)
    assert prune.cubic_sparsity(t0 - 1, si, sf, t0, end, dt) == si
    assert prune.cubic_sparsity(t, si, sf, t0, end, dt) <= prune.cubic_sparsity(t + 1, si, sf, t0, end, dt)


def test_cubic_sparsity_errors():
    with pytest.raises(ValueError, match="end_step"):
        prune.cubic_sparsity(0, 0, 0.9, 10, 10)
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        prune.cubic_sparsity(0, 0, 1.5, 0, 10)
    with pytest.raises(ValueError, match="frequency"):
        prune.cubic_sparsity(0, 0, 0.5, 0, 10, 0)


def test_gradual_pruner_follows_the_schedule_during_training():
    md.manual_seed(0)
    model = nn.MLP([8, 16, 4])
    targets = prune.parameters_to_prune(model)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    prune.enforce_masks(opt, model)
    pruner = prune.GradualPruner(targets, final_sparsity=0.8, begin_step=2, end_step=20, frequency=3)
    x, y = md.randn(16, 8), md.randint(0, 4, (16,))
    total = sum(prune.learnable(m, n).numel() for m, n in targets)
    for step in range(1, 26):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        pruner.step(step)
        expected = round(pruner.target(step) * total) / total if step >= 2 else 0.0
        assert pruner.sparsity == pytest.approx(expected)
    assert pruner.sparsity == pytest.approx(0.8, abs=1 / total)
    assert [s for s, _ in pruner.history] == [2, 5, 8, 11, 14, 17, 20]


def test_prune_to_sparsity_counts_what_is_already_pruned():
    md.manual_seed(0)
    model = nn.MLP([10, 10, 10])
    targets = prune.parameters_to_prune(model)
    assert prune.prune_to_sparsity(targets, 0.5) == 0.5
    assert prune.prune_to_sparsity(targets, 0.3) == 0.5  # never un-prunes
    assert prune.prune_to_sparsity(targets, 0.9) == 0.9
    with pytest.raises(ValueError, match="target sparsity"):
        prune.prune_to_sparsity(targets, 1.2)


def test_iterative_pruning_calls_fine_tune_after_each_prune():
    md.manual_seed(0)
    model = nn.MLP([10, 10, 10])
    seen = []
    targets = prune.parameters_to_prune(model)

    def fine_tune(r):
        seen.append(prune.sparsity(targets))
        return r

    results = prune.iterative_pruning(targets, [0.5, 0.75], fine_tune)
    assert results == [(0.5, 0), (0.75, 1)] and seen == [0.5, 0.75]


def test_rewind_resets_survivors_and_keeps_pruned_at_zero():
    md.manual_seed(0)
    model = nn.MLP([6, 5, 3])
    targets = prune.parameters_to_prune(model)
    theta0 = prune.snapshot(targets)
    with md.no_grad():
        for p in model.parameters():
            p.add_(1.0)  # "training"
    prune.global_unstructured(targets, amount=0.5)
    prune.rewind(theta0)
    for t in targets:
        keep = prune.get_mask(*t)
        np.testing.assert_array_equal(to_numpy(prune.current_weight(*t)[keep]), to_numpy(theta0[t][keep]))
        assert np.all(to_numpy(prune.learnable(*t).data[~keep]) == 0)


def test_random_reinit_draws_fresh_values_with_the_layer_distribution():
    md.manual_seed(0)
    model = nn.MLP([50, 40, 3])
    targets = prune.parameters_to_prune(model)
    before = to_numpy(prune.current_weight(*targets[0])).copy()
    prune.global_unstructured(targets, amount=0.5)
    prune.random_reinit(targets)
    w = to_numpy(prune.current_weight(*targets[0]))
    keep = to_numpy(prune.get_mask(*targets[0]))
    assert np.all(w[~keep] == 0)
    assert not np.allclose(w[keep], before[keep])
    bound = 1 / np.sqrt(50)
    assert np.abs(w).max() <= bound
    assert w[keep].std() == pytest.approx(bound / np.sqrt(3), rel=0.1)  # U(−b, b)


def test_lottery_ticket_prunes_a_fifth_of_survivors_per_round():
    md.manual_seed(0)
    model = nn.MLP([10, 10, 10])
    targets = prune.parameters_to_prune(model)
    theta0 = prune.snapshot(targets)
    trained = []

    def train(r):
        for m, n in targets:  # every round starts from θ0 on the survivors
            keep = prune.get_mask(m, n)
            np.testing.assert_array_equal(to_numpy(prune.current_weight(m, n)[keep]),
                                          to_numpy(theta0[(m, n)][keep]))
        with md.no_grad():
            for p in model.parameters():
                p.add_(0.5)
        trained.append(r)
        return r

    results = prune.lottery_ticket(targets, train, rounds=3, rate=0.2)
    assert [round(s, 3) for s, _ in results] == [0.0, 0.2, 0.36, 0.49]
    assert trained == [0, 1, 2, 3]
    control = prune.lottery_ticket(targets, lambda r: r, rounds=1, rate=0.2, control=True)
    assert control[-1][0] == pytest.approx(1 - 0.8 ** 4, abs=0.01)
