"""The PyTorch-shaped optimizer classes: semantics, settings, groups, state, saving, hooks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minidl
from minidl import nn, optim

pytestmark = pytest.mark.backends  # also on the stand-in: the xp rule path CuPy arrays take

ALL = {
    "GD": (optim.GD, dict(lr=0.1)),
    "SGD": (optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=1e-3)),
    "SGD-nesterov": (optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True)),
    "Adam": (optim.Adam, dict(lr=0.01, amsgrad=True, weight_decay=1e-3)),
    "AdamW": (optim.AdamW, dict(lr=0.01)),
    "RMSprop": (optim.RMSprop, dict(lr=0.01, momentum=0.5, centered=True)),
    "Adagrad": (optim.Adagrad, dict(lr=0.1, lr_decay=0.01)),
}


def _batches(n: int = 6) -> list[tuple[minidl.Tensor, minidl.Tensor]]:
    rng = np.random.default_rng(3)
    return [(minidl.tensor(rng.standard_normal((16, 6)).astype(np.float32)),
             minidl.tensor(rng.integers(0, 3, 16))) for _ in range(n)]


def _train(model, opt, batches) -> None:
    for x, y in batches:
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()


# -- Adam's defining properties ------------------------------------------------------------------

@settings(max_examples=25, deadline=None)
@given(g=hnp.arrays(np.float32, st.integers(1, 6),
                    elements=st.floats(-100, 100, width=32).filter(lambda v: abs(v) > 1e-3)),
       lr=st.floats(1e-4, 0.1))
def test_adam_first_step_moves_every_coordinate_by_lr_times_sign(g, lr) -> None:
    """Step 1: m̂ = g and v̂ = g², so the step is lr·g/|g| = lr·sign(g) (ε → 0)."""
    theta = np.zeros_like(g)
    p = minidl.tensor(theta, requires_grad=True)
    opt = optim.Adam([p], lr=lr, betas=(0.9, 0.999), eps=1e-12)
    p.grad = minidl.tensor(g)
    opt.step()
    np.testing.assert_allclose(p.numpy(), -lr * np.sign(g), rtol=1e-5)


@settings(max_examples=20, deadline=None)
@given(g=st.floats(-10, 10).filter(lambda v: abs(v) > 1e-3), b1=st.floats(0.5, 0.99),
       steps=st.integers(1, 30))
def test_bias_corrected_first_moment_equals_a_constant_gradient(g, b1, steps) -> None:
    """With a constant g, m_t = (1 − β₁ᵗ) g, so m̂ = g at every step; the raw m falls short."""
    from minidl.optim.transforms import scale_by_adam

    corrected = scale_by_adam(b1, 0.999)
    theta = np.zeros(1, np.float64)
    state = corrected.init(theta)
    grad = np.full(1, g)
    for t in range(1, steps + 1):
        _, state = corrected.update(grad, state, theta)
        m_hat = state["exp_avg"] / (1 - b1**t)
        np.testing.assert_allclose(m_hat, grad, rtol=1e-9)
        np.testing.assert_allclose(state["exp_avg"], (1 - b1**t) * grad, rtol=1e-9)
        if b1**t > 1e-3:  # the raw m is short of g by β₁ᵗ·g
            assert abs(state["exp_avg"][0] - g) > 0.5 * b1**t * abs(g)


def test_adam_without_bias_correction_takes_too_large_first_steps() -> None:
    """What the correction is for: v starts even further below its mean than m, so the
    uncorrected step 1 is lr(1 − β₁)/√(1 − β₂) ≈ 3.2·lr instead of lr."""
    p = minidl.tensor(np.zeros(1, np.float32), requires_grad=True)
    opt = optim.Adam([p], lr=0.01, eps=0.0, bias_correction=False)
    p.grad = minidl.tensor(np.ones(1, np.float32))
    opt.step()
    np.testing.assert_allclose(-p.numpy(), 0.01 * 0.1 / np.sqrt(0.001), rtol=1e-5)


# -- parameter groups --------------------------------------------------------------------------

def test_parameter_groups_have_their_own_settings() -> None:
    """Per-group lr and weight decay: the usual way to exclude biases from decay."""
    minidl.manual_seed(0)
    model = nn.Linear(4, 3)
    opt = optim.SGD([{"params": [model.weight], "weight_decay": 0.5},
                     {"params": [model.bias], "lr": 1.0}], lr=0.1)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[1]["weight_decay"] == 0.0
    w0, b0 = model.weight.numpy().copy(), model.bias.numpy().copy()
    model.weight.grad = minidl.tensor(np.zeros((3, 4), np.float32))
    model.bias.grad = minidl.tensor(np.ones(3, np.float32))
    opt.step()
    np.testing.assert_allclose(model.weight.numpy(), w0 * (1 - 0.1 * 0.5), rtol=1e-6)
    np.testing.assert_allclose(model.bias.numpy(), b0 - 1.0, rtol=1e-6)


def test_bad_parameter_lists_are_refused() -> None:
    p = minidl.tensor(np.ones(2, np.float32), requires_grad=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(TypeError, match="unknown optimizer setting"):
        optim.SGD([{"params": [p], "momentun": 0.9}], lr=0.1)
    with pytest.raises(ValueError, match="does not require grad"):
        optim.SGD([minidl.tensor(np.ones(2, np.float32))], lr=0.1)


def test_a_gradient_of_the_wrong_shape_is_an_error() -> None:
    p = minidl.tensor(np.ones(3, np.float32), requires_grad=True)
    opt = optim.Adam([p])
    p.grad = minidl.tensor(np.ones(4, np.float32))
    with pytest.raises(ValueError, match=r"shape \(3,\) has a gradient of shape \(4,\)"):
        opt.step()


# -- bad settings ---------------------------------------------------------------------------

BAD = [
    (optim.SGD, dict(lr=-0.1), ValueError, "lr"),
    (optim.SGD, dict(lr=0.1, momentum=-0.5), ValueError, "momentum"),
    (optim.SGD, dict(lr=0.1, weight_decay=-1.0), ValueError, "weight_decay"),
    (optim.SGD, dict(lr=0.1, nesterov=True), ValueError, "nesterov"),
    (optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.5, nesterov=True), ValueError, "nesterov"),
    (optim.SGD, dict(lr="0.1"), TypeError, "lr"),
    (optim.SGD, dict(lr=float("nan")), ValueError, "lr"),
    (optim.GD, dict(lr=-1.0), ValueError, "lr"),
    (optim.Adam, dict(lr=-1e-3), ValueError, "lr"),
    (optim.Adam, dict(eps=-1e-8), ValueError, "eps"),
    (optim.Adam, dict(betas=(1.0, 0.999)), ValueError, r"betas\[0\]"),
    (optim.Adam, dict(betas=(0.9, -0.1)), ValueError, r"betas\[1\]"),
    (optim.Adam, dict(betas=(0.9,)), ValueError, "betas"),
    (optim.AdamW, dict(weight_decay=-0.01), ValueError, "weight_decay"),
    (optim.RMSprop, dict(alpha=1.5), ValueError, "alpha"),
    (optim.RMSprop, dict(eps=-1.0), ValueError, "eps"),
    (optim.RMSprop, dict(momentum=-0.1), ValueError, "momentum"),
    (optim.Adagrad, dict(lr_decay=-0.1), ValueError, "lr_decay"),
    (optim.Adagrad, dict(initial_accumulator_value=-1.0), ValueError, "initial_accumulator_value"),
]


@pytest.mark.parametrize("cls, kwargs, error, name", BAD)
def test_bad_settings_raise_an_error_naming_the_setting(cls, kwargs, error, name) -> None:
    p = minidl.tensor(np.ones(2, np.float32), requires_grad=True)
    with pytest.raises(error, match=name):
        cls([p], **kwargs)


def test_bad_settings_in_an_added_group_are_caught_too() -> None:
    p = minidl.tensor(np.ones(2, np.float32), requires_grad=True)
    q = minidl.tensor(np.ones(2, np.float32), requires_grad=True)
    opt = optim.Adam([p])
    with pytest.raises(ValueError, match="eps"):
        opt.add_param_group({"params": [q], "eps": -1.0})


# -- float32 discipline -------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(ALL))
def test_float64_hyperparameters_never_promote_float32_parameters(name) -> None:
    cls, kwargs = ALL[name]
    kwargs = {k: np.float64(v) if isinstance(v, float) else v for k, v in kwargs.items()}
    minidl.manual_seed(0)
    model = nn.MLP([6, 5, 3])
    opt = cls(model.parameters(), **kwargs)
    _train(model, opt, _batches(2))
    for p in model.parameters():
        assert p.dtype == np.float32
    for state in opt.state.values():
        for v in state.values():
            assert not isinstance(v, np.ndarray) or v.dtype == np.float32


# -- saving and resuming --------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(ALL))
def test_state_dict_save_and_load_continue_bit_exactly(name, tmp_path) -> None:
    """Train 3 steps, save model + optimizer with minidl.save, train 3 more; a fresh model and
    optimizer loaded from the file and trained the same 3 steps end with identical bits."""
    cls, kwargs = ALL[name]
    batches = _batches(6)
    minidl.manual_seed(0)
    model = nn.MLP([6, 5, 3])
    opt = cls(model.parameters(), **kwargs)
    _train(model, opt, batches[:3])
    minidl.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, tmp_path / "ckpt.npz")
    _train(model, opt, batches[3:])

    minidl.manual_seed(123)  # different initial weights: everything must come from the file
    resumed = nn.MLP([6, 5, 3])
    resumed_opt = cls(resumed.parameters(), **kwargs)
    checkpoint = minidl.load(tmp_path / "ckpt.npz")
    resumed.load_state_dict(checkpoint["model"])
    resumed_opt.load_state_dict(checkpoint["optimizer"])
    _train(resumed, resumed_opt, batches[3:])
    for a, b in zip(model.parameters(), resumed.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), strict=True)
    assert resumed_opt.param_groups[0].keys() == opt.param_groups[0].keys()


def test_state_dict_uses_pytorch_layout() -> None:
    minidl.manual_seed(0)
    model = nn.Linear(3, 2)
    opt = optim.Adam(model.parameters(), lr=0.01)
    _ = opt.state_dict()
    model.weight.grad = minidl.tensor(np.ones((2, 3), np.float32))
    opt.step()  # the bias has no grad: no state for it
    sd = opt.state_dict()
    assert list(sd["state"]) == [0]
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}
    assert sd["param_groups"][0]["params"] == [0, 1]
    assert sd["param_groups"][0]["betas"] == (0.9, 0.999)


def test_loading_into_a_differently_built_optimizer_is_refused() -> None:
    a = minidl.tensor(np.ones(2, np.float32), requires_grad=True)
    b = minidl.tensor(np.ones(3, np.float32), requires_grad=True)
    opt = optim.SGD([a, b], lr=0.1, momentum=0.9)
    a.grad, b.grad = minidl.tensor(np.ones(2, np.float32)), minidl.tensor(np.ones(3, np.float32))
    opt.step()
    with pytest.raises(ValueError, match="parameter groups"):
        optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).load_state_dict(opt.state_dict())
    with pytest.raises(ValueError, match="shape"):
        optim.SGD([b, a], lr=0.1, momentum=0.9).load_state_dict(opt.state_dict())


# -- closures, hooks, zero_grad ---------------------------------------------------------------------

def test_step_with_a_closure_returns_its_loss() -> None:
    minidl.manual_seed(0)
    model = nn.Linear(2, 1)
    x, y = minidl.randn(8, 2), minidl.randn(8, 1)
    opt = optim.GD(model.parameters(), lr=0.1)

    def closure():
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        return loss

    losses = [float(opt.step(closure)) for _ in range(20)]
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("name", sorted(ALL))
def test_step_hooks_run_once_around_every_step(name) -> None:
    cls, kwargs = ALL[name]
    p = minidl.tensor(np.ones(2, np.float32), requires_grad=True)
    opt = cls([p], **kwargs)
    calls = []
    pre = opt.register_step_pre_hook(lambda o: calls.append("pre"))
    post = opt.register_step_post_hook(lambda o: calls.append(("post", float(p.numpy()[0]))))
    p.grad = minidl.tensor(np.ones(2, np.float32))
    opt.step()
    assert calls[0] == "pre" and calls[1][0] == "post" and calls[1][1] != 1.0 and len(calls) == 2
    pre.remove()
    post.remove()
    opt.step()
    assert len(calls) == 2


def test_zero_grad_to_none_or_to_zeros() -> None:
    p = minidl.tensor(np.ones(2, np.float32), requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    p.grad = minidl.tensor(np.ones(2, np.float32))
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad.numpy(), np.zeros(2, np.float32))
    opt.zero_grad()
    assert p.grad is None


def test_momentum_state_exists_only_with_momentum() -> None:
    p = minidl.tensor(np.ones(2, np.float32), requires_grad=True)
    plain, heavy = optim.SGD([p], lr=0.1), optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = minidl.tensor(np.ones(2, np.float32))
    plain.step()
    heavy.step()
    assert plain.state_dict()["state"] == {} and set(heavy.state[p]) == {"momentum_buffer"}


def test_gd_and_sgd_share_the_rule_and_differ_in_the_data() -> None:
    """GD on the full-batch gradient = SGD with one batch holding every sample, bit for bit."""
    from minidl.data import ArrayDataset, DataLoader

    rng = np.random.default_rng(0)
    xp = minidl.backend.xp  # the datasets live where the model does (NumPy, or the stand-in)
    data = ArrayDataset(xp.asarray(rng.standard_normal((40, 3)).astype(np.float32)),
                        xp.asarray(rng.standard_normal((40, 1)).astype(np.float32)))

    def run(cls, batch_size: int) -> np.ndarray:
        minidl.manual_seed(0)
        model = nn.Linear(3, 1)
        opt = cls(model.parameters(), lr=0.05)
        for _ in range(5):
            for x, y in DataLoader(data, batch_size=batch_size):
                opt.zero_grad()
                nn.functional.mse_loss(model(x), y).backward()
                opt.step()
        return model.weight.numpy()

    np.testing.assert_array_equal(run(optim.GD, 40), run(optim.SGD, 40))
    assert not np.array_equal(run(optim.GD, 40), run(optim.SGD, 8))  # mini-batches: other steps
