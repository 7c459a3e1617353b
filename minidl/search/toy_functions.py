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
