"""Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019), as ``torch.optim``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from minidl.kernels.optim import adam_step_
from minidl.optim import rules
from minidl.optim.optimizer import Optimizer, _check_number
from minidl.optim.transforms import GradientTransformation


class Adam(Optimizer):
    """For each step t = 1, 2, …::

        g = ∇θ + λθ                       (weight_decay λ: L2 added to the gradient)
        m = β₁ m + (1 − β₁) g             (first moment: a running mean of g)
        v = β₂ v + (1 − β₂) g²            (second moment: a running mean of g²)
        m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)     (bias correction: m, v start at 0)
        θ ← θ − lr · m̂ / (√v̂ + ε)

    ε only keeps the division finite; it is not a regularizer. ``amsgrad``, ``maximize`` and
    ``decoupled_weight_decay`` (then λ skips m and v: θ ← θ − lr·(m̂/(√v̂ + ε) + λθ), which is
    :class:`AdamW`) are PyTorch's options. ``bias_correction=False`` is minidl's own switch,
    for the lesson that shows what the correction is for.

    The rule is :func:`minidl.optim.rules.adam`; the step runs the fused kernel
    :func:`minidl.kernels.optim.adam_step_`, equal to it bit for bit. minidl computes
    m̂/(√v̂ + ε) as written; PyTorch rearranges it (and uses lerp for m), so the two agree
    to float32 rounding, not bit for bit. State per parameter, PyTorch's names: ``step``,
    ``exp_avg``, ``exp_avg_sq`` and ``max_exp_avg_sq`` (amsgrad).
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, *,
                 maximize: bool = False, decoupled_weight_decay: bool = False,
                 bias_correction: bool = True) -> None:
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      bias_correction=bias_correction))

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"invalid betas: expected a pair (β₁, β₂) (got {betas!r})")
        group["betas"] = tuple(betas)
        for name, b in (("betas[0]", betas[0]), ("betas[1]", betas[1])):
            _check_number(name, b, low=0.0, high=1.0, high_open=True)
        _check_number("eps", group["eps"], low=0.0)
        _check_number("weight_decay", group["weight_decay"], low=0.0)

    def _rule(self, group: dict[str, Any]) -> GradientTransformation:
        return rules.adam(group["lr"], group["betas"], group["eps"], group["weight_decay"],
                          group["amsgrad"], group["maximize"], group["bias_correction"],
                          group["decoupled_weight_decay"])

    def _update(self, param: Any, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        b1, b2 = group["betas"]
        adam_step_(param, grad, state, lr=float(group["lr"]), beta1=float(b1), beta2=float(b2),
                   eps=float(group["eps"]), weight_decay=float(group["weight_decay"]),
                   amsgrad=bool(group["amsgrad"]), maximize=bool(group["maximize"]),
                   bias_correction=bool(group["bias_correction"]),
                   decoupled_weight_decay=bool(group["decoupled_weight_decay"]))

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        return self._step_each(closure)


class AdamW(Adam):
    """Adam with decoupled weight decay, as ``torch.optim.AdamW`` (default weight_decay 1e-2)::

        θ ← θ − lr · (m̂ / (√v̂ + ε) + λθ)

    The decay never enters m and v, so every weight shrinks by the same fraction lr·λ per
    step. With Adam's ``weight_decay`` (L2) the decay term is divided by √v̂ like the
    gradient, and weights with large gradients are hardly decayed at all.
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, bias_correction: bool = True) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True, bias_correction=bias_correction)
