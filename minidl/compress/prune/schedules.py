"""When and how much to prune: gradual (Zhu & Gupta), iterative, and the lottery ticket.

One-shot pruning removes everything at once and hopes fine-tuning repairs the damage.
Gradual pruning (Zhu & Gupta 2017) raises the sparsity during training along

    s_t = s_f + (s_i − s_f) · (1 − (t − t₀) / (n Δt))³      for t = t₀, t₀ + Δt, …, t₀ + nΔt

fast at first, while many redundant weights remain, slowly near the end. Iterative
pruning alternates prune → fine-tune. The lottery ticket (Frankle & Carbin 2019)
trains, prunes p% of the survivors, *rewinds* the survivors to their initial values θ₀
(or to early values θ_k), and repeats; the control re-initializes the survivors at
random instead, with the same mask, to show that the initial values matter.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from minidl.compress.prune.masks import MaskHook, current_weight, get_mask, learnable, remove
from minidl.compress.prune.methods import (
    Target,
    _targets,
    global_unstructured,
    l1_unstructured,
    prune_to_sparsity,
    sparsity,
)


def cubic_sparsity(step: int, initial_sparsity: float, final_sparsity: float, begin_step: int,
                   end_step: int, frequency: int = 1) -> float:
    """s_t = s_f + (s_i − s_f) · (1 − (t − t₀)/(nΔt))³   (Zhu & Gupta 2017).

    t₀ = ``begin_step``, nΔt = ``end_step − begin_step``, Δt = ``frequency``. The sparsity
    changes only at t₀ + jΔt and holds in between (t is rounded down to that grid);
    it is s_i before t₀ and s_f from ``end_step`` on.
    """
    if not 0.0 <= initial_sparsity <= 1.0 or not 0.0 <= final_sparsity <= 1.0:
        raise ValueError(f"sparsities must be in [0, 1] (got initial {initial_sparsity}, "
                         f"final {final_sparsity})")
    if not end_step > begin_step:
        raise ValueError(f"end_step must be after begin_step (got {begin_step} → {end_step})")
    if not isinstance(frequency, int) or frequency < 1:
        raise ValueError(f"frequency must be a positive int (got {frequency!r})")
    if step < begin_step:
        return float(initial_sparsity)
    if step >= end_step:
        return float(final_sparsity)
    t = begin_step + (step - begin_step) // frequency * frequency
    progress = (t - begin_step) / (end_step - begin_step)
    return final_sparsity + (initial_sparsity - final_sparsity) * (1.0 - progress) ** 3


class GradualPruner:
    """Prune ``targets`` globally along :func:`cubic_sparsity` while a model trains.

    Call :meth:`step` after each optimizer step (``fit(..., on_step_end=pruner.step)``);
    every ``frequency`` steps between ``begin_step`` and ``end_step`` it prunes up to
    that step's sparsity with ``pruning_method`` (``importance`` may return a dict of
    importance scores for other criteria). Pair it with
    :func:`~minidl.compress.prune.masks.enforce_masks` so pruned weights stay zero.
    """

    def __init__(self, targets: Iterable[Target], final_sparsity: float, begin_step: int,
                 end_step: int, frequency: int = 1, initial_sparsity: float = 0.0,
                 pruning_method: Callable[..., Any] = l1_unstructured,
                 importance: Callable[[], dict[Target, Any]] | None = None) -> None:
        self.targets = _targets(targets, "GradualPruner")
        cubic_sparsity(begin_step, initial_sparsity, final_sparsity, begin_step, end_step, frequency)
        self.final_sparsity, self.initial_sparsity = final_sparsity, initial_sparsity
        self.begin_step, self.end_step, self.frequency = begin_step, end_step, frequency
        self.pruning_method, self.importance = pruning_method, importance
        self.history: list[tuple[int, float]] = []  # (step, sparsity reached)

    def target(self, step: int) -> float:
        return cubic_sparsity(step, self.initial_sparsity, self.final_sparsity, self.begin_step,
                              self.end_step, self.frequency)

    def step(self, step: int) -> None:
        """Prune if ``step`` is on the schedule's grid (t₀ + jΔt ≤ end_step)."""
        if step < self.begin_step or step > self.end_step:
            return
        if (step - self.begin_step) % self.frequency and step != self.end_step:
            return
        scores = self.importance() if self.importance is not None else None
        reached = prune_to_sparsity(self.targets, self.target(step), self.pruning_method, scores)
        self.history.append((step, reached))

    @property
    def sparsity(self) -> float:
        return sparsity(self.targets)


