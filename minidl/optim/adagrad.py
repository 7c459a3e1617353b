"""Adagrad (Duchi, Hazan & Singer 2011), as ``torch.optim.Adagrad``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from minidl.optim import rules
from minidl.optim.optimizer import Optimizer, _check_number
from minidl.optim.transforms import GradientTransformation


class Adagrad(Optimizer):
    """Divide each coordinate's step by the root of the sum of all its squared gradients::

        g = ∇θ + λθ
        s = s + g²                        (s starts at initial_accumulator_value)
        θ ← θ − lr / (1 + (t − 1)·lr_decay) · g / (√s + ε)

    Rarely-updated coordinates keep large steps, frequent ones get small steps; because s
    only grows, every step shrinks over time. The rule is :func:`minidl.optim.rules.adagrad`,
    run as written. State: ``step`` and ``sum`` (made at the first step, where PyTorch makes
    it in the constructor; the values are the same).
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      maximize=maximize))

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        for name in ("lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            _check_number(name, group[name], low=0.0)

    def _rule(self, group: dict[str, Any]) -> GradientTransformation:
        return rules.adagrad(group["lr"], group["lr_decay"], group["weight_decay"],
                             group["initial_accumulator_value"], group["eps"], group["maximize"])

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        return self._step_each(closure)
