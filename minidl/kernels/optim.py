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

The loops are compiled with ``error_model="numpy"``: a division by zero gives inf or NaN,
as NumPy's does. Numba's default ("python") raises instead, which puts a branch in front of
every division and stops LLVM from vectorizing the loop (2× slower here).

The scalars (β₁, 1 − β₁, −lr, ...) are computed in double precision, as Python computes
them, and rounded once to the parameter's dtype before the loop, exactly as NumPy rounds a
Python float that meets a float32 array. A float64 scalar inside the loop would silently
turn every operation into float64.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from minidl.kernels import dispatch, jit

_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _fusable(param: Any, *others: Any) -> bool:
    """True when a kernel can take the arrays: float32/float64, one dtype, C-contiguous."""
    dtype = param.dtype
    if dtype not in _KERNEL_DTYPES or not param.flags.c_contiguous:
        return False
    for a in others:
        if a.dtype != dtype or not a.flags.c_contiguous:
            return False
    return True


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


@jit(error_model="numpy")
def _adam_loop(param: Any, grad: Any, exp_avg: Any, exp_avg_sq: Any, max_exp_avg_sq: Any, lr: float,
               beta1: float, beta2: float, bc1: float, bc2: float, eps: float, weight_decay: float,
               maximize: bool, coupled: bool, decoupled: bool, amsgrad: bool) -> None:
    h = np.empty(9, param.dtype)  # each scalar rounded once to the array's dtype, as NumPy does
    h[0], h[1], h[2], h[3] = beta1, 1 - beta1, beta2, 1 - beta2
    h[4], h[5], h[6], h[7], h[8] = bc1, bc2, eps, weight_decay, -lr
    b1, one_minus_b1, b2, one_minus_b2 = h[0], h[1], h[2], h[3]
    bc1_, bc2_, eps_, wd, neg_lr = h[4], h[5], h[6], h[7], h[8]
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
        u = (m / bc1_) / (math.sqrt(v / bc2_) + eps_)
        if decoupled:
            u = u + wd * param[i]
        param[i] = param[i] + neg_lr * u


@dispatch(adam_reference)
def adam_step_(param: Any, grad: Any, state: dict[str, Any], *, lr: float, beta1: float,
               beta2: float, eps: float, weight_decay: float, amsgrad: bool, maximize: bool,
               bias_correction: bool, decoupled_weight_decay: bool) -> None:
    """Adam's step on ``param`` and its ``state`` (``step``, ``exp_avg``, ``exp_avg_sq``,
    ``max_exp_avg_sq`` with amsgrad), in place."""
    m, v = state["exp_avg"], state["exp_avg_sq"]
    v_max = state["max_exp_avg_sq"] if amsgrad else v  # without amsgrad the loop never reads it
    if not grad.flags.c_contiguous:  # the gradient is only read: a contiguous copy will do
        grad = np.ascontiguousarray(grad)
    if not _fusable(param, grad, m, v, v_max):
        return adam_reference(param, grad, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps,
                              weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                              bias_correction=bias_correction,
                              decoupled_weight_decay=decoupled_weight_decay)
    t = state["step"] + 1
    bc1, bc2 = (1 - beta1**t, 1 - beta2**t) if bias_correction else (1.0, 1.0)
    has_decay = weight_decay != 0
    _adam_loop(param.reshape(-1), grad.reshape(-1), m.reshape(-1), v.reshape(-1), v_max.reshape(-1),
               lr, beta1, beta2, bc1, bc2, eps, weight_decay, bool(maximize),
               has_decay and not decoupled_weight_decay, has_decay and bool(decoupled_weight_decay),
               bool(amsgrad))
    state["step"] = t


# -- SGD with momentum --------------------------------------------------------------------------

def sgd_reference(param: Any, grad: Any, state: dict[str, Any], *, lr: float, momentum: float,
                  dampening: float, weight_decay: float, nesterov: bool, maximize: bool) -> None:
    """One SGD step by the pure rule :func:`minidl.optim.rules.sgd`, written back in place."""
    from minidl.optim import rules
    from minidl.optim.transforms import step_in_place

    step_in_place(rules.sgd(lr, momentum, dampening, weight_decay, nesterov, maximize), param, grad, state)


@jit(error_model="numpy")
def _sgd_loop(param: Any, grad: Any, buf: Any, lr: float, momentum: float, dampening: float,
              weight_decay: float, maximize: bool, decay: bool, has_momentum: bool, first: bool,
              nesterov: bool) -> None:
    h = np.empty(4, param.dtype)  # each scalar rounded once to the array's dtype, as NumPy does
    h[0], h[1], h[2], h[3] = momentum, 1 - dampening, weight_decay, -lr
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
    if not grad.flags.c_contiguous:  # the gradient is only read: a contiguous copy will do
        grad = np.ascontiguousarray(grad)
    if buf is None:
        buf = grad  # no buffer without momentum; the loop never touches it
    if not _fusable(param, grad, buf):
        return sgd_reference(param, grad, state, lr=lr, momentum=momentum, dampening=dampening,
                             weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
    _sgd_loop(param.reshape(-1), grad.reshape(-1), buf.reshape(-1), lr, momentum, dampening, weight_decay,
              bool(maximize), weight_decay != 0, has_momentum, first, bool(nesterov))
    if first:
        state["momentum_buffer"] = buf
