"""Expected Improvement, and its logarithm computed stably: where a Bayesian optimizer looks next.

Notation: the GP's posterior at a point is f(x) ~ N(μ, σ²); f* is the best (lowest) value
observed; ξ ≥ 0 a margin. φ is the standard normal density and Φ its distribution function:

    φ(z) = exp(−z²/2) / √(2π),        Φ(z) = ∫_{−∞}^{z} φ(t) dt = ½ erfc(−z/√2)

Plain EI underflows to exactly 0 a few standard deviations away from the incumbent, and so
does its gradient: an optimizer started there cannot move. log EI stays finite (it is about
−z²/2 far away) and its gradient keeps pointing uphill — the idea of Ament et al. (2023),
"Unexpected improvements to expected improvement", used by BoTorch and Optuna. The pieces
(``erfcx``, ``log_ndtr``, ``log_h``) are written here from their formulas, without SciPy.
"""

from __future__ import annotations

import math

import numpy as np

_erfc = np.frompyfunc(math.erfc, 1, 1)
_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)
_LOG_SQRT2PI = 0.5 * math.log(2.0 * math.pi)
_SQRT_HALF_PI = math.sqrt(0.5 * math.pi)


def normal_pdf(z: np.ndarray) -> np.ndarray:
    """φ(z) = exp(−z²/2) / √(2π), the standard normal density."""
    z = np.asarray(z, dtype=np.float64)  # host
    return np.exp(-0.5 * z * z) / _SQRT2PI


def normal_cdf(z: np.ndarray) -> np.ndarray:
    """Φ(z) = ½ erfc(−z/√2), the standard normal distribution function (exact in the tails)."""
    z = np.asarray(z, dtype=np.float64)  # host
    return 0.5 * np.asarray(_erfc(-z / _SQRT2), dtype=np.float64)  # host


_ERFCX_SWITCH = 10.0


def erfcx(x: np.ndarray) -> np.ndarray:
    """The scaled complementary error function erfcx(x) = exp(x²) · erfc(x), for x ≥ 0.

    Directly below x = 10 (erfc(10) ≈ 2e−45 is still exact in float64); above, the
    asymptotic series, whose terms shrink fast there (the 10th is below 1e−14):

        erfcx(x) ≈ 1/(x√π) · Σ_{k≥0} (−1)^k (2k−1)!! / (2x²)^k

    erfcx(x) ≈ 1/(x√π) for large x, where exp(x²) and erfc(x) alone over- and underflow.
    """
    x = np.asarray(x, dtype=np.float64)  # host
    if np.any(x < 0):
        raise ValueError("erfcx is implemented for x >= 0 (log EI only needs that half)")
    small = x < _ERFCX_SWITCH
    out = np.empty_like(x)
    xs = x[small]
    out[small] = np.exp(xs * xs) * np.asarray(_erfc(xs), dtype=np.float64)  # host
    xl = x[~small]
    inv = 1.0 / (2.0 * xl * xl)
    term, total = np.ones_like(xl), np.ones_like(xl)
    for k in range(1, 11):
        term = term * (-(2 * k - 1) * inv)
        total = total + term
    out[~small] = total / (xl * math.sqrt(math.pi))
    return out


def log_ndtr(z: np.ndarray) -> np.ndarray:
    """log Φ(z), accurate for every z (SciPy's ``log_ndtr``):

        z ≥ 0:   log Φ(z) = log1p(−½ erfc(z/√2))
        z < 0:   log Φ(z) = −z²/2 + log(½ erfcx(−z/√2))       (no underflow: ≈ −z²/2 − log(−z√(2π)))
    """
    z = np.asarray(z, dtype=np.float64)  # host
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = np.log1p(-0.5 * np.asarray(_erfc(z[pos] / _SQRT2), dtype=np.float64))  # host
    zn = z[~pos]
    out[~pos] = -0.5 * zn * zn + np.log(0.5 * erfcx(-zn / _SQRT2))
    return out


_H_DIRECT = -1.0   # above: h(z) = zΦ(z) + φ(z) has no cancellation (h(−1) ≈ 0.083)
_H_SERIES = -20.0  # below: 1 − |z|·m(z) from its asymptotic series (direct loses eps·z²)


