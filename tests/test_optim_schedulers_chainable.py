"""PyTorch's chainable schedulers and the schedules added for issue 14 §7, with vectors computed
by hand from PyTorch's formulas (torch/optim/lr_scheduler.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl
from minidl import optim
from minidl.optim.lr_scheduler import (
    ChainedScheduler,
    ConstantLR,
    CosineAnnealingLR,
    CosineAnnealingWarmRestarts,
    CyclicLR,
    ExponentialLR,
    LinearLR,
    MultiplicativeLR,
    MultiStepLR,
    PolynomialLR,
    ReduceLROnPlateau,
    SequentialLR,
    StepLR,
)

pytestmark = pytest.mark.backends


def _opt(lr: float = 0.1, cls=optim.SGD, groups: int = 1, **kw):
    params = [minidl.tensor(np.zeros(2, np.float32), requires_grad=True) for _ in range(groups)]
    return cls([{"params": [p], "lr": lr * (i + 1)} for i, p in enumerate(params)], **kw)


def _lrs(step, opt, n: int, group: int = 0) -> list[float]:
    out = []
    for _ in range(n):
        out.append(opt.param_groups[group]["lr"])
        step()
    return out


# -- chaining ---------------------------------------------------------------------------------------

def test_two_schedulers_on_one_optimizer_multiply_as_in_pytorch() -> None:
    """The issue's example: ExponentialLR(0.9) and StepLR(3, 0.5) at lr 0.1 give 0.09 after one step."""
    opt = _opt(0.1)
    exp, step = ExponentialLR(opt, 0.9), StepLR(opt, 3, 0.5)

    def both() -> None:
        exp.step()
        step.step()

    expected = [0.1, 0.09, 0.081, 0.0729 * 0.5, 0.032805, 0.0295245, 0.02657205 * 0.5]
    np.testing.assert_allclose(_lrs(both, opt, 7), expected, rtol=1e-12)
    assert step.get_last_lr() == exp.get_last_lr() == [opt.param_groups[0]["lr"]]


def test_chained_scheduler_steps_its_schedulers_in_turn() -> None:
    opt = _opt(1.0)
    chained = ChainedScheduler([ConstantLR(opt, factor=0.1, total_iters=2), ExponentialLR(opt, 0.9)])
    np.testing.assert_allclose(_lrs(chained.step, opt, 5), [0.1, 0.09, 0.81, 0.729, 0.6561], rtol=1e-12)
    assert chained.get_last_lr() == [opt.param_groups[0]["lr"]]
    assert chained.optimizer is opt


def test_chained_scheduler_refuses_what_it_cannot_chain() -> None:
    opt, other = _opt(), _opt()
    with pytest.raises(ValueError, match="at least one"):
        ChainedScheduler([])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        ChainedScheduler([StepLR(opt, 2), ReduceLROnPlateau(opt)])
    with pytest.raises(ValueError, match="another optimizer"):
        ChainedScheduler([StepLR(opt, 2), StepLR(other, 2)])


def test_sequential_lr_still_restarts_each_schedule_at_its_epoch_0() -> None:
    """LinearLR was made first and moved the lr; the cosine made after must start from base_lr."""
    opt = _opt(0.1)
    seq = SequentialLR(opt, [LinearLR(opt, 0.1, total_iters=2), ExponentialLR(opt, 0.5)], milestones=[2])
    np.testing.assert_allclose(_lrs(seq.step, opt, 5), [0.01, 0.055, 0.1, 0.05, 0.025], rtol=1e-12)


# -- each alone follows its closed form ---------------------------------------------------------------

CHAINABLE = [
    lambda o, a, n: StepLR(o, 1 + n % 4, a),
    lambda o, a, n: MultiStepLR(o, [1, n % 5 + 1, n % 5 + 1, 7], a),
    lambda o, a, n: ConstantLR(o, a, 1 + n % 6),
    lambda o, a, n: LinearLR(o, a, 1 - a / 2, 1 + n % 6),
    lambda o, a, n: ExponentialLR(o, a),
    lambda o, a, n: PolynomialLR(o, 1 + n % 8, power=0.5 + 2 * a),
    lambda o, a, n: CosineAnnealingLR(o, 1 + n % 9, eta_min=a * 1e-3),
]


@settings(max_examples=15, deadline=None)
@given(which=st.integers(0, len(CHAINABLE) - 1), a=st.floats(0.05, 1.0), n=st.integers(0, 100),
       base=st.floats(1e-3, 1.0))
