"""Fused optimizer loops: Adam and SGD (with momentum) in one pass over memory.

Written as array expressions, an Adam step reads and writes the 10-million-element
parameter, gradient, m and v arrays about fifteen times (one pass per operation, each
with a temporary). The loops below read each element once and write it once, which is
what the memory bandwidth allows.

This module holds only the loops. The formulas they implement, and the plain NumPy
references they must equal, live one layer up in :mod:`minidl.optim` (``adam.py`` and
``sgd.py`` pair each loop with its reference through :func:`minidl.kernels.dispatch`):
kernels never import the optimizers. Each loop performs the *same float32 operations in
the same order* as the rule (every product and sum rounded to the array's dtype, no fused
multiply-add, no reassociation: Numba's defaults without ``fastmath``), so loop and
reference agree bit for bit; ``tests/test_optim_kernels.py`` checks it.

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

from minidl.kernels import jit

_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def fusable(param: Any, *others: Any) -> bool:
    """True when a loop can take the arrays: float32/float64, one dtype, C-contiguous."""
    dtype = param.dtype
    if dtype not in _KERNEL_DTYPES or not param.flags.c_contiguous:
        return False
    for a in others:
        if a.dtype != dtype or not a.flags.c_contiguous:
            return False
    return True


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


def adam_(param: Any, grad: Any, exp_avg: Any, exp_avg_sq: Any, max_exp_avg_sq: Any | None, step: int,
          lr: float, beta1: float, beta2: float, eps: float, weight_decay: float, amsgrad: bool,
          maximize: bool, bias_correction: bool, decoupled_weight_decay: bool) -> bool:
    """Adam's step ``step`` (t = 1, 2, ...) on NumPy arrays, in place, in one pass.

    Returns False, touching nothing, when the arrays' layout or dtypes do not suit the loop
    (the caller then runs the reference). ``max_exp_avg_sq`` is read only with ``amsgrad``.
    """
    v_max = max_exp_avg_sq if amsgrad else exp_avg_sq  # without amsgrad the loop never reads it
    if not grad.flags.c_contiguous:  # the gradient is only read: a contiguous copy will do
        grad = np.ascontiguousarray(grad)
    if not fusable(param, grad, exp_avg, exp_avg_sq, v_max):
        return False
    bc1, bc2 = (1 - beta1**step, 1 - beta2**step) if bias_correction else (1.0, 1.0)
    has_decay = weight_decay != 0
    _adam_loop(param.reshape(-1), grad.reshape(-1), exp_avg.reshape(-1), exp_avg_sq.reshape(-1),
               v_max.reshape(-1), lr, beta1, beta2, bc1, bc2, eps, weight_decay, bool(maximize),
               has_decay and not decoupled_weight_decay, has_decay and bool(decoupled_weight_decay),
               bool(amsgrad))
    return True


# _adam_loop and _sgd_loop share a prologue on purpose: each compiled loop is one update rule,
# fused in one pass over memory; a shared helper would be an extra call inside the hot loop.
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


def sgd_(param: Any, grad: Any, momentum_buffer: Any | None, first: bool, lr: float, momentum: float,
         dampening: float, weight_decay: float, nesterov: bool, maximize: bool) -> bool:
    """SGD's step on NumPy arrays, in place, in one pass; ``first`` starts the buffer (b = g).

    ``momentum_buffer`` is written only when momentum ≠ 0 (then it must be an array, its
    contents ignored when ``first``). Returns False, touching nothing, when the layout or
    dtypes do not suit the loop.
    """
    has_momentum = momentum != 0
    if not grad.flags.c_contiguous:  # the gradient is only read: a contiguous copy will do
        grad = np.ascontiguousarray(grad)
    buf = momentum_buffer if has_momentum else grad  # no buffer without momentum; never touched
    if not fusable(param, grad, buf):
        return False
    _sgd_loop(param.reshape(-1), grad.reshape(-1), buf.reshape(-1), lr, momentum, dampening, weight_decay,
              bool(maximize), weight_decay != 0, has_momentum, bool(first), bool(nesterov))
    return True
