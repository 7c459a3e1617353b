"""Importance criteria: each formula against its definition; OBD's Hessian diagonal against the exact
one (central differences of the gradient, float64); Hutchinson; Optimal Brain Surgeon on a quadratic."""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minidl as md
from minidl import nn
from minidl.backend import get_array_module, to_numpy
from minidl.compress import prune

pytestmark = pytest.mark.backends  # also on the stand-in: criteria and Hessian estimates must run on a GPU

SETTINGS = settings(max_examples=30, deadline=None)
floats = st.floats(-5, 5, allow_nan=False, width=64)


@pytest.fixture
def float64():
    md.set_default_dtype("float64")
    yield
    md.set_default_dtype("float32")


@SETTINGS
@given(data=st.data(), shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4))
def test_elementwise_formulas(data, shape):
    w = data.draw(hnp.arrays(np.float64, shape, elements=floats))
    g = data.draw(hnp.arrays(np.float64, shape, elements=floats))
    h = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(0, 5)))
    d = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(0.1, 5)))
    np.testing.assert_array_equal(prune.magnitude(w), np.abs(w))
    np.testing.assert_array_equal(to_numpy(prune.magnitude(md.tensor(w))), np.abs(w))
    np.testing.assert_array_equal(prune.taylor_saliency(w, g), np.abs(w * g))
    np.testing.assert_array_equal(prune.gradient_saliency(g), np.abs(g))
    np.testing.assert_allclose(prune.obd_saliency(w, h), 0.5 * h * w ** 2)
    np.testing.assert_allclose(prune.obs_saliency(w, d), w ** 2 / (2 * d))


@SETTINGS
@given(w=hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=4, max_side=4), elements=floats),
       n=st.sampled_from([1, 2, 3, float("inf"), "fro"]), data=st.data())
def test_ln_norm_is_the_norm_of_each_slice(w, n, data):
    dim = data.draw(st.integers(0, w.ndim - 1))
    slices = np.moveaxis(w, dim, 0).reshape(w.shape[dim], -1)
    order = 2 if n == "fro" else n
    np.testing.assert_allclose(prune.ln_norm(w, n, dim), np.linalg.norm(slices, ord=order, axis=1))


def test_criteria_errors():
    with pytest.raises(ValueError, match="n must be"):
        prune.ln_norm(np.ones((2, 2)), -1, 0)  # host
    with pytest.raises(ValueError, match="gradient must have the weight's shape"):
        prune.taylor_saliency(np.ones((2, 2)), np.ones(3))  # host
    r = prune.random_scores(np.ones((3, 4)))  # host
    assert r.shape == (3, 4) and np.all((r >= 0) & (r < 1))


def _tiny_problem():
    md.manual_seed(0)
    model = nn.MLP([3, 4, 2], activation=nn.Tanh).double()  # smooth: the Hessian is well defined
    x = md.randn(6, 3, dtype="float64")
    y = md.tensor([0, 1, 1, 0, 1, 0])
    batches = [(x[:3], y[:3]), (x[3:], y[3:])]
    return model, nn.functional.cross_entropy, batches


def _finite_difference_hessian_diagonal(model, loss_fn, batches, param, eps=1e-5):
    """h_kk ≈ (g_k(w + ε e_k) − g_k(w − ε e_k)) / 2ε with ordinary first-order gradients."""
    xp = get_array_module(param.data)

    def grad_at(values):
        param.data[...] = xp.asarray(values)
        total = np.zeros(param.shape)  # host: float64 reference
        for x, y in batches:
            model.zero_grad()
            loss_fn(model(x), y).backward()
            total += param.grad.numpy()
        return total / len(batches)

    w0 = param.numpy().copy()
    diag = np.zeros(param.numel())  # host
    for k in range(param.numel()):
        e = np.zeros(param.numel())  # host
        e[k] = eps
        e = e.reshape(param.shape)
        diag[k] = ((grad_at(w0 + e) - grad_at(w0 - e)).reshape(-1)[k]) / (2 * eps)
    param.data[...] = xp.asarray(w0)
    model.zero_grad()
    return diag.reshape(param.shape)


