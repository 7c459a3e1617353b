"""Expected Improvement: where a Bayesian optimizer looks next."""

from __future__ import annotations

import math

import numpy as np

_erfc = np.frompyfunc(math.erfc, 1, 1)
_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)


def normal_pdf(z: np.ndarray) -> np.ndarray:
    """φ(z) = exp(−z²/2) / √(2π), the standard normal density."""
    z = np.asarray(z, dtype=np.float64)  # host
    return np.exp(-0.5 * z * z) / _SQRT2PI


def normal_cdf(z: np.ndarray) -> np.ndarray:
    """Φ(z) = ½ erfc(−z/√2), the standard normal distribution function (exact in the tails)."""
    z = np.asarray(z, dtype=np.float64)  # host
    return 0.5 * np.asarray(_erfc(-z / _SQRT2), dtype=np.float64)  # host


def expected_improvement(mean: np.ndarray, std: np.ndarray, best: float, xi: float = 0.01) -> np.ndarray:
    """Expected Improvement over the incumbent f* when *minimizing*, under f(x) ~ N(μ, σ²):

        Z  = (f* − μ − ξ) / σ
        EI = (f* − μ − ξ) Φ(Z) + σ φ(Z),      and EI = 0 where σ = 0

    i.e. E[max(f* − ξ − f(x), 0)]. The first term rewards a low mean (exploitation), the
    second a large uncertainty (exploration); ξ ≥ 0 asks for a margin of improvement and
    so leans towards exploration. To maximize a score, minimize its negative.
    """
    if xi < 0:
        raise ValueError(f"xi must be >= 0 (got {xi!r})")
    mean = np.asarray(mean, dtype=np.float64)  # host
    std = np.asarray(std, dtype=np.float64)  # host
    if np.any(std < 0):
        raise ValueError("std must be >= 0 (it is a standard deviation)")
    mean, std = np.broadcast_arrays(mean, std)
    improvement = best - mean - xi
    positive = std > 0
    z = np.divide(improvement, std, out=np.zeros_like(mean), where=positive)
    ei = improvement * normal_cdf(z) + std * normal_pdf(z)
    return np.where(positive, np.maximum(ei, 0.0), 0.0)
