"""The sparsity report, latency timing and per-layer sensitivity."""

from __future__ import annotations

import numpy as np
import pytest

import minidl as md
from minidl import nn
from minidl.compress import prune


def test_sparsity_report_counts_and_bytes():
    md.manual_seed(0)
    model = nn.MLP([10, 8, 4])
    prune.l1_unstructured(model[0], "weight", amount=60)
    report = prune.sparsity_report(model)
    rows = {r.name: r for r in report.rows}
    assert set(rows) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    w = rows["0.weight"]
    assert (w.shape, w.numel, w.nonzeros, w.pruned) == ((8, 10), 80, 20, True)
    assert w.sparsity == 0.75 and w.dense_bytes == 320 and w.csr_bytes == 20 * 8 + 9 * 4
    assert rows["0.bias"].csr_bytes is None and not rows["2.weight"].pruned
    assert report.numel == 80 + 8 + 32 + 4 and report.nonzeros == 20 + 8 + 32 + 4
    assert report.mask_bytes == 80
    assert report.sparse_bytes == 196 + 32 + 128 + 16  # CSR for 0.weight, dense where CSR is bigger
    text = str(report)
    assert "0.weight (masked)" in text and "75.0%" in text and "masks: 80 bytes" in text
    assert text.splitlines()[-2].startswith("total")


def test_sparsity_report_errors_and_time_forward():
    with pytest.raises(TypeError, match="Module"):
        prune.sparsity_report([1, 2])
    model = nn.MLP([4, 3])
    seconds = prune.time_forward(model, md.randn(2, 4), number=3, repeats=2)
    assert 0 < seconds < 1
    assert 0 < prune.time_forward(model, md.randn(2, 4), repeats=1, target_seconds=0.001) < 1
    with pytest.raises(ValueError, match="number and repeats"):
        prune.time_forward(model, md.randn(2, 4), number=0)


def test_layer_sensitivity_measures_each_layer_and_restores_the_model():
    md.manual_seed(0)
    model = nn.MLP([6, 5, 3])
    prune.l1_unstructured(model[2], "weight", amount=3)  # already pruned layers are handled too
    x = md.randn(4, 6)
    before = model(x).numpy()
    state = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    seen = []

    def evaluate(m):
        seen.append(round(prune.sparsity([(model[0], "weight"), (model[2], "weight")]), 3))
        return float(prune.sparsity([(model[0], "weight")]))

    result = prune.layer_sensitivity(model, evaluate, [0.0, 0.5, 0.9])
    assert list(result.metric) == ["0.weight", "2.weight"]
    assert result.metric["0.weight"] == pytest.approx([0.0, 0.5, 0.9], abs=0.02)
    assert result.metric["2.weight"] == pytest.approx([0.0, 0.0, 0.0])
    np.testing.assert_array_equal(model(x).numpy(), before)
    after = {k: v.numpy().tolist() for k, v in model.state_dict().items()}
    assert after == {k: v.tolist() for k, v in state.items()}
    assert not prune.is_pruned(nn.Sequential(model[0])) and prune.is_pruned(model[2])
    text = str(result)
    assert "0.weight" in text and "90%" in text
    fig = result.plot()
    assert len(fig.axes[0].lines) == 2