def test_obd_uses_the_exact_hessian_diagonal_on_a_tiny_network(float64):
    model, loss_fn, batches = _tiny_problem()
    targets = [(model[0], "weight"), (model[2], "weight")]
    exact = {t: to_numpy(h) for t, h in
             prune.hessian_diagonal(model, loss_fn, batches, targets, method="exact").items()}
    for (module, name) in targets:
        fd = _finite_difference_hessian_diagonal(model, loss_fn, batches, module.weight)
        np.testing.assert_allclose(exact[(module, name)], fd, rtol=1e-5, atol=1e-8)
        w = module.weight.numpy()
        np.testing.assert_allclose(prune.obd_saliency(w, exact[(module, name)]), 0.5 * fd * w ** 2,
                                   rtol=1e-5, atol=1e-10)
    full = to_numpy(prune.hessian(model, loss_fn, batches, (model[2], "weight")))
    np.testing.assert_allclose(np.diag(full), exact[(model[2], "weight")].reshape(-1), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(full, full.T)


def test_hutchinson_is_exact_over_all_sign_vectors_and_close_with_many(float64):
    model, loss_fn, batches = _tiny_problem()
    target = [(model[2], "weight")]  # 8 entries: 256 sign vectors
    exact = to_numpy(prune.hessian_diagonal(model, loss_fn, batches, target, method="exact")[target[0]])
    signs = [[np.array(s, dtype=np.float64).reshape(2, 4)]  # host: every ±1 vector (moved by the library)
             for s in itertools.product([-1, 1], repeat=8)]
    every = to_numpy(prune.hessian_diagonal(model, loss_fn, batches, target, probes=signs)[target[0]])
    np.testing.assert_allclose(every, exact, rtol=1e-9, atol=1e-12)
    sampled = to_numpy(prune.hessian_diagonal(model, loss_fn, batches, target, samples=400,
                                              generator=np.random.default_rng(0))[target[0]])  # host rng
    assert np.abs(sampled - exact).max() < 0.25 * np.abs(exact).max()


def test_hessian_diagonal_float32_model_and_errors():
    md.manual_seed(0)
    model = nn.MLP([3, 4, 2])
    x, y = md.randn(5, 3), md.randint(0, 2, (5,))
    loss_fn, target = nn.functional.cross_entropy, [(model[0], "weight")]
    h = prune.hessian_diagonal(model, loss_fn, [(x, y)], target, samples=2)
    assert h[(model[0], "weight")].dtype == np.float32
    with pytest.raises(ValueError, match="method"):
        prune.hessian_diagonal(model, loss_fn, [(x, y)], target, method="lanczos")
    with pytest.raises(ValueError, match="batches yielded nothing"):
        prune.hessian_diagonal(model, loss_fn, [], target)


def test_average_gradients_and_taylor(float64):
    model, loss_fn, batches = _tiny_problem()
    target = (model[0], "weight")
    mean, mean_abs = prune.average_gradients(model, loss_fn, batches, [target])
    mean, mean_abs = {target: to_numpy(mean[target])}, {target: to_numpy(mean_abs[target])}
    per_batch = []
    for x, y in batches:
        model.zero_grad()
        loss_fn(model(x), y).backward()
        per_batch.append(model[0].weight.grad.numpy().copy())
    np.testing.assert_allclose(mean[target], np.mean(per_batch, axis=0))
    np.testing.assert_allclose(mean_abs[target], np.mean(np.abs(per_batch), axis=0))
    assert model[0].weight.grad is not None  # set by the loop above: average_gradients leaves .grad alone
    np.testing.assert_allclose(prune.taylor_saliency(model[0].weight.numpy(), mean[target]),
                               np.abs(model[0].weight.numpy() * mean[target]))


def test_gradients_reach_pruned_weights_through_the_mask(float64):
    model, loss_fn, batches = _tiny_problem()
    prune.l1_unstructured(model[0], "weight", amount=6)
    mean, _ = prune.average_gradients(model, loss_fn, batches, [(model[0], "weight")])
    keep, g = to_numpy(prune.get_mask(model[0], "weight")), to_numpy(mean[(model[0], "weight")])
    assert np.all(g[~keep] == 0) and np.all(g[keep] != 0)


# -- Optimal Brain Surgeon: on least squares the loss is exactly quadratic ---------------------------


def _least_squares(float_seed: int = 0):
    rng = np.random.default_rng(float_seed)  # host: test data
    x = rng.standard_normal((40, 5))
    x[:, 3] = x[:, 0] + 0.3 * rng.standard_normal(40)  # correlated inputs: OBS compensation matters
    y = x @ np.array([1.0, -0.5, 0.05, 0.8, -0.02]) + 0.1 * rng.standard_normal(40)  # host
    layer = nn.Linear(5, 1, bias=False).double()
    w_star = np.linalg.lstsq(x, y, rcond=None)[0]
    with md.no_grad():
        layer.weight.copy_(w_star[None, :])
    loss_fn = nn.functional.mse_loss
    batches = [(md.tensor(x), md.tensor(y[:, None]))]
    return layer, loss_fn, batches, x, y


def _loss(x, y, w):
    return float(np.mean((x @ w - y) ** 2))


def test_obs_equals_the_constrained_least_squares_solution(float64):
    layer, loss_fn, batches, x, y = _least_squares()
    H = prune.hessian(layer, loss_fn, batches, (layer, "weight"))
    np.testing.assert_allclose(to_numpy(H), 2 * x.T @ x / len(x), rtol=1e-10)  # the HVP route is exact here
    before = _loss(x, y, layer.weight.numpy()[0])
    saliencies = prune.obs_prune(layer, "weight", H, amount=2)
    keep = to_numpy(prune.get_mask(layer, "weight"))[0]
    w = to_numpy(prune.current_weight(layer, "weight"))[0]
    assert int((~keep).sum()) == 2 and np.all(w[~keep] == 0)
    # the survivors are the least-squares fit on the kept inputs: what OBS promises
    best = np.zeros(5)  # host
    best[keep] = np.linalg.lstsq(x[:, keep], y, rcond=None)[0]
    np.testing.assert_allclose(w, best, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(_loss(x, y, w) - before, sum(saliencies), rtol=1e-8)


def test_obs_first_removal_increase_equals_its_saliency_and_beats_plain_zeroing(float64):
    layer, loss_fn, batches, x, y = _least_squares(1)
    H = prune.hessian(layer, loss_fn, batches, (layer, "weight"))
    w0 = layer.weight.numpy()[0].copy()
    before = _loss(x, y, w0)
    expected = prune.obs_saliency(w0, np.diag(np.linalg.inv(to_numpy(H))))
    (saliency,) = prune.obs_prune(layer, "weight", H, amount=1)
    q = int(np.flatnonzero(~to_numpy(prune.get_mask(layer, "weight"))[0])[0])
    assert q == int(np.argmin(expected)) and saliency == pytest.approx(expected[q])
    after = _loss(x, y, to_numpy(prune.current_weight(layer, "weight"))[0])
    assert after - before == pytest.approx(saliency, rel=1e-8)
    zeroed = w0.copy()
    zeroed[q] = 0
    assert _loss(x, y, zeroed) - before > after - before  # no compensation costs more


def test_obs_errors():
    with pytest.raises(ValueError, match="shape \\(4, 4\\)"):
        prune.optimal_brain_surgeon(np.ones((2, 2)), np.eye(3), 1)  # host
    with pytest.raises(ValueError, match="singular"):
        prune.optimal_brain_surgeon(np.ones((2, 2)), np.zeros((4, 4)), 1)  # host
    w, keep, _ = prune.optimal_brain_surgeon(np.ones((2, 2)), np.zeros((4, 4)), 1, damping=1.0)  # host
    assert int((~keep).sum()) == 1 and w[~keep] == 0


def test_obs_on_one_layer_of_a_trained_tiny_network(float64):
    """Near a minimum the quadratic model holds: OBS predicts its loss increase and beats magnitude."""
    md.manual_seed(3)
    x = md.randn(40, 4, dtype="float64")
    y = md.tensor((x.numpy() @ np.array([1.0, -1.0, 0.5, 0.0]) > 0).astype(np.int64))  # host: labels
    model = nn.MLP([4, 6, 2], activation=nn.Tanh).double()
    opt = md.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(400):
        opt.zero_grad()
        (nn.functional.cross_entropy(model(x), y) + 1e-3 * (model[2].weight ** 2).sum()).backward()
        opt.step()

    def loss_fn(out, target):  # the loss that was minimized, so its gradient is ~0 here
        return nn.functional.cross_entropy(out, target) + 1e-3 * (model[2].weight ** 2).sum()

    batches = [(x, y)]
    base = float(loss_fn(model(x), y).item())
    target = (model[2], "weight")
    H = prune.hessian(model, loss_fn, batches, target)
    w0 = model[2].weight.numpy().copy()
    magnitude = copy.deepcopy(model)
    prune.l1_unstructured(magnitude[2], "weight", amount=3)
    magnitude_increase = float(loss_fn(magnitude(x), y).item()) - base

    saliencies = prune.obs_prune(model[2], "weight", H, amount=3)
    obs_increase = float(loss_fn(model(x), y).item()) - base
    keep, w = to_numpy(prune.get_mask(model[2], "weight")), to_numpy(prune.current_weight(model[2], "weight"))
    assert np.all(w[~keep] == 0)
    assert not np.allclose(w[keep], w0[keep])  # survivors moved
    assert obs_increase == pytest.approx(sum(saliencies), rel=0.3)
    assert obs_increase < magnitude_increase


def test_saliencies_at_the_values_the_strategies_leave_out():
    # the strategy above draws [H⁻¹]_qq from [0.1, 5]: 0 and negatives are refused, by name
    w = np.array([0.0, -2.0, 3.0])  # host
    np.testing.assert_array_equal(prune.obs_saliency(w, np.array([0.5, 2.0, 0.25])), [0.0, 1.0, 18.0])  # host
    for bad, shown in ((0.0, "0"), (-1.0, "-1"), (np.nan, "nan")):
        with pytest.raises(ValueError, match=rf"inverse_hessian_diagonal must be > 0 .*\(got {shown}\)"):
            prune.obs_saliency(w, np.array([1.0, bad, 1.0]))  # host
    # zero weight, zero gradient, zero curvature: zero saliency (never NaN)
    np.testing.assert_array_equal(prune.taylor_saliency(np.zeros(2), np.array([5.0, 0.0])), [0.0, 0.0])  # host
    np.testing.assert_array_equal(prune.obd_saliency(np.array([3.0, 0.0]), np.array([0.0, 4.0])), [0.0, 0.0])  # host
