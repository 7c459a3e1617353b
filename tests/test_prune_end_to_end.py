"""It learns, pruned: the digits MLP at 90% global magnitude sparsity, pruned gradually with
fine-tuning, stays within one percentage point of the dense model (the tour's recipe)."""

from __future__ import annotations

import copy

import numpy as np

import minidl as md
from minidl import nn, optim
from minidl.backend import to_numpy
from minidl.compress import prune
from minidl.data import DataLoader, load_digits
from minidl.train import evaluate, fit


def test_ninety_percent_sparse_digits_mlp_within_one_point_of_dense():
    md.manual_seed(0)
    train, test = load_digits("train", seed=0), load_digits("test", seed=0)
    loader = DataLoader(train, batch_size=32, shuffle=True, seed=0)
    loss_fn = nn.functional.cross_entropy
    model = nn.MLP([64, 128, 10])
    fit(model, loss_fn, optim.Adam(model.parameters(), lr=3e-3), loader, epochs=30, progress=False)
    dense = evaluate(model, DataLoader(test, batch_size=512))["accuracy"]

    pruned = copy.deepcopy(model)
    targets = prune.parameters_to_prune(pruned)
    opt = optim.Adam(pruned.parameters(), lr=2e-3)
    prune.enforce_masks(opt, pruned)
    pruner = prune.GradualPruner(targets, 0.9, begin_step=0, end_step=16 * len(loader),
                                 frequency=len(loader) // 4)
    fit(pruned, loss_fn, opt, loader, epochs=26, progress=False, on_step_end=pruner.step)
    sparse = evaluate(pruned, DataLoader(test, batch_size=512))["accuracy"]

    assert abs(prune.sparsity(targets) - 0.9) < 1e-4
    for m, n in targets:
        assert np.all(to_numpy(prune.learnable(m, n).data[~prune.get_mask(m, n)]) == 0)
    assert dense > 0.95
    assert dense - sparse <= 0.01, f"dense {dense:.4f}, 90% sparse {sparse:.4f}"
