"""Learning-rate schedules, as ``torch.optim.lr_scheduler``.

Usage is PyTorch's: make the scheduler after the optimizer, call ``optimizer.step()`` for
every batch and ``scheduler.step()`` once per epoch (``fit`` does it), or once per batch
for :class:`OneCycleLR` and :class:`CyclicLR`. Making a scheduler sets the learning rate
for epoch 0; ``get_last_lr()`` tells what it set last.

Each class's docstring states its schedule in closed form: the lr of epoch t from
base_lr, the group's ``initial_lr`` (its lr when the first scheduler was made). Like
PyTorch's, most schedulers *step* by the recursive form of that formula — each step
multiplies the group's current lr by the factor between epochs t − 1 and t — so they are
chainable: two schedulers stepping one optimizer multiply their effects (ExponentialLR(0.9)
and StepLR(3, 0.5) from lr 0.1 give 0.09 after one step, then 0.081, then 0.03645), and
:class:`ChainedScheduler` steps a list of them together. Alone, a chainable scheduler
follows its closed form to double-precision rounding (``_get_closed_form_lr``, which
:class:`SequentialLR` uses to restart one at its epoch 0). :class:`LambdaLR`,
:class:`CosineAnnealingWarmRestarts`, :class:`CyclicLR` and :class:`OneCycleLR` set the lr
from their closed form and are not chainable, as in PyTorch.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from minidl.optim.optimizer import Optimizer


def _check_optimizer(optimizer: Any) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"a scheduler needs a minidl.optim optimizer (got {type(optimizer).__name__})")


def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an int >= {low} (got {value!r})")


def _check_factor(name: str, value: Any, low: float, high: float, low_open: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (
        (value > low if low_open else value >= low) and value <= high)
    if not ok:
        raise ValueError(f"{name} must be in {'(' if low_open else '['}{low}, {high}] (got {value!r})")


def _lambdas(optimizer: Optimizer, lr_lambda: Any) -> list[Callable[[int], float]]:
    n = len(optimizer.param_groups)
    lambdas = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * n
    if len(lambdas) != n or not all(callable(f) for f in lambdas):
        raise ValueError(f"lr_lambda must be a function or a list of {n} functions (one per group)")
    return lambdas


def _per_group(optimizer: Optimizer, name: str, value: float | Sequence[float]) -> list[float]:
    n = len(optimizer.param_groups)
    values = list(value) if isinstance(value, (list, tuple)) else [value] * n
    if len(values) != n:
        raise ValueError(f"{name} has {len(values)} values for {n} parameter groups")
    for v in values:
        _check_factor(name, v, 0.0, math.inf)
    return [float(v) for v in values]


class LRScheduler:
    """Base class: ``step()`` moves to the next epoch and sets each group's lr to ``get_lr()``.

    ``get_lr()`` is the chainable form (the next lr from the group's current lr) and
    ``_get_closed_form_lr()``, where a schedule has one, the lr of epoch ``last_epoch``
    from base_lr. ``last_epoch`` is the index of the epoch whose lr is set now (0 after
    construction). Passing ``last_epoch=k`` resumes a schedule at epoch k + 1 (the groups
    must already hold ``initial_lr``, as after ``optimizer.load_state_dict``); restoring with
    :meth:`load_state_dict` is the simpler way.
    """

    _is_initial = False  # True during the step the constructor makes (PyTorch's _initial_mode)

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            _check_int("last_epoch", last_epoch, -1)
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise ValueError(f"param_groups[{i}] has no 'initial_lr': to resume a schedule at "
                                     "last_epoch >= 0, load the optimizer's state dict first")
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            del self._is_initial  # back to the class's False

    def get_lr(self) -> list[float]:  # pragma: no cover - abstract
        """The learning rate of each group at epoch ``self.last_epoch`` (PyTorch's chainable form)."""
        raise NotImplementedError

    def step(self) -> None:
        """Move to the next epoch and set its learning rates (call after ``optimizer.step()``)."""
        self._step_count += 1
        self._update_lr()

    def _update_lr(self, epoch: int | None = None) -> None:
        """The next epoch by the chainable form, or jump to ``epoch`` by the closed form."""
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed = getattr(self, "_get_closed_form_lr", None)
            values = closed() if closed is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _current(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The learning rates this scheduler set last, one per parameter group."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """Everything but the optimizer and functions (as PyTorch); save it with ``minidl.save``."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer" and not callable(v)
                and not (isinstance(v, list) and v and all(callable(f) for f in v))}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved (the optimizer is restored on its own)."""
        self.__dict__.update(state_dict)


class _LambdaScheduler(LRScheduler):
    """What LambdaLR and MultiplicativeLR share: one function of the epoch per param group.
    (Two public classes, not one a subclass of the other, as in PyTorch.)"""

    def __init__(self, optimizer: Optimizer,
                 lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
                 last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        self.lr_lambdas = _lambdas(optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)


class LambdaLR(_LambdaScheduler):
    """lr_t = base_lr · lr_lambda(t)   (one function, or one per group; not chainable, as PyTorch)."""

    def get_lr(self) -> list[float]:
        return [base * float(f(self.last_epoch)) for base, f in zip(self.base_lrs, self.lr_lambdas)]


class MultiplicativeLR(_LambdaScheduler):
    """lr_t = lr_{t−1} · lr_lambda(t) for t ≥ 1   (lr_0 = the lr as found; one function, or one per group)."""

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._current()
        return [lr * float(f(self.last_epoch)) for lr, f in zip(self._current(), self.lr_lambdas)]


# Each schedule below repeats one shape on purpose (check the arguments, keep them, then a
# recursive get_lr and a closed form): its own formula, as PyTorch's classes are, read on one screen.
class StepLR(LRScheduler):
    """lr_t = base_lr · γ^⌊t / step_size⌋   (divide by 1/γ every ``step_size`` epochs)."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        _check_int("step_size", step_size, 1)
        _check_factor("gamma", gamma, 0.0, math.inf)
        self.step_size, self.gamma = step_size, float(gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current()
        return [lr * self.gamma for lr in self._current()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """lr_t = base_lr · γ^(number of milestones ≤ t).

    Milestones [2, 5, 9], base 0.05, γ = 0.1 give 0.05, 0.05, 0.005, 0.005, 0.005, 0.0005, ...
    A milestone listed twice counts twice (as in PyTorch).
    """

    def __init__(self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        milestones = list(milestones)
        for m in milestones:
            _check_int("each milestone", m, 0)
        _check_factor("gamma", gamma, 0.0, math.inf)
        self.milestones, self.gamma = sorted(milestones), float(gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        times = Counter(self.milestones)[self.last_epoch]
        if times == 0:
            return self._current()
        return [lr * self.gamma**times for lr in self._current()]

    def _get_closed_form_lr(self) -> list[float]:
        passed = bisect_right(self.milestones, self.last_epoch)
        return [base * self.gamma**passed for base in self.base_lrs]


class ConstantLR(LRScheduler):
    """lr_t = base_lr · factor for t < total_iters, then base_lr.

    PyTorch's example: factor 0.5, total_iters 4, base 0.05 give 0.025 for epochs 0-3 and
    0.05 from epoch 4 on. PyTorch accepts factor 0 (and then divides by it at total_iters)
    and total_iters 0 (and then stays at base_lr · factor, against its own closed form);
    minidl asks for factor > 0 and total_iters ≥ 1.
    """

    def __init__(self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5,
                 last_epoch: int = -1) -> None:
        _check_factor("factor", factor, 0.0, 1.0, low_open=True)
        _check_int("total_iters", total_iters, 1)
        self.factor, self.total_iters = float(factor), total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return [lr * self.factor for lr in self._current()]
        if self.last_epoch != self.total_iters:
            return self._current()
        return [lr * (1.0 / self.factor) for lr in self._current()]

    def _get_closed_form_lr(self) -> list[float]:
        factor = self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor)
        return [base * factor for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """lr_t = base_lr · γᵗ."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        _check_factor("gamma", gamma, 0.0, math.inf)
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._current()
        return [lr * self.gamma for lr in self._current()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma**self.last_epoch for base in self.base_lrs]


class PolynomialLR(LRScheduler):
    """lr_t = base_lr · (1 − min(t, T) / T)^power   (total_iters T): down to 0 at epoch T.

    T = 4, power 1, base 1 give 1, 0.75, 0.5, 0.25, 0, 0, ...; power 2 gives 1, 0.5625, 0.25,
    0.0625, 0, ...
    """

    def __init__(self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0,
                 last_epoch: int = -1) -> None:
        _check_int("total_iters", total_iters, 1)
        _check_factor("power", power, 0.0, math.inf)
        self.total_iters, self.power = total_iters, float(power)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        t, T = self.last_epoch, self.total_iters
        if self._is_initial or t > T:
            return self._current()
        factor = ((1.0 - t / T) / (1.0 - (t - 1) / T)) ** self.power
        return [lr * factor for lr in self._current()]

    def _get_closed_form_lr(self) -> list[float]:
        factor = (1.0 - min(self.total_iters, self.last_epoch) / self.total_iters) ** self.power
        return [base * factor for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """lr_t = η_min + ½ (base_lr − η_min) (1 + cos(π t / T_max))   (Loshchilov & Hutter's SGDR
    without restarts): from base_lr at t = 0 down to η_min at t = T_max, slowly at both ends.

    Past T_max the formula is kept, as PyTorch does: the cosine goes on, so the lr climbs
    back to base_lr at t = 2·T_max (a period of 2·T_max). That is a choice: set T_max to the
    number of epochs you train for, use :class:`SequentialLR` to hold a small lr after
    the annealing, or :class:`CosineAnnealingWarmRestarts` to restart at the top.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        _check_int("T_max", T_max, 1)
        _check_factor("eta_min", eta_min, 0.0, math.inf)
        self.T_max, self.eta_min = T_max, float(eta_min)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        t, T, low = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current()
        if (t - 1 - T) % (2 * T) == 0:  # leaving the bottom: the ratio below would divide by zero
            return [lr + (base - low) * (1 - math.cos(math.pi / T)) / 2
                    for base, lr in zip(self.base_lrs, self._current())]
        ratio = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
        return [ratio * (lr - low) + low for lr in self._current()]

    def _get_closed_form_lr(self) -> list[float]:
        cosine = 1 + math.cos(math.pi * self.last_epoch / self.T_max)
        return [self.eta_min + (base - self.eta_min) * cosine / 2 for base in self.base_lrs]


class LinearLR(LRScheduler):
    """lr_t = base_lr · (s + (e − s) · min(t, T) / T)   (start_factor s, end_factor e, total_iters T).

    The usual warm-up: with the defaults the lr climbs from base/3 to base over 5 epochs
    (base/3, 7/15·base, 9/15·base, 11/15·base, 13/15·base, base, base, ...).
    """

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1) -> None:
        _check_factor("start_factor", start_factor, 0.0, 1.0, low_open=True)
        _check_factor("end_factor", end_factor, 0.0, 1.0)
        _check_int("total_iters", total_iters, 1)
        self.start_factor, self.end_factor = float(start_factor), float(end_factor)
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        s, e, T, t = self.start_factor, self.end_factor, self.total_iters, self.last_epoch
        if t == 0:
            return [lr * s for lr in self._current()]
        if self._is_initial or t > T:
            return self._current()
        factor = 1.0 + (e - s) / (T * s + (t - 1) * (e - s))
        return [lr * factor for lr in self._current()]

    def _get_closed_form_lr(self) -> list[float]:
        s, e = self.start_factor, self.end_factor
        factor = s + (e - s) * min(self.total_iters, self.last_epoch) / self.total_iters
        return [base * factor for base in self.base_lrs]


class _SchedulerOfSchedulers(LRScheduler):
    """What SequentialLR and ChainedScheduler share: the lr is whatever the inner schedulers
    set, and the state holds each inner scheduler's own state (as PyTorch saves them)."""

    _schedulers: list[LRScheduler]

    def get_lr(self) -> list[float]:
        return self.get_last_lr()

    def state_dict(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        for s, saved in zip(self._schedulers, state.pop("_schedulers")):
            s.load_state_dict(saved)
        self.__dict__.update(state)


class SequentialLR(_SchedulerOfSchedulers):
    """Run ``schedulers`` one after another, switching at each of ``milestones`` (epochs).

    ``SequentialLR(opt, [LinearLR(opt, 0.1, total_iters=5), CosineAnnealingLR(opt, 45)],
    milestones=[5])`` warms up for 5 epochs, then anneals; each scheduler starts its own
    schedule at its epoch 0 when its turn comes (PyTorch's behaviour).
    """

    def __init__(self, optimizer: Optimizer, schedulers: Sequence[LRScheduler], milestones: Sequence[int],
                 last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        schedulers, milestones = list(schedulers), list(milestones)
        if not schedulers:
            raise ValueError("SequentialLR needs at least one scheduler")
        for i, s in enumerate(schedulers):
            if isinstance(s, ReduceLROnPlateau):
                raise ValueError(f"SequentialLR cannot run ReduceLROnPlateau (schedulers[{i}]): "
                                 "its step() needs the validation loss")
            if getattr(s, "optimizer", None) is not optimizer:
                raise ValueError(f"schedulers[{i}] ({type(s).__name__}) belongs to another optimizer")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR needs one milestone fewer than schedulers (got "
                             f"{len(schedulers)} schedulers and {len(milestones)} milestones)")
        for m in milestones:
            _check_int("each milestone", m, 1)
        if milestones != sorted(milestones):
            raise ValueError(f"milestones must be increasing (got {milestones})")
        self.optimizer = optimizer
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        for s in schedulers:  # undo the first step each made when it was built
            _undo_initial_step(s)
        for group in optimizer.param_groups:  # the schedulers made before this one moved the lr
            group["lr"] = group["initial_lr"]
        first = self._schedulers[bisect_right(self._milestones, self.last_epoch)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def step(self) -> None:
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)  # restart at its epoch 0: the closed form
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin 2017; fastai's two phases, as PyTorch). Step it
    after every *batch*, ``total_steps`` times in all::

        phase 1 (first pct_start of the steps): lr  max_lr/div_factor → max_lr
        phase 2 (the rest):                     lr  max_lr → max_lr/(div_factor·final_div_factor)

    each as a cosine (``anneal_strategy="cos"``) or straight line (``"linear"``) between
    the ends. With ``cycle_momentum`` the momentum (SGD) or β₁ (Adam) moves the other way,
    max_momentum → base_momentum → max_momentum. ``three_phase=True`` is the paper's
    version: up, back down to the start, then the final decay.

    ``fit`` steps schedulers once per epoch; for OneCycleLR call ``scheduler.step()`` from
    ``on_step_end`` instead. Stepping more than ``total_steps`` times is a ValueError.
    """

    def __init__(self, optimizer: Optimizer, max_lr: float | Sequence[float], total_steps: int | None = None,
                 epochs: int | None = None, steps_per_epoch: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True,
                 base_momentum: float | Sequence[float] = 0.85, max_momentum: float | Sequence[float] = 0.95,
                 div_factor: float = 25.0, final_div_factor: float = 1e4, three_phase: bool = False,
                 last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        if total_steps is not None:
            _check_int("total_steps", total_steps, 1)
        elif epochs is not None and steps_per_epoch is not None:
            _check_int("epochs", epochs, 1)
            _check_int("steps_per_epoch", steps_per_epoch, 1)
            total_steps = epochs * steps_per_epoch
        else:
            raise ValueError("OneCycleLR needs total_steps, or both epochs and steps_per_epoch")
        self.total_steps = total_steps
        _check_factor("pct_start", pct_start, 0.0, 1.0)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be 'cos' or 'linear' (got {anneal_strategy!r})")
        self.anneal_strategy = anneal_strategy
        up = float(pct_start * total_steps) - 1
        ends = [up, 2 * up, total_steps - 1] if three_phase else [up, total_steps - 1]
        if not all(start < end for start, end in zip([0.0] + ends[:-1], ends)):
            raise ValueError(f"pct_start={pct_start} with total_steps={total_steps} leaves a phase of the "
                             "cycle without steps (PyTorch divides by zero here): each phase needs "
                             "more than one step")
        if three_phase:
            self._phases = [(up, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                            (2 * up, "max_lr", "initial_lr",
                             "base_momentum", "max_momentum"),
                            (total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum")]
        else:
            self._phases = [(up, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                            (total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum")]
        max_lrs = _per_group(optimizer, "max_lr", max_lr)
        if last_epoch == -1:
            for group, top in zip(optimizer.param_groups, max_lrs):
                group["initial_lr"] = top / div_factor
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = bool(cycle_momentum)
        if self.cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(f"cycle_momentum=True needs an optimizer with momentum or betas "
                                 f"({type(optimizer).__name__} has neither); pass cycle_momentum=False")
            self.use_beta1 = "betas" in optimizer.defaults
            if last_epoch == -1:
                highs = _per_group(optimizer, "max_momentum", max_momentum)
                lows = _per_group(optimizer, "base_momentum", base_momentum)
                for group, high, low in zip(optimizer.param_groups, highs, lows):
                    _set_momentum(group, high, self.use_beta1)
                    group["max_momentum"], group["base_momentum"] = high, low
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        t = self.last_epoch
        if t > self.total_steps:
            raise ValueError(f"OneCycleLR was stepped {t} times; its schedule has total_steps = "
                             f"{self.total_steps}")
        lrs = []
        for group in self.optimizer.param_groups:
            start = 0.0
            for i, (end, lr_from, lr_to, mom_from, mom_to) in enumerate(self._phases):
                if t <= end or i == len(self._phases) - 1:
                    pct = (t - start) / (end - start)
                    lrs.append(self._anneal(group[lr_from], group[lr_to], pct))
                    if self.cycle_momentum:
                        _set_momentum(group, self._anneal(group[mom_from], group[mom_to], pct), self.use_beta1)
                    break
                start = end
        return lrs


class ChainedScheduler(_SchedulerOfSchedulers):
    """Step several chainable schedulers of one optimizer together: their factors multiply.

    ``ChainedScheduler([ConstantLR(opt, factor=0.1, total_iters=2), ExponentialLR(opt, 0.9)])``
    from lr 1 gives 0.1, 0.09, 0.81, 0.729, ...: each step applies both schedules to the
    lr the other left (PyTorch's ``ChainedScheduler``; ``optimizer`` defaults to the first
    scheduler's). The same as calling each scheduler's ``step()`` in turn.
    """

    def __init__(self, schedulers: Sequence[LRScheduler], optimizer: Optimizer | None = None) -> None:
        schedulers = list(schedulers)
        if not schedulers:
            raise ValueError("ChainedScheduler needs at least one scheduler")
        optimizer = optimizer if optimizer is not None else getattr(schedulers[0], "optimizer", None)
        _check_optimizer(optimizer)
        for i, s in enumerate(schedulers):
            if not isinstance(s, LRScheduler):
                raise TypeError(f"schedulers[{i}] is not a scheduler (got {type(s).__name__})")
            if isinstance(s, ReduceLROnPlateau):
                raise ValueError(f"ChainedScheduler cannot run ReduceLROnPlateau (schedulers[{i}]): "
                                 "its step() needs the validation loss")
            if s.optimizer is not optimizer:
                raise ValueError(f"schedulers[{i}] ({type(s).__name__}) belongs to another optimizer")
        self.optimizer = optimizer
        self._schedulers = schedulers
        self._last_lr = self._current()

    def step(self) -> None:
        for s in self._schedulers:
            s.step()
        self._last_lr = self._current()


def _undo_initial_step(scheduler: LRScheduler) -> None:
    """Take back the step a scheduler made when it was built (PyTorch's ``recursive_undo``)."""
    for inner in getattr(scheduler, "_schedulers", None) or ():
        _undo_initial_step(inner)
    if not hasattr(scheduler, "_schedulers"):
        scheduler.last_epoch -= 1


class CosineAnnealingWarmRestarts(LRScheduler):
    """SGDR (Loshchilov & Hutter 2017): cosine annealing that restarts at base_lr::

        lr = η_min + ½ (base_lr − η_min) (1 + cos(π T_cur / T_i))

    T_cur counts the epochs since the last restart; the first period is T_i = T_0 and each
    restart multiplies it by T_mult. T_0 = 2, T_mult = 2, base 1, η_min 0 give
    1, 0.5 | 1, 0.854, 0.5, 0.146 | 1, ... ``step(epoch)`` also takes a fractional epoch
    (``scheduler.step(epoch + i / iters)`` after each batch), as in PyTorch. Not chainable.
    """

    def __init__(self, optimizer: Optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0,
                 last_epoch: int = -1) -> None:
        _check_int("T_0", T_0, 1)
        _check_int("T_mult", T_mult, 1)
        _check_factor("eta_min", eta_min, 0.0, math.inf)
        self.T_0, self.T_i, self.T_mult, self.eta_min = T_0, T_0, T_mult, float(eta_min)
        self.T_cur: float = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        cosine = 1 + math.cos(math.pi * self.T_cur / self.T_i)
        return [self.eta_min + (base - self.eta_min) * cosine / 2 for base in self.base_lrs]

    def step(self, epoch: float | None = None) -> None:  # type: ignore[override]
        """The next epoch, or jump to ``epoch`` (may be fractional: a position within an epoch)."""
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        else:
            if isinstance(epoch, bool) or not isinstance(epoch, (int, float)) or not epoch >= 0:
                raise ValueError(f"epoch must be a number >= 0 (got {epoch!r})")
            if epoch >= self.T_0:
                if self.T_mult == 1:
                    self.T_cur = epoch % self.T_0
                else:
                    n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
                    self.T_cur = epoch - self.T_0 * (self.T_mult**n - 1) / (self.T_mult - 1)
                    self.T_i = self.T_0 * self.T_mult**n
            else:
                self.T_i = self.T_0
                self.T_cur = epoch
        self._step_count += 1
        self.last_epoch = math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = self._current()


class CyclicLR(LRScheduler):
    """Cyclical learning rates (Smith 2017): the lr goes base_lr → max_lr → base_lr and again.
    Step it after every *batch*. At step t, with a cycle of up + down steps::

        cycle = ⌊1 + t / (up + down)⌋,   x = 1 + t / (up + down) − cycle     (position in the cycle, 0..1)
        s = x / r  if x ≤ r  else  (x − 1) / (r − 1)                         (r = up / (up + down))
        lr = base_lr + (max_lr − base_lr) · s · scale

    ``mode``: ``"triangular"`` (scale 1), ``"triangular2"`` (scale 1/2^(cycle − 1): each
    cycle half as high), ``"exp_range"`` (scale γᵗ), or your own ``scale_fn`` of the cycle
    (``scale_mode="cycle"``) or of t (``"iterations"``). With ``cycle_momentum`` the momentum
    (SGD) or β₁ (Adam) moves the other way: max_momentum − (max_momentum − base_momentum)·s·scale.
    base_lr 0.1, max_lr 1, up = down = 2 give 0.1, 0.55, 1, 0.55, 0.1, 0.55, ... PyTorch's
    arguments, defaults and values; not chainable (it sets the group's lr to base_lr).
    """

    def __init__(self, optimizer: Optimizer, base_lr: float | Sequence[float], max_lr: float | Sequence[float],
                 step_size_up: int = 2000, step_size_down: int | None = None, mode: str = "triangular",
                 gamma: float = 1.0, scale_fn: Callable[[float], float] | None = None,
                 scale_mode: str = "cycle", cycle_momentum: bool = True,
                 base_momentum: float | Sequence[float] = 0.8, max_momentum: float | Sequence[float] = 0.9,
                 last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        base_lrs = _per_group(optimizer, "base_lr", base_lr)
        self.max_lrs = _per_group(optimizer, "max_lr", max_lr)
        _check_int("step_size_up", step_size_up, 1)
        if step_size_down is not None:
            _check_int("step_size_down", step_size_down, 1)
        if scale_fn is None and mode not in ("triangular", "triangular2", "exp_range"):
            raise ValueError(f"mode must be 'triangular', 'triangular2' or 'exp_range' (got {mode!r}), "
                             "unless you pass scale_fn")
        if scale_fn is not None and not callable(scale_fn):
            raise TypeError(f"scale_fn must be a function (got {type(scale_fn).__name__})")
        if scale_mode not in ("cycle", "iterations"):
            raise ValueError(f"scale_mode must be 'cycle' or 'iterations' (got {scale_mode!r})")
        _check_factor("gamma", gamma, 0.0, math.inf, low_open=True)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups):
                group["lr"] = lr
        up = float(step_size_up)
        down = float(step_size_down) if step_size_down is not None else up
        self.total_size, self.step_ratio = up + down, up / (up + down)
        self.mode, self.gamma = mode, float(gamma)
        self.scale_fn_custom = scale_fn
        # the built-in modes fix what the scale depends on, as PyTorch's
        self.scale_mode = scale_mode if scale_fn is not None else ("iterations" if mode == "exp_range" else "cycle")
        self.cycle_momentum = bool(cycle_momentum)
        if self.cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(f"cycle_momentum=True needs an optimizer with momentum or betas "
                                 f"({type(optimizer).__name__} has neither); pass cycle_momentum=False")
            self.use_beta1 = "betas" in optimizer.defaults
            self.base_momentums = _per_group(optimizer, "base_momentum", base_momentum)
            self.max_momentums = _per_group(optimizer, "max_momentum", max_momentum)
            if last_epoch == -1:
                for high, low, group in zip(self.max_momentums, self.base_momentums, optimizer.param_groups):
                    _set_momentum(group, high, self.use_beta1)
                    group["max_momentum"], group["base_momentum"] = high, low
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def scale_fn(self, x: float) -> float:
        """The height of cycle (or step) ``x`` as a fraction of max_lr − base_lr."""
        if self.scale_fn_custom is not None:
            return float(self.scale_fn_custom(x))
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma**x

    def get_lr(self) -> list[float]:
        t = self.last_epoch
        cycle = math.floor(1 + t / self.total_size)
        x = 1.0 + t / self.total_size - cycle
        s = x / self.step_ratio if x <= self.step_ratio else (x - 1) / (self.step_ratio - 1)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else t)
        lrs = [base + (top - base) * s * scale for base, top in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            for group, low, high in zip(self.optimizer.param_groups, self.base_momentums, self.max_momentums):
                _set_momentum(group, high - (high - low) * s * scale, self.use_beta1)
        return lrs


def _set_momentum(group: dict[str, Any], value: float, use_beta1: bool) -> None:
    if use_beta1:
        group["betas"] = (value, *group["betas"][1:])
    else:
        group["momentum"] = value


class ReduceLROnPlateau(LRScheduler):
    """Multiply the lr by ``factor`` when a metric stops improving (``step(val_loss)``).

    After each epoch, ``step(metric)``: the metric improves when it beats the best so far by
    more than ``threshold`` (relative: best·(1 − threshold) in "min" mode; absolute: best −
    threshold). After more than ``patience`` epochs without improvement, lr ← max(lr·factor,
    min_lr) (changes smaller than ``eps`` are skipped), then ``cooldown`` epochs pass before
    counting again. ``fit`` calls ``step`` with the validation loss (or the training loss
    when there is no validation set). PyTorch's arguments, defaults and rules.
    """

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: float | Sequence[float] = 0.0, eps: float = 1e-8) -> None:
        _check_optimizer(optimizer)
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max' (got {mode!r})")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold_mode must be 'rel' or 'abs' (got {threshold_mode!r})")
        _check_factor("factor", factor, 0.0, 1.0)
        if factor == 1.0:
            raise ValueError("factor must be < 1 (a factor of 1 never reduces the lr)")
        _check_int("patience", patience, 0)
        _check_int("cooldown", cooldown, 0)
        _check_factor("threshold", threshold, 0.0, math.inf)
        self.optimizer = optimizer
        n = len(optimizer.param_groups)
        min_lrs = list(min_lr) if isinstance(min_lr, (list, tuple)) else [min_lr] * n
        if len(min_lrs) != n:
            raise ValueError(f"min_lr has {len(min_lrs)} values for {n} parameter groups")
        self.mode, self.threshold_mode = mode, threshold_mode
        self.factor, self.patience, self.threshold = float(factor), patience, float(threshold)
        self.cooldown, self.eps = cooldown, float(eps)
        self.min_lrs = [float(v) for v in min_lrs]
        self.last_epoch = 0
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    def _is_better(self, value: float) -> bool:
        relative = self.threshold_mode == "rel"
        if self.mode == "min":
            return value < (self.best * (1 - self.threshold) if relative else self.best - self.threshold)
        return value > (self.best * (1 + self.threshold) if relative else self.best + self.threshold)

    def step(self, metrics: Any) -> None:  # type: ignore[override]
        """Record this epoch's metric (e.g. the validation loss) and reduce the lr if it stalls."""
        current = float(metrics)
        self.last_epoch += 1
        if self._is_better(current):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during the cooldown do not count
        if self.num_bad_epochs > self.patience:
            for group, floor in zip(self.optimizer.param_groups, self.min_lrs):
                old = float(group["lr"])
                new = max(old * self.factor, floor)
                if old - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_lr(self) -> list[float]:
        return self.get_last_lr()
