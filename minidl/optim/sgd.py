"""Stochastic gradient descent with momentum and Nesterov, exactly as ``torch.optim.SGD``."""

from __future__ import annotations

from typing import Any, Iterable

from minidl import backend
from minidl.optim.optimizer import Optimizer


class SGD(Optimizer):
    """θ ← θ − lr · d, where for each step t:

        g = ∇θ + λθ                       (weight_decay λ: coupled L2)
        b = g                    at t = 1  (no dampening on the first step)
        b = μ b + (1 − τ) g      after     (momentum μ, dampening τ)
        d = g + μ b   if nesterov, else d = b      (d = g when μ = 0)

    ``maximize=True`` ascends instead (g = −∇θ).
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False,
                 *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov, maximize=maximize))

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        if group["momentum"] < 0.0:
            raise ValueError(f"invalid momentum: must be >= 0 (got {group['momentum']})")
        if group["weight_decay"] < 0.0:
            raise ValueError(f"invalid weight_decay: must be >= 0 (got {group['weight_decay']})")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("nesterov momentum needs momentum > 0 and dampening = 0 "
                             f"(got momentum={group['momentum']}, dampening={group['dampening']})")

    def step(self) -> None:
        for group in self.param_groups:
            lr, mu, tau = group["lr"], group["momentum"], group["dampening"]
            wd, nesterov, maximize = group["weight_decay"], group["nesterov"], group["maximize"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad.data
                if maximize:
                    g = -g
                if wd != 0:
                    g = g + wd * p.data
                if mu != 0:
                    state = self.state.setdefault(p, {})
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = backend.get_array_module(g).array(g, copy=True)
                    else:
                        buf *= mu
                        buf += (1 - tau) * g
                    g = g + mu * buf if nesterov else buf
                p.data -= lr * g
