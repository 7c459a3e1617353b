"""Masks and the reparametrization: semantics.md §4 vectors, remove(), state dicts, and the
classic bug — pruned weights revived by momentum, weight decay or Adam's moments."""

from __future__ import annotations

import numpy as np
import pytest

import minidl as md
from minidl import nn, optim
from minidl.backend import get_array_module, to_numpy
from minidl.compress import prune

pytestmark = pytest.mark.backends  # also on the stand-in: masks are applied at every step on a GPU

W = [[1.0, 2.0, 3.0, 4.0], [-4.0, -3.0, -2.0, -1.0]]


def linear_with(weight: list[list[float]], bias: bool = True) -> nn.Linear:
    w = np.asarray(weight, dtype=np.float32)  # host: test data
    layer = nn.Linear(w.shape[1], w.shape[0], bias=bias)
    with md.no_grad():
        layer.weight.copy_(w)
    return layer


def test_repeated_pruning_acts_on_survivors():
    m = linear_with(W)
    prune.l1_unstructured(m, "weight", amount=2)
    assert m.weight.tolist() == [[0, 2, 3, 4], [-4, -3, -2, 0]]
    prune.l1_unstructured(m, "weight", amount=2)
    assert m.weight.tolist() == [[0, 0, 3, 4], [-4, -3, 0, 0]]


def test_two_halves_make_three_quarters():
    md.manual_seed(0)
    m = nn.Linear(10, 8)
    prune.l1_unstructured(m, "weight", amount=0.5)
    prune.l1_unstructured(m, "weight", amount=0.5)
    assert prune.sparsity([(m, "weight")]) == 0.75
    assert int((prune.get_mask(m, "weight")).sum()) == 20


def test_global_pruning_vector():
    m, n = linear_with(W), linear_with([[0.0, 0.1, -2.0]])
    prune.global_unstructured([(m, "weight"), (n, "weight")], pruning_method=prune.l1_unstructured, amount=4)
    assert m.weight.tolist() == [[0, 2, 3, 4], [-4, -3, -2, 0]]
    assert n.weight.tolist() == [[0, 0, -2]]


def test_ties_prune_the_lowest_index_first():
    m = linear_with([[1.0, -1.0, 1.0, 1.0]])
    prune.l1_unstructured(m, "weight", amount=2)
    assert prune.get_mask(m, "weight").tolist() == [[False, False, True, True]]


def test_global_unstructured_refuses_a_model_with_a_clear_message():
    """Article-1 calls prune.global_unstructured(model, ...): it needs (module, name) pairs."""
    model = nn.MLP([4, 3, 2])
    with pytest.raises(TypeError, match=r"\(module, name\) pairs"):
        prune.global_unstructured(model, pruning_method=prune.l1_unstructured, amount=0.5)
    with pytest.raises(TypeError, match="parameters\\[0\\]"):
        prune.global_unstructured([model[0]], amount=0.5)
    with pytest.raises(TypeError, match="pruning_method"):
        prune.global_unstructured([(model[0], "weight")], pruning_method="L1Unstructured", amount=0.5)
    with pytest.raises(ValueError, match="no parameter 'wieght'"):
        prune.global_unstructured([(model[0], "wieght")], amount=0.5)
    with pytest.raises(ValueError, match="twice"):
        prune.global_unstructured([(model[0], "weight"), (model[0], "weight")], amount=0.5)


def test_parameters_to_prune_finds_every_weight_matrix():
    model = nn.MLP([4, 3, 2])
    assert prune.parameters_to_prune(model) == [(model[0], "weight"), (model[2], "weight")]
    prune.global_unstructured(prune.parameters_to_prune(model), amount=0.5)
    assert prune.sparsity(prune.parameters_to_prune(model)) == pytest.approx(0.5, abs=1 / 18)


def test_reparametrization_layout_and_gradient_mask():
    m = linear_with(W)
    p = m.weight
    prune.l1_unstructured(m, "weight", amount=3)
    assert m.weight_orig is p and "weight" not in m._parameters
    assert [k for k, _ in m.named_parameters()] == ["weight_orig", "bias"]  # order kept
    assert m.weight_mask.dtype == np.bool_
    assert set(m.state_dict()) == {"weight_orig", "bias", "weight_mask"}
    x = md.randn(5, 4)
    m(x).sum().backward()
    g = m.weight_orig.grad.numpy()
    assert np.all(g[~m.weight_mask.numpy()] == 0) and np.all(g[m.weight_mask.numpy()] != 0)
    assert prune.is_pruned(m) and prune.is_pruned(nn.Sequential(m)) and not prune.is_pruned(nn.Linear(2, 2))


def test_remove_bakes_the_mask_and_keeps_the_parameter():
    m = linear_with(W)
    p = m.weight
    opt = optim.SGD(m.parameters(), lr=0.1)
    prune.l1_unstructured(m, "weight", amount=2)
    prune.remove(m, "weight")
    assert m.weight is p and opt.param_groups[0]["params"][0] is p
    assert m.weight.tolist() == [[0, 2, 3, 4], [-4, -3, -2, 0]]
    assert set(m.state_dict()) == {"weight", "bias"} and not prune.is_pruned(m)
    assert [k for k, _ in m.named_parameters()] == ["weight", "bias"]
    with pytest.raises(ValueError, match="not pruned"):
        prune.remove(m, "weight")


