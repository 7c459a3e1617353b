"""Test functions with known minima, for checking a search method (cheap, deterministic)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from minidl.search.space import Uniform

BRANIN_MINIMUM = 0.397887357729738
"""Branin's global minimum, reached at (−π, 12.275), (π, 2.275) and (9.42478, 2.475)."""

BRANIN_SPACE = {"x1": Uniform(-5.0, 10.0), "x2": Uniform(0.0, 15.0)}

FORRESTER_MINIMUM = -6.020740055767083
"""Forrester's global minimum, at x ≈ 0.757249."""

FORRESTER_SPACE = {"x": Uniform(0.0, 1.0)}


def branin(params: Mapping[str, Any], budget: Any = None) -> float:
    """The Branin–Hoo function on x1 ∈ [−5, 10], x2 ∈ [0, 15] (three global minima, 0.397887):

        f = a (x2 − b x1² + c x1 − r)² + s (1 − t) cos x1 + s
        a = 1, b = 5.1/(4π²), c = 5/π, r = 6, s = 10, t = 1/(8π)
    """
    x1, x2 = float(params["x1"]), float(params["x2"])
    b, c, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1 ** 2 + c * x1 - 6.0) ** 2 + 10.0 * (1 - t) * math.cos(x1) + 10.0


def forrester(params: Mapping[str, Any], budget: Any = None) -> float:
    """The Forrester et al. (2008) 1-D function on [0, 1]: f(x) = (6x − 2)² sin(12x − 4).

    A deep global minimum near x = 0.757, a local one near 0.14, flat on the left.
    """
    x = float(params["x"])
    return (6 * x - 2) ** 2 * math.sin(12 * x - 4)


HARTMANN6_MINIMUM = -3.322368011415515
"""Hartmann-6's global minimum, at x ≈ (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)."""

HARTMANN6_SPACE = {f"x{i}": Uniform(0.0, 1.0) for i in range(1, 7)}

_HARTMANN6_ALPHA = (1.0, 1.2, 3.0, 3.2)
_HARTMANN6_A = ((10, 3, 17, 3.5, 1.7, 8), (0.05, 10, 17, 0.1, 8, 14),
                (3, 3.5, 1.7, 10, 17, 8), (17, 8, 0.05, 10, 0.1, 14))
_HARTMANN6_P = ((1312, 1696, 5569, 124, 8283, 5886), (2329, 4135, 8307, 3736, 1004, 9991),
                (2348, 1451, 3522, 2883, 3047, 6650), (4047, 8828, 8732, 5743, 1091, 381))


def hartmann6(params: Mapping[str, Any], budget: Any = None) -> float:
    """The 6-D Hartmann function on [0, 1]⁶ (six local minima; global −3.32237):

        f(x) = −Σ_{i=1}^{4} α_i exp(−Σ_{j=1}^{6} A_ij (x_j − P_ij)²)

    with α = (1, 1.2, 3, 3.2) and the A, P = 10⁻⁴ · (…) tables of Dixon & Szegő (1978).
    The length scales differ by dimension: a test for one length scale per input (ARD).
    """
    x = [float(params[f"x{j}"]) for j in range(1, 7)]
    total = 0.0
    for alpha, a_row, p_row in zip(_HARTMANN6_ALPHA, _HARTMANN6_A, _HARTMANN6_P):
        total += alpha * math.exp(-sum(a * (xj - p * 1e-4) ** 2 for a, xj, p in zip(a_row, x, p_row)))
    return -total
