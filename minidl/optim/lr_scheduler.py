"""Learning-rate schedules, as ``torch.optim.lr_scheduler``.

Usage is PyTorch's: make the scheduler after the optimizer, call ``optimizer.step()`` for
every batch and ``scheduler.step()`` once per epoch (``fit`` does it), or once per batch
for :class:`OneCycleLR`. Making a scheduler sets the learning rate for epoch 0;
``get_last_lr()`` tells what it set last.

Each scheduler computes the learning rate of epoch t from its closed form (the formula in
its docstring) with base_lr = the group's ``initial_lr`` (its lr when the first scheduler
was made). PyTorch's ``step()`` applies the same formulas as a recursion (lr ← lr·γ, ...),
so the values agree to double-precision rounding. The one consequence: PyTorch lets two
schedulers step the same optimizer and multiplies their effects; here the last one to step
decides. Combine schedules with :class:`SequentialLR` (one after the other) instead.
"""

from __future__ import annotations

import math
from bisect import bisect_right
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


class LRScheduler:
    """Base class: ``step()`` moves to the next epoch and sets each group's lr to ``get_lr()``.

    ``last_epoch`` is the index of the epoch whose lr is set now (0 after construction).
    Passing ``last_epoch=k`` resumes a schedule at epoch k + 1 (the groups must already
    hold ``initial_lr``, as after ``optimizer.load_state_dict``); restoring with
    :meth:`load_state_dict` is the simpler way.
    """

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
        self.step()

    def get_lr(self) -> list[float]:  # pragma: no cover - abstract
        """The learning rate of each group at epoch ``self.last_epoch`` (the closed form)."""
        raise NotImplementedError

    def step(self) -> None:
        """Move to the next epoch and set its learning rates (call after ``optimizer.step()``)."""
        self._set_epoch(self.last_epoch + 1)

    def _set_epoch(self, epoch: int) -> None:
        self.last_epoch = epoch
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The learning rates this scheduler set last, one per parameter group."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """Everything but the optimizer (as PyTorch); save it with ``minidl.save``."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer" and not callable(v)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.__dict__.update(state_dict)


class LambdaLR(LRScheduler):
    """lr_t = base_lr · lr_lambda(t)   (one function, or one per group)."""

    def __init__(self, optimizer: Optimizer,
                 lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
                 last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        n = len(optimizer.param_groups)
        lambdas = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * n
        if len(lambdas) != n or not all(callable(f) for f in lambdas):
            raise ValueError(f"lr_lambda must be a function or a list of {n} functions (one per group)")
        self.lr_lambdas = lambdas
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base * float(f(self.last_epoch)) for base, f in zip(self.base_lrs, self.lr_lambdas)]

    def state_dict(self) -> dict[str, Any]:
        """As the base class, without the functions (they are code, not state: PyTorch skips them too)."""
        return {k: v for k, v in super().state_dict().items() if k != "lr_lambdas"}


class StepLR(LRScheduler):
    """lr_t = base_lr · γ^⌊t / step_size⌋   (divide by 1/γ every ``step_size`` epochs)."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        _check_int("step_size", step_size, 1)
        _check_factor("gamma", gamma, 0.0, math.inf)
        self.step_size, self.gamma = step_size, float(gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
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
        passed = bisect_right(self.milestones, self.last_epoch)
        return [base * self.gamma**passed for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """lr_t = base_lr · γᵗ."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        _check_factor("gamma", gamma, 0.0, math.inf)
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base * self.gamma**self.last_epoch for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """lr_t = η_min + ½ (base_lr − η_min) (1 + cos(π t / T_max))   (Loshchilov & Hutter's SGDR
    without restarts): from base_lr at t = 0 down to η_min at t = T_max, slowly at both ends.

    Past T_max the formula is kept, as PyTorch does: the cosine goes on, so the lr climbs
    back to base_lr at t = 2·T_max (a period of 2·T_max). That is a choice: set T_max to the
    number of epochs you train for, or use :class:`SequentialLR` to hold a small lr after
    the annealing.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:
        _check_int("T_max", T_max, 1)
        _check_factor("eta_min", eta_min, 0.0, math.inf)
        self.T_max, self.eta_min = T_max, float(eta_min)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
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
        s, e = self.start_factor, self.end_factor
        factor = s + (e - s) * min(self.total_iters, self.last_epoch) / self.total_iters
        return [base * factor for base in self.base_lrs]


class SequentialLR(LRScheduler):
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
            s.last_epoch -= 1
        first = self._schedulers[bisect_right(self._milestones, self.last_epoch)]
        first._set_epoch(first.last_epoch + 1)
        self._last_lr = first.get_last_lr()

    def step(self) -> None:
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._set_epoch(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

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
        max_lrs = self._per_group("max_lr", max_lr)
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
                highs = self._per_group("max_momentum", max_momentum)
                lows = self._per_group("base_momentum", base_momentum)
                for group, high, low in zip(optimizer.param_groups, highs, lows):
                    self._set_momentum(group, high)
                    group["max_momentum"], group["base_momentum"] = high, low
        super().__init__(optimizer, last_epoch)

    def _per_group(self, name: str, value: float | Sequence[float]) -> list[float]:
        n = len(self.optimizer.param_groups)
        values = list(value) if isinstance(value, (list, tuple)) else [value] * n
        if len(values) != n:
            raise ValueError(f"{name} has {len(values)} values for {n} parameter groups")
        return [float(v) for v in values]

    def _set_momentum(self, group: dict[str, Any], value: float) -> None:
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

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
                        self._set_momentum(group, self._anneal(group[mom_from], group[mom_to], pct))
                    break
                start = end
        return lrs


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
