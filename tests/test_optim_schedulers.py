"""Learning-rate schedules: closed forms, reference vectors, PyTorch's rules, fit() integration."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import minidl
from minidl import nn, optim
from minidl.optim.lr_scheduler import (
    CosineAnnealingLR,
    ExponentialLR,
    LinearLR,
    MultiStepLR,
    OneCycleLR,
    ReduceLROnPlateau,
    SequentialLR,
    StepLR,
)

pytestmark = pytest.mark.backends  # also on the stand-in: the xp rule path CuPy arrays take

SETTINGS = settings(max_examples=20, deadline=None)


def _opt(lr: float = 0.1, cls=optim.SGD, groups: int = 1, **kw):
    params = [minidl.tensor(np.zeros(2, np.float32), requires_grad=True) for _ in range(groups)]
    return cls([{"params": [p], "lr": lr * (i + 1)} for i, p in enumerate(params)], **kw)


def _lrs(scheduler, n: int, group: int = 0) -> list[float]:
    """The lr of epochs 0..n−1 (the optimizer's step would go where the comment is)."""
    out = []
    for _ in range(n):
        out.append(scheduler.optimizer.param_groups[group]["lr"])
        assert scheduler.get_last_lr()[group] == out[-1]
        # optimizer.step() here
        scheduler.step()
    return out


def test_multistep_vector_from_the_reference() -> None:
    """semantics.md: milestones [2, 5, 9], base 0.05, γ 0.1."""
    sched = MultiStepLR(_opt(0.05), milestones=[2, 5, 9], gamma=0.1)
    expected = [0.05, 0.05, 0.005, 0.005, 0.005, 0.0005, 0.0005, 0.0005, 0.0005, 0.00005, 0.00005]
    np.testing.assert_allclose(_lrs(sched, 11), expected, rtol=1e-12)


def test_a_milestone_given_twice_counts_twice() -> None:
    np.testing.assert_allclose(_lrs(MultiStepLR(_opt(1.0), [2, 2], 0.5), 4), [1, 1, 0.25, 0.25])


@SETTINGS
@given(step_size=st.integers(1, 6), gamma=st.floats(0.05, 1.0), base=st.floats(1e-4, 1.0))
def test_steplr_closed_form(step_size, gamma, base) -> None:
    lrs = _lrs(StepLR(_opt(base), step_size, gamma), 20)
    np.testing.assert_allclose(lrs, [base * gamma ** (t // step_size) for t in range(20)], rtol=1e-12)


@SETTINGS
@given(gamma=st.floats(0.5, 1.0), base=st.floats(1e-4, 1.0))
def test_exponentiallr_closed_form(gamma, base) -> None:
    np.testing.assert_allclose(_lrs(ExponentialLR(_opt(base), gamma), 30),
                               [base * gamma**t for t in range(30)], rtol=1e-12)


@SETTINGS
@given(T_max=st.integers(1, 20), eta_min=st.floats(0, 1e-3), base=st.floats(1e-2, 1.0))
def test_cosine_annealing_properties(T_max, eta_min, base) -> None:
    lrs = _lrs(CosineAnnealingLR(_opt(base), T_max, eta_min), 2 * T_max + 1)
    assert lrs[0] == pytest.approx(base) and lrs[T_max] == pytest.approx(eta_min, abs=1e-12)
    assert all(a >= b - 1e-15 for a, b in zip(lrs[:T_max], lrs[1:T_max + 1]))  # falls to T_max
    for t, lr in enumerate(lrs):
        assert lr == pytest.approx(eta_min + (base - eta_min) * (1 + math.cos(math.pi * t / T_max)) / 2)
    # minidl's documented choice, PyTorch's behaviour: past T_max it climbs back, period 2·T_max
    assert lrs[2 * T_max] == pytest.approx(base)
    assert lrs[T_max + 1: 2 * T_max] == pytest.approx(lrs[1:T_max][::-1])


def test_pytorch_reference_vectors() -> None:
    """Values printed by PyTorch 2.13 (torch.optim.lr_scheduler) for the same settings."""
    cos = _lrs(CosineAnnealingLR(_opt(0.1), T_max=4, eta_min=0.01), 10)
    np.testing.assert_allclose(cos, [0.1, 0.086819805153, 0.055, 0.023180194847, 0.01, 0.023180194847,
                                     0.055, 0.086819805153, 0.1, 0.086819805153], rtol=1e-10)
    warm = _lrs(LinearLR(_opt(0.1)), 8)
    np.testing.assert_allclose(warm, [0.033333333333, 0.046666666667, 0.06, 0.073333333333,
                                      0.086666666667, 0.1, 0.1, 0.1], rtol=1e-10)
    opt = _opt(0.1, momentum=0.9)
    one = OneCycleLR(opt, max_lr=0.1, total_steps=10)
    lrs, moms = [], []
    for t in range(10):
        lrs.append(one.get_last_lr()[0])
        moms.append(opt.param_groups[0]["momentum"])
        if t < 9:
            one.step()
    np.testing.assert_allclose(lrs, [0.004, 0.052, 0.1, 0.095048463201, 0.081174565395, 0.061126202194,
                                     0.038874197806, 0.018825834605, 0.004951936799, 4e-07], rtol=1e-9)
    np.testing.assert_allclose(moms, [0.95, 0.9, 0.85, 0.854951556605, 0.868825509907, 0.888873953302,
                                      0.911126046698, 0.931174490093, 0.945048443395, 0.95], rtol=1e-10)


@SETTINGS
@given(start=st.floats(0.01, 1.0), end=st.floats(0.0, 1.0), total=st.integers(1, 10))
def test_linear_lr_closed_form(start, end, total) -> None:
    lrs = _lrs(LinearLR(_opt(1.0), start, end, total), total + 3)
    np.testing.assert_allclose(lrs, [start + (end - start) * min(t, total) / total for t in range(total + 3)],
                               rtol=1e-12, atol=1e-15)


def test_sequential_lr_warms_up_then_anneals() -> None:
    opt = _opt(0.1)
    warm = LinearLR(opt, start_factor=0.1, total_iters=4)
    cos = CosineAnnealingLR(opt, T_max=6)
    lrs = _lrs(SequentialLR(opt, [warm, cos], milestones=[4]), 11)
    expected = [0.1 * (0.1 + 0.9 * t / 4) for t in range(4)]
    expected += [0.1 * (1 + math.cos(math.pi * t / 6)) / 2 for t in range(7)]  # restarts at its epoch 0
    np.testing.assert_allclose(lrs, expected, rtol=1e-12, atol=1e-15)


@SETTINGS
@given(total=st.integers(4, 60), pct=st.floats(0.1, 0.9), max_lr=st.floats(1e-3, 1.0))
def test_one_cycle_shape(total, pct, max_lr) -> None:
    assume(1 < pct * total < total - 1)
    opt = _opt(0.1, cls=optim.Adam)
    sched = OneCycleLR(opt, max_lr=max_lr, total_steps=total, pct_start=pct)
    lrs, beta1 = [], []
    for t in range(total):
        lrs.append(sched.get_last_lr()[0])
        beta1.append(opt.param_groups[0]["betas"][0])
        if t < total - 1:
            sched.step()
    assert lrs[0] == pytest.approx(max_lr / 25)
    assert lrs[-1] == pytest.approx(max_lr / 25 / 1e4)
    peak = int(np.argmax(lrs))
    assert lrs[peak] <= max_lr * (1 + 1e-12)
    assert abs(peak - (pct * total - 1)) <= 1
    assert beta1[0] == pytest.approx(0.95) and min(beta1) >= 0.85 - 1e-12  # momentum moves the other way
    assert abs(int(np.argmin(beta1)) - peak) <= 1  # the peak may fall between two steps


def test_one_cycle_refuses_to_step_past_its_end() -> None:
    sched = OneCycleLR(_opt(), max_lr=0.1, epochs=2, steps_per_epoch=3)
    for _ in range(6):
        sched.step()
    with pytest.raises(ValueError, match="total_steps = 6"):
        sched.step()


def test_reduce_on_plateau_hand_computed() -> None:
    """patience 1, factor 0.5, cooldown 1: reduce after two epochs without a new best."""
    opt = _opt(1.0)
    sched = ReduceLROnPlateau(opt, patience=1, factor=0.5, cooldown=1, min_lr=0.2)
    got = []
    for loss in [1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95]:
        sched.step(loss)
        got.append(opt.param_groups[0]["lr"])
    # best 0.9 at epoch 2; bad epochs 3, 4 → halve; epoch 5 cooldown; 6, 7 bad → halve; ...
    assert got == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.2]
    assert sched.get_last_lr() == [0.2]


def test_reduce_on_plateau_threshold_modes() -> None:
    opt = _opt(1.0)
    sched = ReduceLROnPlateau(opt, mode="max", patience=0, threshold=0.1, threshold_mode="abs")
    sched.step(1.0)
    sched.step(1.05)  # not better by more than 0.1: reduce
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)


BAD = [
    (lambda o: StepLR(o, 0), "step_size"),
    (lambda o: StepLR(o, 2, gamma=-0.1), "gamma"),
    (lambda o: MultiStepLR(o, [2, -1]), "milestone"),
    (lambda o: CosineAnnealingLR(o, T_max=0), "T_max"),
    (lambda o: LinearLR(o, start_factor=0.0), "start_factor"),
    (lambda o: LinearLR(o, end_factor=1.5), "end_factor"),
    (lambda o: OneCycleLR(o, 0.1), "total_steps"),
    (lambda o: OneCycleLR(o, 0.1, total_steps=10, pct_start=1.5), "pct_start"),
    (lambda o: OneCycleLR(o, 0.1, total_steps=4, pct_start=0.25), "phase"),
    (lambda o: OneCycleLR(o, 0.1, total_steps=10, anneal_strategy="exp"), "anneal_strategy"),
    (lambda o: ReduceLROnPlateau(o, factor=1.0), "factor"),
    (lambda o: ReduceLROnPlateau(o, mode="up"), "mode"),
    (lambda o: SequentialLR(o, [StepLR(o, 2), StepLR(o, 3)], milestones=[]), "milestone"),
    (lambda o: SequentialLR(o, [ReduceLROnPlateau(o)], milestones=[]), "ReduceLROnPlateau"),
]


@pytest.mark.parametrize("make, name", BAD)
def test_bad_scheduler_settings_raise_value_error(make, name) -> None:
    with pytest.raises(ValueError, match=name):
        make(_opt())


def test_schedulers_need_an_optimizer_with_momentum_to_cycle_it() -> None:
    with pytest.raises(ValueError, match="cycle_momentum"):
        OneCycleLR(_opt(cls=optim.GD), 0.1, total_steps=10)
    with pytest.raises(TypeError, match="optimizer"):
        StepLR("not an optimizer", 2)


def test_every_group_follows_its_own_base_lr() -> None:
    sched = StepLR(_opt(0.1, groups=2), step_size=1, gamma=0.5)
    sched.step()
    assert sched.get_last_lr() == pytest.approx([0.05, 0.1])


def test_scheduler_state_round_trips_through_save(tmp_path) -> None:
    opt = _opt(0.1, momentum=0.9)
    sched = OneCycleLR(opt, 0.1, total_steps=20)
    for _ in range(7):
        sched.step()
    minidl.save({"opt": opt.state_dict(), "sched": sched.state_dict()}, tmp_path / "s.npz")
    later = [sched.step() or sched.get_last_lr()[0] for _ in range(5)]
    ckpt = minidl.load(tmp_path / "s.npz")
    opt2 = _opt(0.1, momentum=0.9)
    opt2.load_state_dict(ckpt["opt"])
    sched2 = OneCycleLR(opt2, 0.1, total_steps=20)
    sched2.load_state_dict(ckpt["sched"])
    assert [sched2.step() or sched2.get_last_lr()[0] for _ in range(5)] == later


def test_fit_steps_schedulers_once_per_epoch_and_plateau_with_the_val_loss() -> None:
    from minidl.data import ArrayDataset, DataLoader
    from minidl.train import fit

    rng = np.random.default_rng(0)
    xp = minidl.backend.xp  # the dataset lives where the model does (NumPy, or the stand-in)
    data = ArrayDataset(xp.asarray(rng.standard_normal((32, 4)).astype(np.float32)),
                        xp.asarray(rng.integers(0, 2, 32)))
    minidl.manual_seed(0)
    model = nn.Linear(4, 2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    history = fit(model, nn.functional.cross_entropy, opt, DataLoader(data, batch_size=8), epochs=4,
                  scheduler=StepLR(opt, step_size=1, gamma=0.5), progress=False)
    assert history.lr == pytest.approx([0.1, 0.05, 0.025, 0.0125])

    opt = optim.SGD(model.parameters(), lr=0.0)  # lr 0: the val loss never improves
    plateau = ReduceLROnPlateau(opt, patience=0)
    opt.param_groups[0]["lr"] = 1e-9
    fit(model, nn.functional.cross_entropy, opt, DataLoader(data, batch_size=8), epochs=3,
        val_loader=DataLoader(data, batch_size=32), scheduler=plateau, progress=False)
    assert plateau.last_epoch == 3 and plateau.best < math.inf
