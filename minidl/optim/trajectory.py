"""The points an optimizer visits on a small function: what the lessons' contour plots draw."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

from minidl.engine.creation import tensor
from minidl.engine.tensor import Tensor
from minidl.optim.optimizer import Optimizer


def trajectory(loss: Callable[[Tensor], Tensor], make_optimizer: Callable[[Iterable[Tensor]], Optimizer],
               steps: int, start: Sequence[float]) -> np.ndarray:
    """θ₀ = ``start``, then θₖ₊₁ = one ``opt.step()`` on ``loss(θₖ)``, k = 0 … steps − 1.

    Returns the (steps + 1, len(start)) array of the points visited (float32, as the
    parameters are). ``make_optimizer`` builds the optimizer from the parameter list,
    e.g. ``lambda p: optim.SGD(p, lr=1e-3, momentum=0.9)``; each step is the ordinary loop:
    ``zero_grad()``, ``loss(θ).backward()``, ``step()``.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"trajectory: steps must be an int >= 0 (got {steps!r})")
    theta = tensor(np.array(start, np.float32), requires_grad=True)  # host: a handful of numbers
    opt = make_optimizer([theta])
    path = [theta.numpy().copy()]
    for _ in range(steps):
        opt.zero_grad()
        loss(theta).backward()
        opt.step()
        path.append(theta.numpy().copy())
    return np.array(path)  # host: for plotting
