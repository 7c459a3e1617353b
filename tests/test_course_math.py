"""Formulas the lessons state, checked as properties (hypothesis) against minidl's own ops."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import minidl
from minidl.nn.functional import cross_entropy, log_softmax

logit_batches = st.tuples(st.integers(1, 6), st.integers(2, 8)).flatmap(
    lambda shape: st.tuples(
        arrays(np.float64, shape, elements=st.floats(-30, 30, allow_nan=False)),
        arrays(np.int64, shape[0], elements=st.integers(0, shape[1] - 1)),
    ))


@settings(deadline=None, max_examples=60)
@given(logit_batches)
def test_log_softmax_is_idempotent(batch) -> None:
    """Lesson 02: log_softmax(log_softmax(z)) = log_softmax(z), because Σ exp(log p) = 1."""
    z, _ = batch
    once = log_softmax(minidl.tensor(z), dim=1)
    twice = log_softmax(once, dim=1)
    np.testing.assert_allclose(twice.numpy(), once.numpy(), rtol=0, atol=1e-12)


@settings(deadline=None, max_examples=60)
@given(logit_batches)
def test_a_log_softmax_too_many_changes_neither_loss_nor_gradient(batch) -> None:
    """Lesson 02: cross_entropy(log_softmax(z), y) has the loss and the ∂/∂z of cross_entropy(z, y)."""
    z, y = batch
    plain = minidl.tensor(z, requires_grad=True)
    doubled = minidl.tensor(z, requires_grad=True)
    loss_plain = cross_entropy(plain, minidl.tensor(y))
    loss_doubled = cross_entropy(log_softmax(doubled, dim=1), minidl.tensor(y))
    loss_plain.backward()
    loss_doubled.backward()
    assert abs(loss_plain.item() - loss_doubled.item()) <= 1e-12 * max(1.0, abs(loss_plain.item()))
    np.testing.assert_allclose(doubled.grad.numpy(), plain.grad.numpy(), rtol=0, atol=1e-12)


@settings(deadline=None, max_examples=40)
@given(st.floats(0.5, 0.999), st.floats(1e-4, 1.0), arrays(np.float64, 5, elements=st.floats(0.01, 100)))
def test_rmsprop_first_step_is_lr_over_sqrt_one_minus_alpha(alpha: float, lr: float, g: np.ndarray) -> None:
    """Lesson 04: with v₀ = 0, RMSprop's first step is lr/√(1 − α)·sign(g) (10·lr for α = 0.99)."""
    from minidl.optim import rules
    from minidl.optim.transforms import apply_updates

    theta = np.zeros_like(g)
    rule = rules.rmsprop(lr=lr, alpha=alpha, eps=0.0)
    updates, _ = rule.update(g, rule.init(theta), theta)
    step = theta - apply_updates(theta, updates)
    np.testing.assert_allclose(step, lr / np.sqrt(1 - alpha) * np.sign(g), rtol=1e-12)
