"""Compaction: the smaller dense model computes what the pruned one did.

Mathematically the outputs are identical: only products that were exactly 0 are skipped.
Numerically, BLAS may add the remaining products in a different order once the matrices
shrink (its blocking depends on the shapes), so float32 results can differ in the last bit;
in float64 they agree to ~1e-15 relative, and predictions are the same."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

import minidl as md
from minidl import nn
from minidl.compress import prune


def assert_same_function(small, model, x):
    a, b = small(x).numpy(), model(x).numpy()
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(a.argmax(-1), b.argmax(-1))
    small64, model64 = copy.deepcopy(small).double(), copy.deepcopy(model).double()
    x64 = x.double()
    np.testing.assert_allclose(small64(x64).numpy(), model64(x64).numpy(), rtol=1e-12, atol=1e-14)


def test_compacted_mlp_has_the_same_outputs_and_fewer_parameters():
    md.manual_seed(0)
    model = nn.MLP([64, 128, 64, 10])
    prune.ln_structured(model[0], "weight", amount=0.6, n=2, dim=0, prune_bias=True)
    prune.ln_structured(model[2], "weight", amount=0.5, n=2, dim=0, prune_bias=True)
    prune.global_unstructured(prune.parameters_to_prune(model), amount=0.5)
    small, report = prune.compact(model)
    assert_same_function(small, model, md.randn(50, 64))
    assert (small[0].in_features, small[0].out_features) == (64, small[0].weight.shape[0])
    assert small[0].out_features <= 128 - 77 and small[2].in_features == small[0].out_features
    assert small[4].out_features == 10 and small[0].in_features == 64  # inputs and outputs untouched
    assert report.params_after == sum(p.numel() for p in small.parameters()) < report.params_before
    assert not prune.is_pruned(small) and prune.is_pruned(model)  # the original is not changed
    assert "parameters 17,226 →" in str(report)


def test_unused_units_and_cascades_are_removed():
    md.manual_seed(1)
    model = nn.MLP([6, 5, 4, 3])
    # unit 1 of the first hidden layer is never read by the next layer: unused
    prune.from_mask(model[2], "weight", np.array([[1, 0, 1, 1, 1]] * 4))  # host
    # unit 0 of the second hidden layer reads nothing and has no bias: dead
    prune.from_mask(model[2], "weight", np.array([[0] * 5] + [[1] * 5] * 3))  # host
    prune.from_mask(model[2], "bias", np.array([0, 1, 1, 1]))  # host
    small, report = prune.compact(model)
    assert [c.after for c in report.layers] == [(4, 6), (3, 4), (3, 3)]
    assert (report.layers[0].unused, report.layers[1].dead) == (1, 1)
    assert_same_function(small, model, md.randn(7, 6))


def test_constant_neurons_are_kept_and_reported():
    md.manual_seed(2)
    model = nn.MLP([4, 3, 2])
    prune.from_mask(model[0], "weight", np.array([[0] * 4, [1] * 4, [1] * 4]))  # host: bias left alone
    small, report = prune.compact(model)
    assert report.layers[0].after == (3, 4) and report.layers[0].constant == 1


def test_sigmoid_units_with_zero_input_are_not_dead():
    md.manual_seed(3)
    model = nn.MLP([4, 3, 2], activation=nn.Sigmoid)
    prune.ln_structured(model[0], "weight", amount=1, n=1, dim=0)
    small, report = prune.compact(model)
    assert report.layers[0].after == (3, 4)  # sigmoid(0) = 0.5 still reaches the next layer
    assert_same_function(small, model, md.randn(5, 4))


def test_compact_needs_a_sequential():
    with pytest.raises(TypeError, match="Sequential"):
        prune.compact(nn.Linear(3, 2))


class TinyConv2d(nn.Module):
    """A stand-in Conv2d (stride 1, no padding), written with minidl ops: (N, C, H, W) → (N, O, H', W')."""

    def __init__(self, in_channels: int, out_channels: int, k: int) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, (k, k)
        bound = 1 / math.sqrt(in_channels * k * k)
        self.weight = nn.Parameter(md.rand(out_channels, in_channels, k, k) * 2 * bound - bound)
        self.bias = nn.Parameter(md.rand(out_channels) * 2 * bound - bound)

    def forward(self, x):
        k = self.kernel_size[0]
        h, w = x.shape[2] - k + 1, x.shape[3] - k + 1
        weight = self.weight
        out = None
        for i in range(k):
            for j in range(k):
                patch = x[:, :, i:i + h, j:j + w].permute(0, 2, 3, 1)  # (N, H', W', C)
                term = patch @ weight[:, :, i, j].T  # (N, H', W', O)
                out = term if out is None else out + term
        return (out + self.bias).permute(0, 3, 1, 2)


def test_compacted_cnn_drops_dead_filters_and_their_flattened_columns():
    md.manual_seed(4)
    model = nn.Sequential(TinyConv2d(2, 6, 3), nn.ReLU(), TinyConv2d(6, 5, 2), nn.ReLU(), nn.Flatten(),
                          nn.Linear(5 * 3 * 3, 4))
    prune.ln_structured(model[0], "weight", amount=3, n=2, dim=0, prune_bias=True)  # 3 of 6 filters, and their bias
    prune.ln_structured(model[2], "weight", amount=2, n=1, dim=0, prune_bias=True)
    small, report = prune.compact(model)
    assert small[0].weight.shape == (3, 2, 3, 3) and small[0].out_channels == 3
    assert small[2].weight.shape == (3, 3, 2, 2) and small[2].in_channels == 3
    assert small[5].weight.shape == (4, 3 * 9) and small[5].in_features == 27
    assert_same_function(small, model, md.randn(3, 2, 6, 6))  # 6×6 → 4×4 → 3×3
