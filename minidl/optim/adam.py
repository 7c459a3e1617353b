"""Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019), as ``torch.optim``.

The formula is :func:`minidl.optim.rules.adam`. ``adam_step_`` runs it on one parameter in
place: the fused loop :func:`minidl.kernels.optim.adam_` on NumPy arrays, the rule itself
(``adam_reference``) anywhere else; the two agree bit for bit (``tests/test_optim_kernels.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from minidl.kernels import dispatch
from minidl.kernels import optim as fused
from minidl.optim import rules
from minidl.optim.optimizer import Optimizer, StepFunction, _check_bool, _check_number, _type_name
from minidl.optim.transforms import GradientTransformation, step_in_place


class Adam(Optimizer):
    """Adam, as ``torch.optim.Adam``: the formula is :func:`minidl.optim.rules.adam`.

    ``amsgrad``, ``maximize`` and ``decoupled_weight_decay`` (which makes it :class:`AdamW`)
    are PyTorch's options. ``bias_correction=False`` is minidl's own switch, for the lesson
    that shows what the correction is for. Each step runs :func:`adam_step_`. minidl computes
    m̂/(√v̂ + ε) as written; PyTorch rearranges it (and uses lerp for m), so the two agree to
    float32 rounding, not bit for bit. State per parameter, PyTorch's names: ``step``,
    ``exp_avg``, ``exp_avg_sq`` and ``max_exp_avg_sq`` (amsgrad).
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, *,
                 maximize: bool = False, decoupled_weight_decay: bool = False,
                 bias_correction: bool = True) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      bias_correction=bias_correction))

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)):
            raise TypeError(f"invalid betas: expected a pair (β₁, β₂) such as (0.9, 0.999) "
                            f"(got {_type_name(betas)} {betas!r})")
        if len(betas) != 2:
            raise ValueError(f"invalid betas: expected a pair (β₁, β₂) such as (0.9, 0.999) (got {betas!r})")
        group["betas"] = tuple(betas)
        for name, b in (("betas[0]", betas[0]), ("betas[1]", betas[1])):
            _check_number(name, b, low=0.0, high=1.0, high_open=True)
        _check_number("eps", group["eps"], low=0.0)
        _check_number("weight_decay", group["weight_decay"], low=0.0)
        for name in ("amsgrad", "decoupled_weight_decay", "bias_correction"):
            _check_bool(name, group[name])

    def _rule(self, group: dict[str, Any]) -> GradientTransformation:
        return rules.adam(group["lr"], group["betas"], group["eps"], group["weight_decay"],
                          group["amsgrad"], group["maximize"], group["bias_correction"],
                          group["decoupled_weight_decay"])

    def _step_function(self, group: dict[str, Any]) -> StepFunction:
        b1, b2 = group["betas"]
        return functools.partial(
            adam_step_, lr=float(group["lr"]), beta1=float(b1), beta2=float(b2), eps=float(group["eps"]),
            weight_decay=float(group["weight_decay"]), amsgrad=bool(group["amsgrad"]),
            maximize=bool(group["maximize"]), bias_correction=bool(group["bias_correction"]),
            decoupled_weight_decay=bool(group["decoupled_weight_decay"]))


class AdamW(Adam):
    """Adam with decoupled weight decay, as ``torch.optim.AdamW`` (default weight_decay 1e-2).

    The formula is :func:`minidl.optim.rules.adamw` (why the decay is decoupled is there too).
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, bias_correction: bool = True) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True, bias_correction=bias_correction)


def adam_reference(param: Any, grad: Any, state: dict[str, Any], *, lr: float, beta1: float,
                   beta2: float, eps: float, weight_decay: float, amsgrad: bool, maximize: bool,
                   bias_correction: bool, decoupled_weight_decay: bool) -> None:
    """One Adam step by the rule :func:`minidl.optim.rules.adam`, written back in place."""
    rule = rules.adam(lr, (beta1, beta2), eps, weight_decay, amsgrad, maximize, bias_correction,
                      decoupled_weight_decay)
    step_in_place(rule, param, grad, state)


@dispatch(adam_reference)
def adam_step_(param: Any, grad: Any, state: dict[str, Any], *, lr: float, beta1: float,
               beta2: float, eps: float, weight_decay: float, amsgrad: bool, maximize: bool,
               bias_correction: bool, decoupled_weight_decay: bool) -> None:
    """Adam's step on ``param`` and its ``state`` (``step``, ``exp_avg``, ``exp_avg_sq``,
    ``max_exp_avg_sq`` with amsgrad), in place: the fused loop, or the reference where the
    loop cannot take the arrays."""
    t = state["step"] + 1
    # positional: this runs for every parameter at every step
    if fused.adam_(param, grad, state["exp_avg"], state["exp_avg_sq"], state.get("max_exp_avg_sq"), t, lr,
                   beta1, beta2, eps, weight_decay, amsgrad, maximize, bias_correction, decoupled_weight_decay):
        state["step"] = t
    else:
        adam_reference(param, grad, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                       amsgrad=amsgrad, maximize=maximize, bias_correction=bias_correction,
                       decoupled_weight_decay=decoupled_weight_decay)