def test_from_mask_combines_and_validates():
    m = linear_with(W)
    prune.from_mask(m, "weight", np.array([[1, 1, 0, 1], [1, 1, 1, 1]]))  # host: test mask
    prune.custom_from_mask(m, "weight", np.array([[True] * 4, [False, True, True, True]]))  # host
    assert m.weight.tolist() == [[1, 2, 0, 4], [0, -3, -2, -1]]
    with pytest.raises(ValueError, match="shape"):
        prune.from_mask(m, "weight", np.ones((4, 2), dtype=bool))  # host
    with pytest.raises(ValueError, match="only 0 and 1"):
        prune.from_mask(m, "weight", np.full((2, 4), 0.5))  # host
    with pytest.raises(TypeError, match="Module"):
        prune.from_mask("fc1", "weight", np.ones((2, 4)))  # host


def test_masks_save_and_restore_with_the_state_dict(tmp_path):
    md.manual_seed(1)
    model = nn.MLP([6, 5, 3])
    prune.global_unstructured(prune.parameters_to_prune(model), amount=0.6)
    md.save(model.state_dict(), tmp_path / "pruned.npz")
    x = md.randn(4, 6)
    expected = model(x).numpy()

    md.manual_seed(2)
    fresh = nn.MLP([6, 5, 3])  # not pruned: plain load_state_dict would miss weight_orig/weight_mask
    with pytest.raises(RuntimeError, match="weight_orig"):
        fresh.load_state_dict(md.load(tmp_path / "pruned.npz"))
    prune.load_pruned_state_dict(fresh, md.load(tmp_path / "pruned.npz"))
    np.testing.assert_array_equal(fresh(x).numpy(), expected)
    assert fresh[0].weight_mask.dtype == np.bool_
    np.testing.assert_array_equal(fresh[0].weight_mask.numpy(), model[0].weight_mask.numpy())


def _train_pruned(make_optimizer, steps: int = 60, enforce: bool = True):
    md.manual_seed(0)
    model = nn.MLP([8, 16, 4])
    x, y = md.randn(32, 8), md.randint(0, 4, (32,))
    opt = make_optimizer(model.parameters())
    for _ in range(5):  # build up momentum / Adam moments before pruning
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    targets = prune.parameters_to_prune(model)
    prune.global_unstructured(targets, amount=0.7)
    if enforce:
        prune.enforce_masks(opt, model)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        for m, name in targets:
            keep = prune.get_mask(m, name)
            assert np.all(to_numpy(prune.current_weight(m, name)[~keep]) == 0)
            if enforce:
                assert np.all(to_numpy(prune.learnable(m, name).data[~keep]) == 0), "weight_orig revived"
    return model, targets


OPTIMIZERS = {
    "sgd_momentum_wd": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-2),
    "sgd_nesterov": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam_wd": lambda ps: optim.Adam(ps, lr=1e-2, weight_decay=1e-2),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_pruned_weights_stay_exactly_zero_through_training(name):
    model, targets = _train_pruned(OPTIMIZERS[name])
    for m, n in targets:  # and stay zero when the pruning is made permanent
        keep = to_numpy(prune.get_mask(m, n)).copy()
        prune.remove(m, n)
        assert np.all(m.weight.numpy()[~keep] == 0)


def test_without_enforcement_the_effective_weight_is_still_zero_but_orig_drifts():
    """Why enforce_masks exists: momentum keeps moving weight_orig where the mask is 0."""
    model, targets = _train_pruned(OPTIMIZERS["sgd_momentum_wd"], steps=10, enforce=False)
    drift = [np.abs(to_numpy(prune.learnable(m, n).data[~prune.get_mask(m, n)])).max() for m, n in targets]
    assert max(drift) > 0


def test_naive_zeroing_is_revived_by_momentum():
    """The classic bug: set small weights to 0 once, keep training with momentum — they come back."""
    md.manual_seed(0)
    model = nn.MLP([8, 16, 4])
    x, y = md.randn(32, 8), md.randint(0, 4, (32,))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(5):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    w = model[0].weight
    magnitudes = np.abs(w.numpy())
    zeroed = magnitudes < np.quantile(magnitudes, 0.7)
    w.data[get_array_module(w.data).asarray(zeroed)] = 0  # "pruning" without a mask
    opt.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    assert np.count_nonzero(w.numpy()[zeroed]) == zeroed.sum()  # every one of them is back


def test_enforce_masks_validates_its_arguments():
    model = nn.MLP([3, 2])
    with pytest.raises(TypeError, match="register_step_post_hook"):
        prune.enforce_masks(object(), model)
    with pytest.raises(TypeError, match="model must be a Module"):
        prune.enforce_masks(optim.SGD(model.parameters(), lr=0.1), [model])


