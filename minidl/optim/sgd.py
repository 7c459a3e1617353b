"""Gradient descent (``GD``) and stochastic gradient descent with momentum (``SGD``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from minidl.kernels.optim import sgd_step_
from minidl.optim import rules
from minidl.optim.optimizer import Optimizer, _check_number
from minidl.optim.transforms import GradientTransformation


class SGD(Optimizer):
    """Stochastic gradient descent, exactly as ``torch.optim.SGD``: θ ← θ − lr · d, where ::

        g = ∇θ + λθ                       (weight_decay λ: coupled L2, the gradient of (λ/2)‖θ‖²)
        b = g                    at t = 1  (no dampening on the first step)
        b = μ b + (1 − τ) g      after     (momentum μ, dampening τ)
        d = g + μ b   if nesterov, else d = b      (d = g when μ = 0)

    ``maximize=True`` ascends instead (g = −∇θ). The rule is :func:`minidl.optim.rules.sgd`;
    the step runs the fused kernel :func:`minidl.kernels.optim.sgd_step_`, equal to it bit
    for bit. State per parameter: ``momentum_buffer`` (only when μ ≠ 0, as in PyTorch).
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
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("nesterov momentum needs momentum > 0 and dampening = 0 "
                             f"(got momentum={group['momentum']}, dampening={group['dampening']})")

    def _rule(self, group: dict[str, Any]) -> GradientTransformation:
        return rules.sgd(group["lr"], group["momentum"], group["dampening"], group["weight_decay"],
                         group["nesterov"], group["maximize"])

    def _update(self, param: Any, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        sgd_step_(param, grad, state, lr=float(group["lr"]), momentum=float(group["momentum"]),
                  dampening=float(group["dampening"]), weight_decay=float(group["weight_decay"]),
                  nesterov=bool(group["nesterov"]), maximize=bool(group["maximize"]))

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        return self._step_each(closure)


class GD(Optimizer):
    """Gradient descent, the textbook rule θ ← θ − lr · ∇θ J(θ) (:func:`minidl.optim.rules.gd`).

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

    def _update(self, param: Any, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        sgd_step_(param, grad, state, lr=float(group["lr"]), momentum=0.0, dampening=0.0,
                  weight_decay=0.0, nesterov=False, maximize=False)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        return self._step_each(closure)
