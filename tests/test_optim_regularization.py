"""Regularization (L2, L1, weight decay, AdamW, proximal L1) and gradient clipping."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minidl
from minidl import nn, optim
from minidl.nn.utils import clip_grad_norm_, clip_grad_value_
from minidl.optim import add_proximal_l1, l1_penalty, l2_penalty, soft_threshold

pytestmark = pytest.mark.backends  # also on the stand-in: the xp rule path CuPy arrays take

SETTINGS = settings(max_examples=25, deadline=None)


def _regression(n: int = 64, d: int = 8, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    true_w = np.zeros((1, d), np.float32)
    true_w[0, :2] = [2.0, -3.0]  # only two features matter
    y = x @ true_w.T + 0.1 * rng.standard_normal((n, 1)).astype(np.float32)
    return minidl.tensor(x), minidl.tensor(y)


# -- the penalties ----------------------------------------------------------------------------------

def test_penalties_values_and_gradients() -> None:
    a = minidl.tensor(np.array([1.0, -2.0, 0.0], np.float32), requires_grad=True)
    b = minidl.tensor(np.array([[3.0]], np.float32), requires_grad=True)
    assert l2_penalty([a, b]).item() == pytest.approx(1 + 4 + 9)
    assert l1_penalty([a, b]).item() == pytest.approx(1 + 2 + 3)
    ga, gb = minidl.grad(l2_penalty([a, b]), [a, b])
    np.testing.assert_allclose(ga.numpy(), 2 * a.numpy())
    np.testing.assert_allclose(gb.numpy(), 2 * b.numpy())
    ga, = minidl.grad(l1_penalty(a), [a])
    np.testing.assert_array_equal(ga.numpy(), [1.0, -1.0, 0.0])  # sign(0) = 0
    with pytest.raises(ValueError, match="no parameters"):
        l2_penalty([])
    with pytest.raises(TypeError, match="Tensors"):
        l1_penalty([np.ones(2)])


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_weight_decay_equals_an_l2_penalty_of_half_lambda(momentum) -> None:
    """SGD(weight_decay=λ) on L ≡ SGD on L + (λ/2)‖θ‖²: the factor of 2."""
    lam = 0.3
    x, y = _regression()

    def run(decay: bool) -> list[np.ndarray]:
        minidl.manual_seed(0)
        model = nn.Linear(8, 1)
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=momentum, weight_decay=lam if decay else 0.0)
        for _ in range(10):
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            if not decay:
                loss = loss + lam / 2 * l2_penalty(model.parameters())
            loss.backward()
            opt.step()
        return [p.numpy() for p in model.parameters()]

    for a, b in zip(run(True), run(False)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_keras_l2_is_half_of_pytorch_weight_decay() -> None:
    """Keras' L2(c) adds c·Σθ², gradient 2cθ: the same as weight_decay = 2c."""
    c = 0.01
    theta = minidl.tensor(np.array([0.5, -1.5], np.float32), requires_grad=True)
    g, = minidl.grad(c * l2_penalty(theta), [theta])
    np.testing.assert_allclose(g.numpy(), 2 * c * theta.numpy(), rtol=1e-6)


def test_adam_with_l2_is_not_adamw() -> None:
    """With no loss gradient, L2 inside Adam is normalized away: every weight moves by ≈ lr
    whatever λ is. AdamW shrinks each weight by the fraction lr·λ."""
    theta0 = np.array([10.0, 0.1, -1.0], np.float32)
    lr, lam = 0.01, 0.1
    a = minidl.tensor(theta0.copy(), requires_grad=True)
    w = minidl.tensor(theta0.copy(), requires_grad=True)
    adam_l2, adamw = optim.Adam([a], lr=lr, weight_decay=lam), optim.AdamW([w], lr=lr, weight_decay=lam)
    a.grad = minidl.tensor(np.zeros(3, np.float32))
    w.grad = minidl.tensor(np.zeros(3, np.float32))
    adam_l2.step()
    adamw.step()
    np.testing.assert_allclose(a.numpy(), theta0 - lr * np.sign(theta0), rtol=1e-5)
    np.testing.assert_allclose(w.numpy(), theta0 * (1 - lr * lam), rtol=1e-6)
    assert not np.allclose(a.numpy(), w.numpy())


# -- proximal L1 -------------------------------------------------------------------------------------

def test_soft_threshold_vector() -> None:
    x = np.array([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0], np.float32)
    np.testing.assert_array_equal(soft_threshold(x, 1.0), [-2.0, 0, 0, 0, 0, 0, 1.0])
    with pytest.raises(ValueError, match="threshold"):
        soft_threshold(x, -1.0)


@SETTINGS
@given(x=hnp.arrays(np.float64, st.integers(1, 8), elements=st.floats(-5, 5)), tau=st.floats(0, 3))
def test_soft_threshold_is_the_proximal_operator_of_l1(x, tau) -> None:
    """z = S(x, τ) minimizes ½(z − x)² + τ|z|: optimality is z − x + τ·sign(z) = 0 where
    z ≠ 0, and |x| ≤ τ where z = 0."""
    z = soft_threshold(x, tau)
    nz = z != 0
    np.testing.assert_allclose(z[nz] - x[nz] + tau * np.sign(z[nz]), 0, atol=1e-12)
    assert np.all(np.abs(x[~nz]) <= tau)
    objective = lambda v: 0.5 * (v - x) ** 2 + tau * np.abs(v)  # noqa: E731
    for shift in (-1e-3, 1e-3):
        assert np.all(objective(z) <= objective(z + shift) + 1e-12)