def log_h(z: np.ndarray, *, with_derivative: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """log h(z) for h(z) = z Φ(z) + φ(z) = E[max(Z + z, 0)], Z ~ N(0, 1) — EI in units of σ.

    Three regions, each exact to float64 where it is used:

        z > −1:          log(z Φ(z) + φ(z))
        −20 < z ≤ −1:    log φ(z) + log1p(z · m(z)),    m(z) = Φ(z)/φ(z) = √(π/2) · erfcx(−z/√2)
        z ≤ −20:         log φ(z) + log(1/z² · (1 − 3/z² + 15/z⁴ − 105/z⁶ + …))

    (the last from erfcx's series: 1 + z m(z) = Σ_{k≥1} (−1)^{k+1} (2k−1)!! / z^{2k}). So
    log h(z) ≈ −z²/2 − log(√(2π) z²) far away, finite wherever a float is. With
    ``with_derivative=True`` also returns d log h/dz = Φ(z)/h(z) = m/(1 + z m) (since h' = Φ),
    which tends to |z| for z → −∞: the gradient that plain EI loses to underflow.
    """
    z = np.asarray(z, dtype=np.float64)  # host
    out = np.empty_like(z)
    dout = np.empty_like(z)
    direct = z > _H_DIRECT
    zd = z[direct]
    cdf, pdf = normal_cdf(zd), normal_pdf(zd)
    h = zd * cdf + pdf
    out[direct] = np.log(h)
    dout[direct] = cdf / h
    mid = (z <= _H_DIRECT) & (z > _H_SERIES)
    zm = z[mid]
    m = _SQRT_HALF_PI * erfcx(-zm / _SQRT2)
    one_plus_zm = 1.0 + zm * m
    out[mid] = -0.5 * zm * zm - _LOG_SQRT2PI + np.log1p(zm * m)
    dout[mid] = m / one_plus_zm
    far = z <= _H_SERIES
    zf = z[far]
    inv2 = 1.0 / (zf * zf)
    term, series = np.ones_like(zf), np.ones_like(zf)
    for k in range(2, 10):  # Σ (−1)^{k+1} (2k−1)!!/z^{2k}, divided by its first term 1/z²
        term = term * (-(2 * k - 1) * inv2)
        series = series + term
    one_plus_zm = inv2 * series
    out[far] = -0.5 * zf * zf - _LOG_SQRT2PI + np.log(one_plus_zm)
    dout[far] = (1.0 - one_plus_zm) / (-zf) / one_plus_zm  # m = (1 − (1 + z m)) / (−z)
    return (out, dout) if with_derivative else out


def _check(mean: np.ndarray, std: np.ndarray, xi: float) -> tuple[np.ndarray, np.ndarray]:
    if xi < 0:
        raise ValueError(f"xi must be >= 0 (got {xi!r})")
    mean = np.asarray(mean, dtype=np.float64)  # host
    std = np.asarray(std, dtype=np.float64)  # host
    if np.any(std < 0):
        raise ValueError("std must be >= 0 (it is a standard deviation)")
    return np.broadcast_arrays(mean, std)


def expected_improvement(mean: np.ndarray, std: np.ndarray, best: float, xi: float = 0.0) -> np.ndarray:
    """Expected Improvement over the incumbent f* when *minimizing*, under f(x) ~ N(μ, σ²):

        u  = (f* − μ − ξ) / σ
        EI = (f* − μ − ξ) Φ(u) + σ φ(u)  = σ h(u),      and EI = 0 where σ = 0

    i.e. E[max(f* − ξ − f(x), 0)]. The first term rewards a low mean (exploitation), the
    second a large uncertainty (exploration); ξ ≥ 0 asks for a margin of improvement and
    so leans towards exploration. ξ = 0 by default, as in Optuna and BoTorch (scikit-optimize's
    default is 0.01; ``benchmarks/bench_bo.py`` measures both). To maximize a score, minimize
    its negative. Underflows to 0 where u < −38: use :func:`log_expected_improvement` to
    optimize it.
    """
    mean, std = _check(mean, std, xi)
    improvement = best - mean - xi
    positive = std > 0
    z = np.divide(improvement, std, out=np.zeros_like(mean), where=positive)
    ei = improvement * normal_cdf(z) + std * normal_pdf(z)
    return np.where(positive, np.maximum(ei, 0.0), 0.0)


def log_expected_improvement(mean: np.ndarray, std: np.ndarray, best: float, xi: float = 0.0, *,
                             with_gradient: bool = False) -> np.ndarray | tuple[np.ndarray, ...]:
    """log EI, finite wherever σ > 0 (−∞ where σ = 0, as log 0):

        log EI = log σ + log h(u),      u = (f* − μ − ξ)/σ       (h and log h: :func:`log_h`)

    ``with_gradient=True`` also returns the derivatives in μ and σ, with r = d log h/dZ = Φ(u)/h(u):

        ∂ log EI/∂μ = −r/σ,      ∂ log EI/∂σ = (1 − u r)/σ  (= φ(u)/(σ h(u)) > 0)

    The optimizer combines them with ∂μ/∂x and ∂σ/∂x of the GP
    (:meth:`GaussianProcess.predict_with_gradient`).
    """
    mean, std = _check(mean, std, xi)
    positive = std > 0
    safe = np.where(positive, std, 1.0)
    z = (best - mean - xi) / safe
    lh, r = log_h(z, with_derivative=True)
    value = np.where(positive, np.log(safe) + lh, -np.inf)
    if not with_gradient:
        return value
    d_mean = np.where(positive, -r / safe, 0.0)
    d_std = np.where(positive, (1.0 - z * r) / safe, 0.0)
    return value, d_mean, d_std
