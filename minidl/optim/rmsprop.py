"""RMSprop (Hinton, lecture 6e of "Neural Networks for Machine Learning"), as ``torch.optim.RMSprop``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from minidl.optim import rules
from minidl.optim.optimizer import Optimizer, _check_bool, _check_number
from minidl.optim.transforms import GradientTransformation


class RMSprop(Optimizer):
    """RMSprop, as ``torch.optim.RMSprop``: the formula is :func:`minidl.optim.rules.rmsprop`.

    Each step runs the rule as written (no fused kernel). State: ``step``, ``square_avg``,
    ``grad_avg`` (centered), ``momentum_buffer`` (momentum > 0). minidl checks 0 ≤ α ≤ 1
    (PyTorch only α ≥ 0) and clamps a centered ṽ at 0 (see
    :func:`minidl.optim.transforms.scale_by_rms`).
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        _check_number("alpha", group["alpha"], low=0.0, high=1.0)
        _check_number("eps", group["eps"], low=0.0)
        _check_number("weight_decay", group["weight_decay"], low=0.0)
        _check_number("momentum", group["momentum"], low=0.0)
        _check_bool("centered", group["centered"])

    def _rule(self, group: dict[str, Any]) -> GradientTransformation:
        return rules.rmsprop(group["lr"], group["alpha"], group["eps"], group["weight_decay"],
                             group["momentum"], group["centered"], group["maximize"])