def test_proximal_l1_gives_exact_zeros_and_the_subgradient_does_not() -> None:
    x, y = _regression(seed=1)
    lam = 0.5

    def run(proximal: bool) -> np.ndarray:
        minidl.manual_seed(0)
        model = nn.Linear(8, 1, bias=False)
        opt = optim.SGD(model.parameters(), lr=0.05)
        if proximal:
            add_proximal_l1(opt, lam)
        for _ in range(300):
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            if not proximal:
                loss = loss + lam * l1_penalty(model.parameters())
            loss.backward()
            opt.step()
        return model.weight.numpy()[0]

    prox, sub = run(True), run(False)
    assert np.count_nonzero(prox[2:] == 0) == 6 and np.all(prox[:2] != 0)  # exactly the true support
    assert np.count_nonzero(sub == 0) == 0  # the subgradient jitters around zero
    assert np.all(np.abs(sub[2:]) < 0.05)  # ... close to it, but never on it
    np.testing.assert_allclose(prox[:2], sub[:2], atol=0.05)  # same problem, same answer otherwise


def test_proximal_hook_follows_the_groups_lr_and_can_be_limited_and_removed() -> None:
    w = minidl.tensor(np.array([0.3, -0.05], np.float32), requires_grad=True)
    b = minidl.tensor(np.array([0.05], np.float32), requires_grad=True)
    opt = optim.SGD([{"params": [w], "lr": 0.1}, {"params": [b], "lr": 1.0}])
    handle = add_proximal_l1(opt, l1=1.0, params=[w])
    w.grad, b.grad = minidl.tensor(np.zeros(2, np.float32)), minidl.tensor(np.zeros(1, np.float32))
    opt.step()
    np.testing.assert_allclose(w.numpy(), [0.2, 0.0])  # threshold lr·λ = 0.1
    assert b.numpy()[0] == np.float32(0.05)  # not chosen
    handle.remove()
    opt.step()
    np.testing.assert_allclose(w.numpy(), [0.2, 0.0])
    with pytest.raises(ValueError, match="l1"):
        add_proximal_l1(opt, -1.0)


# -- gradient clipping -----------------------------------------------------------------------------------

def _with_grads(*grads: np.ndarray) -> list[minidl.Tensor]:
    params = []
    for g in grads:
        p = minidl.tensor(np.zeros_like(g), requires_grad=True)
        p.grad = minidl.tensor(g.copy())
        params.append(p)
    return params


@SETTINGS
@given(a=hnp.arrays(np.float32, 3, elements=st.floats(-10, 10, width=32)),
       b=hnp.arrays(np.float32, (2, 2), elements=st.floats(-10, 10, width=32)),
       max_norm=st.floats(0.1, 20), norm_type=st.sampled_from([1.0, 2.0, 3.0, float("inf")]))
def test_clip_grad_norm_scales_to_the_limit_and_keeps_the_direction(a, b, max_norm, norm_type) -> None:
    params = _with_grads(a, b)
    flat = np.concatenate([a.ravel(), b.ravel()]).astype(np.float64)
    if norm_type == float("inf"):
        norm = np.max(np.abs(flat))
    else:
        norm = np.sum(np.abs(flat) ** norm_type) ** (1 / norm_type)
    total = clip_grad_norm_(params, max_norm, norm_type)
    assert total.item() == pytest.approx(norm, rel=1e-5)
    clipped = np.concatenate([p.grad.numpy().ravel() for p in params]).astype(np.float64)
    scale = min(1.0, max_norm / (norm + 1e-6))
    np.testing.assert_allclose(clipped, flat * scale, rtol=1e-5, atol=1e-6)
    assert all(p.grad.dtype == np.float32 for p in params)


def test_clip_grad_norm_edge_cases() -> None:
    p = minidl.tensor(np.zeros(2, np.float32), requires_grad=True)
    assert clip_grad_norm_([p], 1.0).item() == 0.0  # no gradients at all
    params = _with_grads(np.array([3.0, 4.0], np.float32))
    assert clip_grad_norm_(params, 10.0).item() == pytest.approx(5.0)
    np.testing.assert_array_equal(params[0].grad.numpy(), [3.0, 4.0])  # under the limit: untouched
    clip_grad_norm_(params[0], 1.0)  # a single Tensor works too
    np.testing.assert_allclose(params[0].grad.numpy(), [0.6, 0.8], rtol=1e-5)
    bad = _with_grads(np.array([np.inf, 1.0], np.float32))
    with pytest.raises(RuntimeError, match="inf or NaN"):
        clip_grad_norm_(bad, 1.0, error_if_nonfinite=True)
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm_(params, -1.0)
    with pytest.raises(ValueError, match="norm_type"):
        clip_grad_norm_(params, 1.0, norm_type=0)


def test_clip_grad_value_clamps_each_element() -> None:
    params = _with_grads(np.array([-3.0, 0.5, 2.0], np.float32))
    clip_grad_value_(params, 1.0)
    np.testing.assert_array_equal(params[0].grad.numpy(), [-1.0, 0.5, 1.0])
    with pytest.raises(ValueError, match="clip_value"):
        clip_grad_value_(params, -0.5)


def test_clipping_is_reexported_from_optim_and_nn() -> None:
    assert optim.clip_grad_norm_ is nn.utils.clip_grad_norm_
    assert optim.clip_grad_value_ is nn.utils.clip_grad_value_
