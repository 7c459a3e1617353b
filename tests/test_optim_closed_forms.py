"""Every update rule against its closed form, step by step, over random gradient sequences.

The closed forms here are written independently of minidl, as unrolled sums wherever the
recurrence allows one (m_t = (1 − β₁) Σₖ β₁^(t−k) gₖ, ...), in float64. Each is checked
against both the pure rule (:mod:`minidl.optim.rules`) and the PyTorch-shaped class (which
runs the fused kernel), in float32. Sequences contain zero gradients (a real step: t and
the moments advance) and None gradients (no step at all, no state change).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minidl
from minidl import optim
from minidl.optim import rules
from minidl.optim.transforms import apply_updates

pytestmark = pytest.mark.backends  # also on the stand-in: the xp rule path CuPy arrays take

SETTINGS = settings(max_examples=20, deadline=None)


@st.composite
def gradient_sequences(draw: st.DrawFn) -> tuple[np.ndarray, list[np.ndarray | None]]:
    """θ₀ and 1..7 gradients of its shape, each a random array, all zeros, or None."""
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=4))
    values = st.floats(-3, 3, allow_nan=False, width=32)
    theta = draw(hnp.arrays(np.float32, shape, elements=values))
    grads: list[np.ndarray | None] = []
    for _ in range(draw(st.integers(1, 7))):
        kind = draw(st.sampled_from(["random", "random", "random", "zero", "none"]))
        if kind == "random":
            grads.append(draw(hnp.arrays(np.float32, shape, elements=values)))
        elif kind == "zero":
            grads.append(np.zeros(shape, np.float32))
        else:
            grads.append(None)
    return theta, grads


# -- closed forms (float64) --------------------------------------------------------------------

def ema(values: list[np.ndarray], beta: float) -> np.ndarray:
    """(1 − β) Σₖ β^(t−k) xₖ: an exponential moving average started at zero."""
    t = len(values)
    return sum((1 - beta) * beta ** (t - k) * x for k, x in enumerate(values, 1))


def closed_sgd(theta, grads, lr, momentum=0.0, dampening=0.0, nesterov=False, maximize=False):
    sign = -1.0 if maximize else 1.0
    gs = [sign * g for g in grads]
    total = np.zeros_like(theta)
    for t in range(1, len(gs) + 1):
        if momentum == 0:
            d = gs[t - 1]
        else:
            # b_t = μ^(t−1) g₁ + (1 − τ) Σ_{k=2..t} μ^(t−k) g_k
            b = momentum ** (t - 1) * gs[0] + sum((1 - dampening) * momentum ** (t - k) * gs[k - 1]
                                                  for k in range(2, t + 1))
            d = gs[t - 1] + momentum * b if nesterov else b
        total = total + d
    return theta - lr * total


def closed_adam(theta, grads, lr, b1=0.9, b2=0.999, eps=1e-8, maximize=False, amsgrad=False,
                bias_correction=True, decoupled_weight_decay=0.0):
    sign = -1.0 if maximize else 1.0
    gs = [sign * g for g in grads]
    T = len(gs)
    keep = 1 - lr * decoupled_weight_decay  # AdamW: θ_T = keep^T θ₀ − lr Σ_t keep^(T−t) d_t
    out = keep**T * theta
    v_max = np.zeros_like(theta)
    for t in range(1, T + 1):
        m = ema(gs[:t], b1)
        v = ema([g * g for g in gs[:t]], b2)
        if amsgrad:
            v_max = v = np.maximum(v_max, v)
        if bias_correction:
            m, v = m / (1 - b1**t), v / (1 - b2**t)
        out = out - lr * keep ** (T - t) * m / (np.sqrt(v) + eps)
    return out


def closed_rmsprop(theta, grads, lr, alpha=0.99, eps=1e-8, momentum=0.0, centered=False):
    ds = []
    for t in range(1, len(grads) + 1):
        v = ema([g * g for g in grads[:t]], alpha)
        if centered:
            v = v - ema(grads[:t], alpha) ** 2
        ds.append(grads[t - 1] / (np.sqrt(np.maximum(v, 0)) + eps))
    total = sum(sum(momentum ** (t - k) * ds[k - 1] for k in range(1, t + 1))
                for t in range(1, len(ds) + 1))
    return theta - lr * total


def closed_adagrad(theta, grads, lr, lr_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
    out = theta
    for t in range(1, len(grads) + 1):
        s = initial_accumulator_value + sum(g * g for g in grads[:t])
        out = out - lr / (1 + (t - 1) * lr_decay) * grads[t - 1] / (np.sqrt(s) + eps)
    return out


# (class, rule, closed form, settings, tolerance scale)
CASES = {
    "gd": (optim.GD, rules.gd, closed_sgd, dict(lr=0.1)),
    "sgd": (optim.SGD, rules.sgd, closed_sgd, dict(lr=0.1)),
    "sgd-momentum": (optim.SGD, rules.sgd, closed_sgd, dict(lr=0.05, momentum=0.9, dampening=0.2)),
    "sgd-nesterov-max": (optim.SGD, rules.sgd, closed_sgd,
                         dict(lr=0.05, momentum=0.8, nesterov=True, maximize=True)),
    "adam": (optim.Adam, rules.adam, closed_adam, dict(lr=0.01, b1=0.9, b2=0.999)),
    "adam-amsgrad-max": (optim.Adam, rules.adam, closed_adam,
                         dict(lr=0.01, b1=0.8, b2=0.9, amsgrad=True, maximize=True)),
    "adam-no-bias-correction": (optim.Adam, rules.adam, closed_adam,
                                dict(lr=0.01, b1=0.9, b2=0.99, bias_correction=False)),
    "adamw": (optim.AdamW, rules.adamw, closed_adam, dict(lr=0.01, decoupled_weight_decay=0.3)),
    "rmsprop": (optim.RMSprop, rules.rmsprop, closed_rmsprop, dict(lr=0.01, alpha=0.9)),
    "rmsprop-centered-momentum": (optim.RMSprop, rules.rmsprop, closed_rmsprop,
                                  dict(lr=0.01, alpha=0.5, momentum=0.9, centered=True, eps=1e-3)),
    "adagrad": (optim.Adagrad, rules.adagrad, closed_adagrad,
                dict(lr=0.1, lr_decay=0.05, initial_accumulator_value=0.1)),
}


def minidl_kwargs(name: str, kw: dict) -> dict:
    """The closed form's settings under PyTorch's argument names."""
    kw = dict(kw)
    if "b1" in kw:
        kw["betas"] = (kw.pop("b1"), kw.pop("b2"))
    if "decoupled_weight_decay" in kw:
        kw["weight_decay"] = kw.pop("decoupled_weight_decay")
    return kw


def run_rule(rule, theta: np.ndarray, grads: list) -> np.ndarray:
    state = rule.init(theta)
    for g in grads:
        if g is None:
            continue  # no gradient: no step (what the classes do)
        u, state = rule.update(g, state, theta)
        theta = apply_updates(theta, u)
    return theta


def run_class(cls, kw: dict, theta: np.ndarray, grads: list) -> np.ndarray:
    p = minidl.tensor(theta.copy(), requires_grad=True)
    opt = cls([p], **kw)
    for g in grads:
        p.grad = None if g is None else minidl.tensor(g)
        opt.step()
    assert p.dtype == np.float32
    return p.numpy()


@pytest.mark.parametrize("impl", ["rule", "class"])
@pytest.mark.parametrize("name", sorted(CASES))
@SETTINGS
@given(case=gradient_sequences())
def test_update_rule_matches_its_closed_form(name: str, impl: str, case) -> None:
    cls, rule_fn, closed, kw = CASES[name]
    theta, grads = case
    present = [g.astype(np.float64) for g in grads if g is not None]
    expected = closed(theta.astype(np.float64), present, **kw)
    mkw = minidl_kwargs(name, kw)
    if impl == "rule":
        got = run_rule(rule_fn(**mkw), theta, grads)
    else:
        got = run_class(cls, mkw, theta, grads)
    # float32 arithmetic against float64: a few ulps per step on |θ| ~ 3 and steps of ~lr
    np.testing.assert_allclose(got, expected, rtol=2e-5, atol=2e-5 * (1 + len(present)))


def test_none_gradient_changes_neither_parameter_nor_state() -> None:
    p = minidl.tensor(np.ones(3, np.float32), requires_grad=True)
    q = minidl.tensor(np.ones(3, np.float32), requires_grad=True)
    opt = optim.Adam([p, q], lr=0.1)
    p.grad = minidl.tensor(np.ones(3, np.float32))
    opt.step()
    assert q not in opt.state and np.array_equal(q.numpy(), np.ones(3))
    host = minidl.backend.to_numpy
    before = {k: (host(v).copy() if hasattr(v, "shape") else v) for k, v in opt.state[p].items()}
    p.grad = None
    opt.step()
    assert all(np.array_equal(before[k], host(opt.state[p][k])) for k in before)
    assert opt.state[p]["step"] == 1


def test_zero_gradient_is_a_real_step() -> None:
    """A zero gradient still advances t and decays m, v: Adam keeps moving on momentum."""
    p = minidl.tensor(np.ones(2, np.float32), requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    p.grad = minidl.tensor(np.ones(2, np.float32))
    opt.step()
    after_first = p.numpy().copy()
    p.grad = minidl.tensor(np.zeros(2, np.float32))
    opt.step()
    assert opt.state[p]["step"] == 2
    assert np.all(p.numpy() < after_first)  # m ≠ 0 carries it on
