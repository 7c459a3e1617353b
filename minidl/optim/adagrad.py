"""Adagrad (Duchi, Hazan & Singer 2011), as ``torch.optim.Adagrad``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from minidl.optim import rules
from minidl.optim.optimizer import Optimizer, _check_number
from minidl.optim.transforms import GradientTransformation


class Adagrad(Optimizer):
    """Adagrad, as ``torch.optim.Adagrad``: the formula is :func:`minidl.optim.rules.adagrad`.

    Each step runs the rule as written (no fused kernel). State: ``step`` and ``sum`` (made
    at the first step, where PyTorch makes it in the constructor; the values are the same).
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

