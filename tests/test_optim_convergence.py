"""The convergence battery (Optax's idea): every optimizer finds the minimum of a quadratic
and of Rosenbrock's valley, with settings a user could have picked.

The gradients are exact (written out below), so these test the update rules, not the
engine. The Rosenbrock runs start at (−1.5, 2), the far side of the curved valley.
"""

from __future__ import annotations

import numpy as np
import pytest

import minidl
from minidl import optim
from minidl.optim import lr_scheduler

A = np.array([[3.0, 0.5], [0.5, 1.0]])
B = np.array([1.0, -2.0])


def quadratic_grad(theta: np.ndarray) -> np.ndarray:
    """∇(½θᵀAθ − bᵀθ) = Aθ − b; minimum at A⁻¹b."""
    return A @ theta - B


def rosenbrock_grad(theta: np.ndarray) -> np.ndarray:
    """∇ of (1 − x)² + 100(y − x²)²; minimum at (1, 1)."""
    x, y = theta
    return np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])


def cosine(steps: int):
    return lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=steps)


# name: (class, quadratic: (settings, steps, schedule), Rosenbrock: (settings, steps, schedule))
BATTERY = {
    "GD": (optim.GD, (dict(lr=0.3), 300, None), (dict(lr=1.5e-3), 20000, None)),
    "SGD momentum": (optim.SGD, (dict(lr=0.1, momentum=0.9), 300, None),
                     (dict(lr=1e-3, momentum=0.9), 5000, None)),
    "SGD nesterov": (optim.SGD, (dict(lr=0.1, momentum=0.9, nesterov=True), 300, None),
                     (dict(lr=1e-3, momentum=0.9, nesterov=True), 5000, None)),
    "Adam": (optim.Adam, (dict(lr=0.05), 1000, None), (dict(lr=0.05), 4000, cosine(4000))),
    "AdamW": (optim.AdamW, (dict(lr=0.05, weight_decay=0.0), 1000, None),
              (dict(lr=0.05, weight_decay=0.0), 4000, cosine(4000))),
    # a constant lr leaves RMSprop circling the minimum at a radius ~ lr: anneal it
    "RMSprop": (optim.RMSprop, (dict(lr=0.01), 1000, cosine(1000)),
                (dict(lr=1e-3, momentum=0.9), 4000, cosine(4000))),
    "Adagrad": (optim.Adagrad, (dict(lr=0.5), 1000, None), (dict(lr=1.0), 10000, None)),
}


def minimize(cls, settings: dict, grad, start, steps: int, schedule=None) -> np.ndarray:
    p = minidl.tensor(np.array(start, np.float32), requires_grad=True)
    opt = cls([p], **settings)
    sched = schedule(opt) if schedule is not None else None
    for _ in range(steps):
        p.grad = minidl.tensor(grad(p.numpy().astype(np.float64)).astype(np.float32))
        opt.step()
        if sched is not None:
            sched.step()
    return p.numpy().astype(np.float64)


@pytest.mark.parametrize("name", sorted(BATTERY))
def test_reaches_the_minimum_of_a_quadratic(name) -> None:
    cls, (settings, steps, schedule), _ = BATTERY[name]
    theta = minimize(cls, settings, quadratic_grad, [0.0, 0.0], steps, schedule)
    np.testing.assert_allclose(theta, np.linalg.solve(A, B), atol=1e-4)


@pytest.mark.parametrize("name", sorted(BATTERY))
def test_reaches_the_minimum_of_rosenbrock(name) -> None:
    cls, _, (settings, steps, schedule) = BATTERY[name]
    theta = minimize(cls, settings, rosenbrock_grad, [-1.5, 2.0], steps, schedule)
    np.testing.assert_allclose(theta, [1.0, 1.0], atol=1e-2)