def test_the_chainable_form_follows_the_closed_form(which, a, n, base) -> None:
    opt = _opt(base)
    sched = CHAINABLE[which](opt, a, n)
    for _ in range(25):
        np.testing.assert_allclose(opt.param_groups[0]["lr"], sched._get_closed_form_lr()[0], rtol=1e-9, atol=1e-15)
        sched.step()


# -- the new schedules, hand-computed -------------------------------------------------------------------

def test_constant_lr_vector() -> None:
    opt = _opt(0.05)
    np.testing.assert_allclose(_lrs(ConstantLR(opt, factor=0.5, total_iters=4).step, opt, 7),
                               [0.025] * 4 + [0.05] * 3, rtol=1e-12)


def test_multiplicative_lr_vector() -> None:
    opt = _opt(1.0, groups=2)
    sched = MultiplicativeLR(opt, [lambda t: 0.95, lambda t: 0.5 if t % 2 else 1.0])
    np.testing.assert_allclose(_lrs(sched.step, opt, 4), [1, 0.95, 0.9025, 0.857375], rtol=1e-12)
    np.testing.assert_allclose(opt.param_groups[1]["lr"], 2 * 0.5 * 1.0 * 0.5 * 1.0, rtol=1e-12)


def test_polynomial_lr_vectors() -> None:
    opt = _opt(1.0)
    np.testing.assert_allclose(_lrs(PolynomialLR(opt, 4).step, opt, 7), [1, 0.75, 0.5, 0.25, 0, 0, 0], atol=1e-15)
    opt = _opt(1.0)
    np.testing.assert_allclose(_lrs(PolynomialLR(opt, 4, power=2.0).step, opt, 6),
                               [1, 0.5625, 0.25, 0.0625, 0, 0], atol=1e-15)


def test_cosine_warm_restarts_vectors() -> None:
    opt = _opt(1.0)
    sched = CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2)
    c8, c38 = math.cos(math.pi / 4), math.cos(3 * math.pi / 4)
    np.testing.assert_allclose(_lrs(sched.step, opt, 7),
                               [1, 0.5, 1, 0.5 * (1 + c8), 0.5, 0.5 * (1 + c38), 1], rtol=1e-12, atol=1e-15)
    opt = _opt(1.0)
    sched = CosineAnnealingWarmRestarts(opt, T_0=3, eta_min=0.1)
    np.testing.assert_allclose(_lrs(sched.step, opt, 7), [1, 0.775, 0.325, 1, 0.775, 0.325, 1], rtol=1e-12)


def test_cosine_warm_restarts_takes_a_fractional_epoch() -> None:
    opt = _opt(1.0)
    sched = CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2)
    sched.step(2.5)  # second period (T_i = 4), half an epoch in
    assert sched.T_i == 4 and sched.T_cur == pytest.approx(0.5) and sched.last_epoch == 2
    assert opt.param_groups[0]["lr"] == pytest.approx(0.5 * (1 + math.cos(math.pi / 8)), rel=1e-12)
    sched.step(1.0)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.5, rel=1e-12)
    with pytest.raises(ValueError, match="epoch"):
        sched.step(-1)


def test_cyclic_lr_triangular_and_momentum() -> None:
    opt = _opt(0.5, momentum=0.0)
    sched = CyclicLR(opt, base_lr=0.1, max_lr=1.0, step_size_up=2)
    lrs, moms = [], []
    for _ in range(7):
        lrs.append(opt.param_groups[0]["lr"])
        moms.append(opt.param_groups[0]["momentum"])
        sched.step()
    np.testing.assert_allclose(lrs, [0.1, 0.55, 1.0, 0.55, 0.1, 0.55, 1.0], rtol=1e-12)
    np.testing.assert_allclose(moms, [0.9, 0.85, 0.8, 0.85, 0.9, 0.85, 0.8], rtol=1e-12)
    assert opt.param_groups[0]["max_momentum"] == 0.9 and opt.param_groups[0]["base_momentum"] == 0.8