def iterative_pruning(targets: Iterable[Target], sparsities: Sequence[float],
                      fine_tune: Callable[[int], Any],
                      pruning_method: Callable[..., Any] = l1_unstructured) -> list[tuple[float, Any]]:
    """Prune → fine-tune, once per entry of ``sparsities`` (e.g. [0.5, 0.75, 0.875, 0.9]).

    ``fine_tune(round)`` trains the model (with the masks enforced) and returns what
    you want recorded (say, the validation accuracy). Returns [(sparsity, result), …].
    """
    targets = _targets(targets, "iterative_pruning")
    results = []
    for r, s in enumerate(sparsities):
        reached = prune_to_sparsity(targets, s, pruning_method)
        results.append((reached, fine_tune(r)))
    return results


# -- the lottery ticket ------------------------------------------------------------------


def snapshot(targets: Iterable[Target]) -> dict[Target, Any]:
    """A copy of the current weights of ``targets`` (θ₀ before training, θ_k for rewinding)."""
    return {t: current_weight(*t).copy() for t in _targets(targets, "snapshot")}


def rewind(saved: dict[Target, Any]) -> None:
    """Reset the surviving weights to their values in ``saved``; pruned ones stay zero.

    Writes into the same Parameters, so optimizers stay valid (their state, such as
    momentum, is not reset: make a new optimizer for a fresh start, as the paper does).
    """
    for (module, name), values in saved.items():
        learnable(module, name).data[...] = values * get_mask(module, name)


def random_reinit(targets: Iterable[Target]) -> None:
    """The lottery ticket's control: survivors re-drawn from the layer's own initialization.

    Each module's ``reset_parameters()`` runs on a copy, so the distribution is the
    layer's own (U(−1/√fan_in, 1/√fan_in) for Linear), drawn from minidl's seeded
    generator; the mask is kept and pruned weights stay zero.
    """
    for module, name in _targets(targets, "random_reinit"):
        if not hasattr(module, "reset_parameters"):
            raise TypeError(f"random_reinit needs {type(module).__name__}.reset_parameters()")
        fresh = copy.deepcopy(module)
        for pruned in [h.name for h in list(fresh._forward_pre_hooks.values()) if isinstance(h, MaskHook)]:
            remove(fresh, pruned)
        fresh.reset_parameters()
        learnable(module, name).data[...] = fresh._parameters[name].data * get_mask(module, name)


def lottery_ticket(targets: Iterable[Target], train: Callable[[int], Any], rounds: int,
                   rate: float = 0.2, rewind_to: dict[Target, Any] | None = None,
                   control: bool = False) -> list[tuple[float, Any]]:
    """Iterative magnitude pruning with rewinding: train, prune ``rate`` of the survivors, rewind.

    ``train(round)`` trains the model from its current weights and returns a result
    (e.g. test accuracy). ``rewind_to`` is a :func:`snapshot` taken at initialization
    (θ₀; the default is the weights at the call) or after a few steps (θ_k, "late
    rewinding"). ``control=True`` re-initializes survivors at random instead of
    rewinding. Returns [(sparsity, result of training at that sparsity), …] for
    ``rounds + 1`` trainings (the first one dense).
    """
    targets = _targets(targets, "lottery_ticket")
    if not 0.0 < rate < 1.0:
        raise ValueError(f"rate must be in (0, 1) (got {rate})")
    theta = rewind_to if rewind_to is not None else snapshot(targets)
    results = [(sparsity(targets), train(0))]
    for r in range(1, rounds + 1):
        alive = sum(int(get_mask(m, n).sum()) for m, n in targets)
        global_unstructured(targets, amount=int(round(rate * alive)))
        if control:
            random_reinit(targets)
        else:
            rewind(theta)
        results.append((sparsity(targets), train(r)))
    return results