def test_masks_restored_puts_masks_back():
    m = linear_with(W)
    with prune.masks_restored([(m, "weight")]):
        prune.l1_unstructured(m, "weight", amount=5)
        assert prune.is_pruned(m)
    assert not prune.is_pruned(m) and m.weight.tolist() == W
    prune.l1_unstructured(m, "weight", amount=1)
    with prune.masks_restored([(m, "weight")]):
        prune.l1_unstructured(m, "weight", amount=0.5)
    assert int(prune.get_mask(m, "weight").sum()) == 7


def test_structured_pruning_leaves_the_bias_alone_by_default_as_pytorch():
    m = linear_with([[1.0, 1.0], [0.1, 0.1], [3.0, -3.0], [0.2, 0.0]])
    with md.no_grad():
        m.bias.copy_(np.array([0.5, 0.5, 0.5, 0.5], dtype=np.float32))  # host
    prune.ln_structured(m, "weight", amount=0.5, n=2, dim=0)
    assert m.weight.tolist() == [[1, 1], [0, 0], [3, -3], [0, 0]]
    assert m.bias.tolist() == [0.5, 0.5, 0.5, 0.5]
    assert sorted(m.state_dict()) == ["bias", "weight_mask", "weight_orig"]  # PyTorch's keys
    r = linear_with([[1.0, 1.0], [0.1, 0.1]])
    bias = r.bias.tolist()
    prune.random_structured(r, "weight", amount=1, dim=0)
    assert "bias_mask" not in r.state_dict() and r.bias.tolist() == bias


def test_structured_pruning_with_prune_bias_masks_rows_and_their_bias():
    m = linear_with([[1.0, 1.0], [0.1, 0.1], [3.0, -3.0], [0.2, 0.0]])
    with md.no_grad():
        m.bias.copy_(np.array([0.5, 0.5, 0.5, 0.5], dtype=np.float32))  # host
    prune.ln_structured(m, "weight", amount=0.5, n=2, dim=0, prune_bias=True)
    assert m.weight.tolist() == [[1, 1], [0, 0], [3, -3], [0, 0]]
    assert m.bias.tolist() == [0.5, 0, 0.5, 0]
    assert sorted(m.state_dict()) == ["bias_mask", "bias_orig", "weight_mask", "weight_orig"]
    r = linear_with([[1.0, 1.0], [0.1, 0.1]])
    with md.no_grad():
        r.bias.copy_(np.array([0.5, 0.5], dtype=np.float32))  # host
    prune.random_structured(r, "weight", amount=1, dim=0, prune_bias=True)
    dead = ~to_numpy(prune.get_mask(r, "weight")).any(axis=1)
    assert r.bias.numpy()[dead].tolist() == [0.0] and r.bias.numpy()[~dead].tolist() == [0.5]


def test_structured_pruning_repeats_on_alive_slices_and_columns():
    m = linear_with([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    prune.ln_structured(m, "weight", amount=1, n=1, dim=1)  # columns: no bias involved
    assert m.weight.tolist() == [[0, 2, 3], [0, 5, 6]] and "bias_mask" not in m.state_dict()
    prune.ln_structured(m, "weight", amount=1, n=1, dim=1)
    assert m.weight.tolist() == [[0, 0, 3], [0, 0, 6]]
    with pytest.raises(ValueError, match="more units than are left"):
        prune.ln_structured(m, "weight", amount=2, n=1, dim=1)
    with pytest.raises(IndexError, match="out of range"):
        prune.ln_structured(m, "weight", amount=1, n=1, dim=2)
    with pytest.raises(ValueError, match="at least 2 dims"):
        prune.ln_structured(m, "bias", amount=1, n=1, dim=0)


def test_random_pruning_counts_and_reproducibility():
    md.manual_seed(3)
    a = nn.Linear(10, 10)
    md.manual_seed(5)
    prune.random_unstructured(a, "weight", amount=0.3)
    first = prune.get_mask(a, "weight").copy()
    assert int((~first).sum()) == 30
    b = nn.Linear(10, 10)
    md.manual_seed(5)
    prune.random_unstructured(b, "weight", amount=0.3)
    np.testing.assert_array_equal(to_numpy(first), to_numpy(prune.get_mask(b, "weight")))
    prune.random_structured(a, "weight", amount=2, dim=0)
    assert int((~prune.get_mask(a, "weight").any(axis=1)).sum()) == 2


def test_importance_scores_drive_the_choice():
    m = linear_with(W)
    scores = np.arange(8, dtype=np.float32).reshape(2, 4)[:, ::-1].copy()  # host: [[3,2,1,0],[7,6,5,4]]
    prune.l1_unstructured(m, "weight", amount=2, importance_scores=scores)
    assert prune.get_mask(m, "weight").tolist() == [[True, True, False, False], [True] * 4]
    with pytest.raises(ValueError, match="importance_scores must have the shape"):
        prune.l1_unstructured(m, "weight", amount=1, importance_scores=np.ones(3))  # host
    with pytest.raises(ValueError, match="NaN"):
        prune.l1_unstructured(m, "weight", amount=1, importance_scores=np.full((2, 4), np.nan))  # host
