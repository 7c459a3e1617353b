"""Fused optimizer steps: Adam and SGD (with momentum) in one pass over memory.

Written as array expressions, an Adam step reads and writes the 10-million-element
parameter, gradient, m and v arrays about fifteen times (one pass per operation, each
with a temporary). The loops below read each element once and write it once, which is
what the memory bandwidth allows.

The specification is the pure rule in :mod:`minidl.optim.rules`; each ``*_reference``
below runs that rule and writes the result back. Each kernel performs the *same float32
operations in the same order* as the rule (every product and sum rounded to the array's
dtype, no fused multiply-add, no reassociation: Numba's defaults without ``fastmath``),
so kernel and reference agree bit for bit; ``tests/test_optim_kernels.py`` checks it.

The scalars (β₁, 1 − β₁, −lr, ...) are computed in Python (double precision) and rounded
once to the parameter's dtype, exactly as NumPy rounds a Python float that meets a float32
array. A float64 scalar inside the loop would silently turn every operation into float64.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from minidl.kernels import dispatch, jit

_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _flat(*arrays: Any) -> list[Any] | None:
    """1-D views of same-dtype C-contiguous arrays, or None when a kernel cannot take them."""
    dtype = arrays[0].dtype
    if dtype not in _KERNEL_DTYPES:
        return None
    for a in arrays:
        if a.dtype != dtype or not a.flags.c_contiguous:
            return None
    return [a.reshape(-1) for a in arrays]


# -- Adam / AdamW ---------------------------------------------------------------------------------

def adam_reference(param: Any, grad: Any, state: dict[str, Any], *, lr: float, beta1: float,
                   beta2: float, eps: float, weight_decay: float, amsgrad: bool, maximize: bool,
                   bias_correction: bool, decoupled_weight_decay: bool) -> None:
    """One Adam step by the pure rule :func:`minidl.optim.rules.adam`, written back in place."""
    from minidl.optim import rules
    from minidl.optim.transforms import step_in_place

    rule = rules.adam(lr, (beta1, beta2), eps, weight_decay, amsgrad, maximize, bias_correction,
                      decoupled_weight_decay)
    step_in_place(rule, param, grad, state)


@jit
def _adam_loop(param: Any, grad: Any, exp_avg: Any, exp_avg_sq: Any, max_exp_avg_sq: Any,
               h: Any, maximize: bool, coupled: bool, decoupled: bool, amsgrad: bool) -> None:
    b1, one_minus_b1, b2, one_minus_b2 = h[0], h[1], h[2], h[3]
    bc1, bc2, eps, wd, neg_lr = h[4], h[5], h[6], h[7], h[8]
    for i in range(param.size):
        g = grad[i]
        if maximize:
            g = -g
        if coupled:
            g = g + wd * param[i]
        m = b1 * exp_avg[i] + one_minus_b1 * g
        v = b2 * exp_avg_sq[i] + one_minus_b2 * (g * g)
        exp_avg[i] = m
        exp_avg_sq[i] = v
        if amsgrad:
            if max_exp_avg_sq[i] > v:
                v = max_exp_avg_sq[i]
            max_exp_avg_sq[i] = v
        u = (m / bc1) / (math.sqrt(v / bc2) + eps)
        if decoupled:
            u = u + wd * param[i]
        param[i] = param[i] + neg_lr * u


@dispatch(adam_reference)
def adam_step_(param: Any, grad: Any, state: dict[str, Any], *, lr: float, beta1: float,
               beta2: float, eps: float, weight_decay: float, amsgrad: bool, maximize: bool,
               bias_correction: bool, decoupled_weight_decay: bool) -> None:
    """Adam's step on ``param`` and its ``state`` (``step``, ``exp_avg``, ``exp_avg_sq``,
    ``max_exp_avg_sq`` with amsgrad), in place."""
    moments = [state["exp_avg"], state["exp_avg_sq"]]
    if amsgrad:
        moments.append(state["max_exp_avg_sq"])
    flat = _flat(param, grad, *moments)
    if flat is None:
        return adam_reference(param, grad, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                              weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                              bias_correction=bias_correction,
                              decoupled_weight_decay=decoupled_weight_decay)
    if not amsgrad:
        flat.append(flat[2])  # unused by the loop; any array of the right type will do
    t = state["step"] + 1
    bc1, bc2 = (1 - beta1**t, 1 - beta2**t) if bias_correction else (1.0, 1.0)
    h = np.array([beta1, 1 - beta1, beta2, 1 - beta2, bc1, bc2, eps, weight_decay, -lr],
                 dtype=param.dtype)
    has_decay = weight_decay != 0
    _adam_loop(*flat, h, bool(maximize), has_decay and not decoupled_weight_decay,
               has_decay and bool(decoupled_weight_decay), bool(amsgrad))
    state["step"] = t


# -- SGD with momentum --------------------------------------------------------------------------

def sgd_reference(param: Any, grad: Any, state: dict[str, Any], *, lr: float, momentum: float,
                  dampening: float, weight_decay: float, nesterov: bool, maximize: bool) -> None:
    """One SGD step by the pure rule :func:`minidl.optim.rules.sgd`, written back in place."""
    from minidl.optim import rules
    from minidl.optim.transforms import step_in_place

    step_in_place(rules.sgd(lr, momentum, dampening, weight_decay, nesterov, maximize), param, grad, state)


@jit
def _sgd_loop(param: Any, grad: Any, buf: Any, h: Any, maximize: bool, decay: bool,
              has_momentum: bool, first: bool, nesterov: bool) -> None:
    mu, one_minus_tau, wd, neg_lr = h[0], h[1], h[2], h[3]
    for i in range(param.size):
        g = grad[i]
        if maximize:
            g = -g
        if decay:
            g = g + wd * param[i]
        if has_momentum:
            if first:
                b = g
            else:
                b = mu * buf[i] + one_minus_tau * g
            buf[i] = b
            if nesterov:
                g = g + mu * b
            else:
                g = b
        param[i] = param[i] + neg_lr * g


@dispatch(sgd_reference)
def sgd_step_(param: Any, grad: Any, state: dict[str, Any], *, lr: float, momentum: float,
              dampening: float, weight_decay: float, nesterov: bool, maximize: bool) -> None:
    """SGD's step on ``param`` and ``state`` (``momentum_buffer`` when momentum ≠ 0), in place."""
    has_momentum = momentum != 0
    buf = state.get("momentum_buffer") if has_momentum else None
    first = has_momentum and buf is None
    if first:
        buf = np.empty_like(param)
    flat = _flat(param, grad) if buf is None else _flat(param, grad, buf)
    if flat is None:
        return sgd_reference(param, grad, state, lr=lr, momentum=momentum, dampening=dampening,
                             weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
    if buf is None:
        flat.append(flat[1])  # no buffer without momentum; the loop never touches it
    h = np.array([momentum, 1 - dampening, weight_decay, -lr], dtype=param.dtype)
    _sgd_loop(*flat, h, bool(maximize), weight_decay != 0, has_momentum, first, bool(nesterov))
    if first:
        state["momentum_buffer"] = buf
