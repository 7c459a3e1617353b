"""The floor for an MLP training step: hand-written NumPy forward, backward and SGD update.

The same GEMMs as any framework, no graph and no Python objects per op: whatever minidl
spends above this is framework overhead.
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def hand_written_step(weights: list[np.ndarray], biases: list[np.ndarray], x: np.ndarray,
                      y: np.ndarray, lr: float) -> Callable[[], float]:
    """One step of ReLU MLP + softmax cross-entropy + SGD, updating the arrays in place."""
    n = len(y)
    rows = np.arange(n)

    def step() -> float:
        activations, pre = [x], []
        h = x
        for i, (w, b) in enumerate(zip(weights, biases)):
            z = h @ w.T
            z += b
            pre.append(z)
            h = np.maximum(z, 0) if i < len(weights) - 1 else z
            activations.append(h)
        e = np.exp(h - h.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        loss = -np.log(p[rows, y]).mean()
        g = p
        g[rows, y] -= 1
        g /= n
        for i in reversed(range(len(weights))):
            dw = g.T @ activations[i]
            db = g.sum(axis=0)
            if i > 0:
                g = g @ weights[i]
                g *= pre[i - 1] > 0
            weights[i] -= lr * dw
            biases[i] -= lr * db
        return float(loss)

    return step
