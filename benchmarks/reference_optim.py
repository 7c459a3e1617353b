"""Hand-written optimizer steps to measure minidl's against: in-place NumPy and a fused loop.

Plain Adam and SGD with momentum, no options, updating the arrays in place. The fused
Numba loop is the floor: one read and one write of each array per step, which is all the
memory bandwidth allows. The in-place NumPy version shows what ``out=`` buys over plain
expressions, and what a float64 scalar costs it (NumPy 2 promotes the temporaries).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np


def adam_in_place(p: np.ndarray, g: np.ndarray, lr: float, b1: float, b2: float, eps: float,
                  scalar: Callable[[float], Any] = float) -> Callable[[], None]:
    """Adam with ``out=`` everywhere and two scratch arrays (``scalar=np.float64`` to see promotion)."""
    m, v = np.zeros_like(p), np.zeros_like(p)
    tmp, den = np.empty_like(p), np.empty_like(p)
    t = [0]

    def step() -> None:
        t[0] += 1
        bc1, bc2 = 1 - b1 ** t[0], 1 - b2 ** t[0]
        np.multiply(m, scalar(b1), out=m)
        np.multiply(g, scalar(1 - b1), out=tmp)
        np.add(m, tmp, out=m)
        np.multiply(v, scalar(b2), out=v)
        np.multiply(g, g, out=tmp)
        np.multiply(tmp, scalar(1 - b2), out=tmp)
        np.add(v, tmp, out=v)
        np.divide(v, scalar(bc2), out=den)
        np.sqrt(den, out=den)
        np.add(den, scalar(eps), out=den)
        np.divide(m, den, out=tmp)
        np.multiply(tmp, scalar(-lr / bc1), out=tmp)
        np.add(p, tmp, out=p, casting="same_kind")

    return step


def fused_adam(p: np.ndarray, g: np.ndarray, lr: float, b1: float, b2: float,
               eps: float) -> Callable[[], None]:
    """Adam as one Numba loop over the elements (single thread)."""
    import numba

    @numba.njit(cache=True, error_model="numpy")  # as minidl's kernels: lets LLVM vectorize
    def loop(p, g, m, v, b1, c1, b2, c2, inv_bc1, inv_bc2, eps, neg_lr):  # noqa: ANN001, ANN202
        for i in range(p.size):
            gi = g[i]
            mi = b1 * m[i] + c1 * gi
            vi = b2 * v[i] + c2 * (gi * gi)
            m[i] = mi
            v[i] = vi
            p[i] = p[i] + neg_lr * (mi * inv_bc1) / (math.sqrt(vi * inv_bc2) + eps)

    m, v = np.zeros_like(p), np.zeros_like(p)
    f32 = np.float32
    t = [0]

    def step() -> None:
        t[0] += 1
        bc1, bc2 = 1 - b1 ** t[0], 1 - b2 ** t[0]
        loop(p, g, m, v, f32(b1), f32(1 - b1), f32(b2), f32(1 - b2), f32(1 / bc1), f32(1 / bc2), f32(eps),
             f32(-lr))

    return step


def sgd_momentum_in_place(p: np.ndarray, g: np.ndarray, lr: float, mu: float,
                          scalar: Callable[[float], Any] = float) -> Callable[[], None]:
    """b = μb + g; θ −= lr·b with ``out=`` (the first step's b = g is skipped: it is timed warm)."""
    b, tmp = np.zeros_like(p), np.empty_like(p)

    def step() -> None:
        np.multiply(b, scalar(mu), out=b)
        np.add(b, g, out=b)
        np.multiply(b, scalar(-lr), out=tmp)
        np.add(p, tmp, out=p, casting="same_kind")

    return step


def fused_sgd_momentum(p: np.ndarray, g: np.ndarray, lr: float, mu: float) -> Callable[[], None]:
    """SGD with momentum as one Numba loop (single thread)."""
    import numba

    @numba.njit(cache=True, error_model="numpy")  # as minidl's kernels: lets LLVM vectorize
    def loop(p, g, b, mu, neg_lr):  # noqa: ANN001, ANN202
        for i in range(p.size):
            bi = mu * b[i] + g[i]
            b[i] = bi
            p[i] = p[i] + neg_lr * bi

    b = np.zeros_like(p)

    def step() -> None:
        loop(p, g, b, np.float32(mu), np.float32(-lr))

    return step
