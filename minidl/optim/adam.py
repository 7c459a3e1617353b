"""Adam (Kingma & Ba 2015) with bias correction, exactly as ``torch.optim.Adam``."""

from __future__ import annotations

import math
from typing import Any, Iterable

from minidl import backend
from minidl.optim.optimizer import Optimizer


class Adam(Optimizer):
    """For each step t = 1, 2, …:

        g = ∇θ + λθ                       (weight_decay λ: L2 added to the gradient)
        m = β₁ m + (1 − β₁) g             (first moment: a running mean of g)
        v = β₂ v + (1 − β₂) g²            (second moment: a running mean of g²)
        m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)     (bias correction: m, v start at 0)
        θ ← θ − lr · m̂ / (√v̂ + ε)

    ε only keeps the division finite; it is not a regularizer.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        b1, b2 = group["betas"]
        for name, b in (("betas[0]", b1), ("betas[1]", b2)):
            if not 0.0 <= b < 1.0:
                raise ValueError(f"invalid {name}: must be in [0, 1) (got {b})")
        if not group["eps"] >= 0.0:
            raise ValueError(f"invalid eps: must be >= 0 (got {group['eps']})")
        if group["weight_decay"] < 0.0:
            raise ValueError(f"invalid weight_decay: must be >= 0 (got {group['weight_decay']})")

    def step(self) -> None:
        for group in self.param_groups:
            lr, (b1, b2), eps = group["lr"], group["betas"], group["eps"]
            wd, maximize = group["weight_decay"], group["maximize"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad.data
                if maximize:
                    g = -g
                if wd != 0:
                    g = g + wd * p.data
                state = self.state.get(p)
                if state is None:
                    xp = backend.get_array_module(p.data)
                    state = self.state[p] = {"step": 0, "exp_avg": xp.zeros_like(p.data),
                                             "exp_avg_sq": xp.zeros_like(p.data)}
                state["step"] += 1
                t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
                m *= b1
                m += (1 - b1) * g
                v *= b2
                v += (1 - b2) * (g * g)
                # θ -= lr·m̂/(√v̂ + ε), arranged as PyTorch does: (lr/(1−β₁ᵗ))·m / (√v/√(1−β₂ᵗ) + ε)
                denom = backend.get_array_module(v).sqrt(v) / math.sqrt(1 - b2 ** t) + eps
                p.data -= (lr / (1 - b1 ** t)) * (m / denom)
