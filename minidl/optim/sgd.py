"""Gradient descent (``GD``) and stochastic gradient descent with momentum (``SGD``).

The formulas are :func:`minidl.optim.rules.sgd` and :func:`minidl.optim.rules.gd`.
``sgd_step_`` runs them on one parameter in place: the fused loop
:func:`minidl.kernels.optim.sgd_` on NumPy arrays, the rule itself (``sgd_reference``)
anywhere else; the two agree bit for bit (``tests/test_optim_kernels.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import numpy as np

from minidl.kernels import dispatch
from minidl.kernels import optim as fused
from minidl.optim import rules
from minidl.optim.optimizer import Optimizer, StepFunction, _check_bool, _check_number
from minidl.optim.transforms import GradientTransformation, step_in_place


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, exactly as ``torch.optim.SGD``: the formula
    is :func:`minidl.optim.rules.sgd`.

    ``maximize=True`` ascends instead. Each step runs :func:`sgd_step_`. State per
    parameter: ``momentum_buffer`` (only when momentum ≠ 0, as in PyTorch).
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False,
                 *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov, maximize=maximize))

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        _check_number("momentum", group["momentum"], low=0.0)
        _check_number("dampening", group["dampening"])
        _check_number("weight_decay", group["weight_decay"], low=0.0)
        _check_bool("nesterov", group["nesterov"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("nesterov momentum needs momentum > 0 and dampening = 0 "
                             f"(got momentum={group['momentum']}, dampening={group['dampening']})")

    def _rule(self, group: dict[str, Any]) -> GradientTransformation:
        return rules.sgd(group["lr"], group["momentum"], group["dampening"], group["weight_decay"],
                         group["nesterov"], group["maximize"])

    def _step_function(self, group: dict[str, Any]) -> StepFunction:
        return functools.partial(
            sgd_step_, lr=float(group["lr"]), momentum=float(group["momentum"]),
            dampening=float(group["dampening"]), weight_decay=float(group["weight_decay"]),
            nesterov=bool(group["nesterov"]), maximize=bool(group["maximize"]))


class GD(Optimizer):
    """Gradient descent, the textbook rule: the formula is :func:`minidl.optim.rules.gd`.

    The rule is SGD's without momentum; what makes it *gradient descent* is the data: feed it
    the gradient of the loss over the whole training set (one batch holding every sample,
    e.g. ``DataLoader(train, batch_size=len(train))``), and each step is exact and
    deterministic. PyTorch has no separate class for it; minidl names it because the
    lessons compare GD, SGD and Adam as the source articles do.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3) -> None:
        super().__init__(params, dict(lr=lr))

    def _rule(self, group: dict[str, Any]) -> GradientTransformation:
        return rules.gd(group["lr"])

    def _step_function(self, group: dict[str, Any]) -> StepFunction:
        return functools.partial(sgd_step_, lr=float(group["lr"]), momentum=0.0, dampening=0.0,
                                 weight_decay=0.0, nesterov=False, maximize=False)


def sgd_reference(param: Any, grad: Any, state: dict[str, Any], *, lr: float, momentum: float,
                  dampening: float, weight_decay: float, nesterov: bool, maximize: bool) -> None:
    """One SGD step by the rule :func:`minidl.optim.rules.sgd`, written back in place."""
    step_in_place(rules.sgd(lr, momentum, dampening, weight_decay, nesterov, maximize), param, grad, state)


@dispatch(sgd_reference)
def sgd_step_(param: Any, grad: Any, state: dict[str, Any], *, lr: float, momentum: float,
              dampening: float, weight_decay: float, nesterov: bool, maximize: bool) -> None:
    """SGD's step on ``param`` and ``state`` (``momentum_buffer`` when momentum ≠ 0), in place:
    the fused loop, or the reference where the loop cannot take the arrays."""
    buf = state.get("momentum_buffer") if momentum != 0 else None
    first = momentum != 0 and buf is None  # None before the first step (or momentum switched on later)
    if first:
        buf = np.empty_like(param)  # host: the fused path runs on NumPy arrays only
    # positional: this runs for every parameter at every step
    if not fused.sgd_(param, grad, buf, first, lr, momentum, dampening, weight_decay, nesterov, maximize):
        sgd_reference(param, grad, state, lr=lr, momentum=momentum, dampening=dampening,
                      weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
    elif first:
        state["momentum_buffer"] = buf