def test_cyclic_lr_modes() -> None:
    opt = _opt(0.1)
    tri2 = CyclicLR(opt, 0.1, 1.0, step_size_up=2, mode="triangular2", cycle_momentum=False)
    np.testing.assert_allclose(_lrs(tri2.step, opt, 9), [0.1, 0.55, 1.0, 0.55, 0.1, 0.325, 0.55, 0.325, 0.1],
                               rtol=1e-12)
    opt = _opt(0.1)
    exp = CyclicLR(opt, 0.1, 1.0, step_size_up=2, mode="exp_range", gamma=0.5, cycle_momentum=False)
    np.testing.assert_allclose(_lrs(exp.step, opt, 4), [0.1, 0.1 + 0.9 * 0.5 * 0.5, 0.1 + 0.9 * 0.25,
                                                        0.1 + 0.9 * 0.5 * 0.125], rtol=1e-12)
    opt = _opt(0.1)
    skew = CyclicLR(opt, 0.1, 1.0, step_size_up=1, step_size_down=3, cycle_momentum=False)
    np.testing.assert_allclose(_lrs(skew.step, opt, 5), [0.1, 1.0, 0.7, 0.4, 0.1], rtol=1e-12)
    opt = _opt(0.1, cls=optim.Adam)
    custom = CyclicLR(opt, 0.1, 1.0, step_size_up=2, scale_fn=lambda c: 0.5, base_momentum=0.85,
                      max_momentum=0.95)
    custom.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 + 0.9 * 0.5 * 0.5)
    assert opt.param_groups[0]["betas"] == pytest.approx((0.95 - 0.1 * 0.5 * 0.5, 0.999))


NEW_BAD = [
    (lambda o: ConstantLR(o, factor=0.0), ValueError, "factor"),
    (lambda o: ConstantLR(o, factor=1.5), ValueError, "factor"),
    (lambda o: ConstantLR(o, total_iters=0), ValueError, "total_iters"),
    (lambda o: PolynomialLR(o, total_iters=0), ValueError, "total_iters"),
    (lambda o: PolynomialLR(o, power=-1.0), ValueError, "power"),
    (lambda o: MultiplicativeLR(o, 0.95), ValueError, "lr_lambda"),
    (lambda o: CosineAnnealingWarmRestarts(o, T_0=0), ValueError, "T_0"),
    (lambda o: CosineAnnealingWarmRestarts(o, T_0=2, T_mult=0), ValueError, "T_mult"),
    (lambda o: CosineAnnealingWarmRestarts(o, T_0=2, eta_min=-1.0), ValueError, "eta_min"),
    (lambda o: CyclicLR(o, 0.1, 1.0, step_size_up=0), ValueError, "step_size_up"),
    (lambda o: CyclicLR(o, 0.1, 1.0, mode="sine"), ValueError, "mode"),
    (lambda o: CyclicLR(o, 0.1, [1.0, 2.0]), ValueError, "max_lr has 2 values for 1"),
    (lambda o: CyclicLR(o, 0.1, 1.0, scale_mode="epochs", scale_fn=lambda x: 1.0), ValueError, "scale_mode"),
    (lambda o: CyclicLR(o, -0.1, 1.0), ValueError, "base_lr"),
]


@pytest.mark.parametrize("make, error, message", NEW_BAD)
def test_bad_settings_of_the_new_schedules_name_the_argument(make, error, message) -> None:
    with pytest.raises(error, match=message):
        make(_opt(momentum=0.9))


def test_cyclic_lr_needs_momentum_to_cycle_it() -> None:
    with pytest.raises(ValueError, match="cycle_momentum"):
        CyclicLR(_opt(cls=optim.GD), 0.1, 1.0)


# -- saving and resuming ---------------------------------------------------------------------------------

MAKERS = {
    "chained": lambda o: ChainedScheduler([StepLR(o, 3, 0.5), ExponentialLR(o, 0.9)]),
    "warm-restarts": lambda o: CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.01),
    "cyclic": lambda o: CyclicLR(o, 0.01, 0.1, step_size_up=3, mode="triangular2"),
    "multiplicative": lambda o: MultiplicativeLR(o, lambda t: 0.9),
    "polynomial": lambda o: PolynomialLR(o, 10, power=2.0),
    "constant": lambda o: ConstantLR(o, 0.5, 4),
}


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_scheduler_state_round_trips_through_save(name, tmp_path) -> None:
    opt = _opt(0.1, momentum=0.9)
    sched = MAKERS[name](opt)
    for _ in range(5):
        sched.step()
    minidl.save({"opt": opt.state_dict(), "sched": sched.state_dict()}, tmp_path / "s.npz")
    later = [sched.step() or opt.param_groups[0]["lr"] for _ in range(6)]
    ckpt = minidl.load(tmp_path / "s.npz")
    opt2 = _opt(0.1, momentum=0.9)
    sched2 = MAKERS[name](opt2)
    opt2.load_state_dict(ckpt["opt"])
    sched2.load_state_dict(ckpt["sched"])
    assert [sched2.step() or opt2.param_groups[0]["lr"] for _ in range(6)] == later
