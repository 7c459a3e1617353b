"""A Gaussian-process regressor from scratch: kernels, the posterior, the marginal likelihood.

Notation (the lesson's): training inputs X (n × d) with observations y, test inputs X*,
kernel k with length scales ℓ (one per input dimension: "automatic relevance
determination"), signal variance σ_f² and noise variance σ_n². Everything runs on the
host in float64: a search has tens of points, where precision matters and speed does not.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.random import Generator, default_rng

from minidl.search.optimize import minimize_lbfgs

JITTER = 1e-10
"""Added to the diagonal (times σ_f²) so the Cholesky factorization exists even without noise."""


def scaled_sq_dist(A: np.ndarray, B: np.ndarray, length_scale: Any) -> np.ndarray:
    """r² = Σ_d (a_d − b_d)² / ℓ_d² for every pair of rows a of A and b of B."""
    ls = np.asarray(length_scale, dtype=np.float64)  # host
    a, b = A / ls, B / ls
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d2, 0.0)


def rbf_kernel(A: np.ndarray | None, B: np.ndarray | None, length_scale: Any = 1.0,
               signal_variance: float = 1.0, *, r2: np.ndarray | None = None,
               with_derivative: bool = False) -> Any:
    """Squared-exponential (RBF) kernel and its derivative in r²:

        k(x, x') = σ_f² · exp(−r²/2),     r² = Σ_d (x_d − x'_d)² / ℓ_d²
        ∂k/∂r²   = −½ k

    Infinitely smooth functions; correlation falls to e^{-1/2} at one length scale.
    ``r2`` may be given instead of A, B; ``with_derivative=True`` returns (k, ∂k/∂r²).
    """
    if r2 is None:
        r2 = scaled_sq_dist(A, B, length_scale)
    k = signal_variance * np.exp(-0.5 * r2)
    return (k, -0.5 * k) if with_derivative else k


def matern52_kernel(A: np.ndarray | None, B: np.ndarray | None, length_scale: Any = 1.0,
                    signal_variance: float = 1.0, *, r2: np.ndarray | None = None,
                    with_derivative: bool = False) -> Any:
    """Matérn kernel with ν = 5/2 and its derivative in r² (r as in :func:`rbf_kernel`):

        k(x, x') = σ_f² · (1 + √5 r + 5r²/3) · exp(−√5 r)
        ∂k/∂r²   = −(5/6) σ_f² · (1 + √5 r) · exp(−√5 r)

    Twice-differentiable functions: rougher than RBF, closer to what a validation score
    looks like as a hyperparameter changes (the usual default in Bayesian optimization).
    """
    if r2 is None:
        r2 = scaled_sq_dist(A, B, length_scale)
    s5r = np.sqrt(5.0 * r2)
    e = signal_variance * np.exp(-s5r)
    k = (1.0 + s5r + (5.0 / 3.0) * r2) * e
    return (k, (-5.0 / 6.0) * (1.0 + s5r) * e) if with_derivative else k


KERNELS: dict[str, Callable[..., Any]] = {"rbf": rbf_kernel, "matern52": matern52_kernel}


def _cholesky(X: np.ndarray | None, kernel: Callable[..., np.ndarray], length_scale: Any,
              signal_variance: float, noise_variance: float, r2: np.ndarray | None = None) -> np.ndarray:
    K = kernel(X, X, length_scale, signal_variance, r2=r2)
    K.flat[:: len(K) + 1] += noise_variance + JITTER * signal_variance  # the diagonal
    return np.linalg.cholesky(K)


def gp_posterior(X: np.ndarray, y: np.ndarray, X_star: np.ndarray, *,
                 kernel: Callable[..., np.ndarray] = matern52_kernel, length_scale: Any = 1.0,
                 signal_variance: float = 1.0, noise_variance: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and variance of a zero-mean GP at X*, given y = f(X) + ε, ε ~ N(0, σ_n²):

        μ(x*)  = k*ᵀ (K + σ_n² I)⁻¹ y                    (k* = k(X, x*), K = k(X, X))
        σ²(x*) = k(x*, x*) − k*ᵀ (K + σ_n² I)⁻¹ k*

    computed with the Cholesky factor K + σ_n² I = L Lᵀ: with z = L⁻¹ y and v = L⁻¹ k*,
    μ = vᵀ z and σ² = k(x*, x*) − vᵀ v. Both kernels here are stationary, so
    k(x*, x*) = σ_f². With σ_n² = 0 the mean passes through every observation and the
    variance there is ~0 (up to a 1e-10·σ_f² jitter). Returns (μ, σ²), σ² clipped at 0.
    """
    X, y, X_star = (np.asarray(a, dtype=np.float64) for a in (X, y, X_star))  # host
    L = _cholesky(X, kernel, length_scale, signal_variance, noise_variance)
    k_star = kernel(X, X_star, length_scale, signal_variance)
    # one triangular system for both: NumPy has no triangular solver, and n is small
    zv = np.linalg.solve(L, np.concatenate([y[:, None], k_star], axis=1))
    z, v = zv[:, 0], zv[:, 1:]
    mean = v.T @ z
    var = signal_variance - (v * v).sum(0)
    return mean, np.maximum(var, 0.0)


def log_marginal_likelihood(X: np.ndarray | None, y: np.ndarray, *,
                            kernel: Callable[..., Any] = matern52_kernel, length_scale: Any = 1.0,
                            signal_variance: float = 1.0, noise_variance: float = 0.0,
                            return_grad: bool = False, sq_diff: np.ndarray | None = None) -> Any:
    """How probable the observations are under the GP prior (the evidence):

        log p(y | X) = −½ yᵀ (K + σ_n² I)⁻¹ y − ½ log |K + σ_n² I| − (n/2) log 2π
                     = −½ yᵀα − Σᵢ log Lᵢᵢ − (n/2) log 2π,     α = (K + σ_n² I)⁻¹ y

    The first term rewards fitting the data, the second penalizes a flexible model: fitting
    the hyperparameters by maximizing it is Occam's razor in one number. −∞ when the
    matrix is not positive definite.

    ``return_grad=True`` also returns the gradient in θ = (log ℓ₁…ℓ_d, log σ_f², log σ_n²):

        ∂/∂θ_j log p(y | X) = ½ Σ_ab W_ab (∂K/∂θ_j)_ab,     W = ααᵀ − (K + σ_n² I)⁻¹
        ∂K/∂log σ_f² = K,   ∂K/∂log σ_n² = σ_n² I,   ∂K/∂log ℓ_d = ∂k/∂r² · (−2 (x_d − x'_d)² / ℓ_d²)

    ``sq_diff`` (the (n, n, d) squared differences of X's rows) may replace X.
    """
    y = np.asarray(y, dtype=np.float64)  # host
    if sq_diff is None:
        X = np.asarray(X, dtype=np.float64)  # host
        sq_diff = (X[:, None, :] - X[None, :, :]) ** 2
    ls = np.broadcast_to(np.asarray(length_scale, dtype=np.float64), sq_diff.shape[-1:])  # host
    inv_ls2 = 1.0 / (ls * ls)
    Kf, dk_dr2 = kernel(None, None, signal_variance=signal_variance, r2=sq_diff @ inv_ls2,
                        with_derivative=True)
    K = Kf.copy()
    K.flat[:: len(K) + 1] += noise_variance + JITTER * signal_variance
    n = len(y)
    try:
        L = np.linalg.cholesky(K)
    except np.linalg.LinAlgError:
        return (-math.inf, np.zeros(len(inv_ls2) + 2)) if return_grad else -math.inf  # host
    if not return_grad:
        z = np.linalg.solve(L, y)
        return float(-0.5 * z @ z - np.log(L.diagonal()).sum() - 0.5 * n * math.log(2.0 * math.pi))
    L_inv = np.linalg.solve(L, np.eye(n))  # host
    z = L_inv @ y
    value = float(-0.5 * z @ z - np.log(L.diagonal()).sum() - 0.5 * n * math.log(2.0 * math.pi))
    alpha = L_inv.T @ z
    W = np.outer(alpha, alpha) - L_inv.T @ L_inv
    grad_ls = -np.einsum("ab,abd->d", W * dk_dr2, sq_diff) * inv_ls2
    grad_sf = 0.5 * float((W * Kf).sum())
    grad_sn = 0.5 * noise_variance * float(np.trace(W))
    return value, np.concatenate([grad_ls, [grad_sf, grad_sn]])


MINIMUM_NOISE_VARIANCE = 1e-6
"""The noise floor σ_n² (of the standardized scores) while fitting: Optuna's default. Even a
deterministic objective gets this much, so K + σ_n² I stays well conditioned."""


def log_prior(theta: np.ndarray, n_dims: int, *, return_grad: bool = False) -> Any:
    """A weak prior on the GP's hyperparameters, θ = (log ℓ₁…ℓ_d, log σ_f², log σ_n²), for
    inputs in the unit cube and standardized scores (Optuna's default prior, up to constants):

        log p(θ) = Σ_d −0.1 (ℓ_d² + ℓ_d⁻²)            each length scale near 1, mildly
                 + log σ_f² − σ_f²                    σ_f² ~ Gamma(2, 1): near the scores' variance 1
                 + 0.1 log σ_n² − 30 σ_n²             σ_n² ~ Gamma(1.1, 30): little noise

    (a Gamma(a, b) density is ∝ x^{a−1} e^{−bx}). It only matters with few points, where the
    likelihood alone could pick a length scale of 0.001 (every point an isolated spike) or
    call all the data noise. ``return_grad=True`` also returns ∂/∂θ:

        ∂/∂log ℓ_d = −0.2 (ℓ_d² − ℓ_d⁻²),     ∂/∂log σ_f² = 1 − σ_f²,     ∂/∂log σ_n² = 0.1 − 30 σ_n²
    """
    theta = np.asarray(theta, dtype=np.float64)  # host
    ls2 = np.exp(2.0 * theta[:n_dims])
    sf2, sn2 = math.exp(theta[n_dims]), math.exp(theta[n_dims + 1])
    value = float(-0.1 * (ls2 + 1.0 / ls2).sum() + theta[n_dims] - sf2 + 0.1 * theta[n_dims + 1] - 30.0 * sn2)
    if not return_grad:
        return value
    grad = np.concatenate([-0.2 * (ls2 - 1.0 / ls2), [1.0 - sf2, 0.1 - 30.0 * sn2]])
    return value, grad


class GaussianProcess:
    """GP regression with a fitted kernel: ``GaussianProcess("matern52").fit(X, y).predict(X*)``.

    ``y`` is standardized (mean 0, std 1) before fitting and predictions are mapped back,
    so the prior suits any scale of score. ``fit`` chooses θ = (log ℓ₁…ℓ_d, log σ_f²,
    log σ_n²) by maximizing the log posterior :func:`log_marginal_likelihood` + :func:`log_prior`
    (``prior=False``: the likelihood alone), with analytic gradients, by box L-BFGS
    (:func:`~minidl.search.optimize.minimize_lbfgs`) from several starts — the previous fit,
    the given values, and ``n_restarts`` random points in the box the ``*_bounds`` make — and
    keeps the best. ``optimize=False`` keeps the given hyperparameters. Inputs are expected in
    the unit cube (the bounds and the prior on ℓ assume it). The noise variance is at least
    :data:`MINIMUM_NOISE_VARIANCE` unless its bounds say otherwise.
    """

    def __init__(self, kernel: str = "matern52", *, length_scale: Any = 0.5, signal_variance: float = 1.0,
                 noise_variance: float = 1e-2, optimize: bool = True, n_restarts: int = 2,
                 length_scale_bounds: tuple[float, float] = (1e-2, 20.0),
                 signal_variance_bounds: tuple[float, float] = (1e-2, 1e2),
                 noise_variance_bounds: tuple[float, float] = (MINIMUM_NOISE_VARIANCE, 1.0),
                 prior: bool = True, normalize_y: bool = True, max_iter: int = 100,
                 seed: int | Generator = 0) -> None:
        if kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {sorted(KERNELS)} (got {kernel!r})")
        for name, v in (("signal_variance", signal_variance), ("noise_variance", noise_variance)):
            if not v >= 0:
                raise ValueError(f"{name} must be >= 0 (got {v!r})")
        if np.any(np.asarray(length_scale, dtype=np.float64) <= 0):  # host
            raise ValueError(f"length_scale must be > 0 (got {length_scale!r})")
        for name, (b_lo, b_hi) in (("length_scale_bounds", length_scale_bounds),
                                   ("signal_variance_bounds", signal_variance_bounds),
                                   ("noise_variance_bounds", noise_variance_bounds)):
            if not 0 < b_lo <= b_hi:
                raise ValueError(f"{name} must be (low, high) with 0 < low <= high (got {(b_lo, b_hi)!r})")
        self.kernel_name = kernel
        self.kernel = KERNELS[kernel]
        self.length_scale = length_scale
        self.signal_variance = float(signal_variance)
        self.noise_variance = float(noise_variance)
        self.optimize = optimize
        self.n_restarts = n_restarts
        self.bounds = (length_scale_bounds, signal_variance_bounds, noise_variance_bounds)
        self.prior = prior
        self.normalize_y = normalize_y
        self.max_iter = max_iter
        self.rng = seed if isinstance(seed, Generator) else default_rng(seed)
        self._theta: np.ndarray | None = None
        self._factor: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def __repr__(self) -> str:
        ls = np.round(np.atleast_1d(self.length_scale), 3).tolist()
        return (f"GaussianProcess({self.kernel_name!r}, length_scale={ls}, "
                f"signal_variance={self.signal_variance:.3g}, noise_variance={self.noise_variance:.3g})")

    # θ ↔ hyperparameters
    def _unpack(self, theta: np.ndarray, d: int) -> tuple[np.ndarray, float, float]:
        return np.exp(theta[:d]), float(np.exp(theta[d])), float(np.exp(theta[d + 1]))

    def _box(self, d: int) -> tuple[np.ndarray, np.ndarray]:
        (l_lo, l_hi), (s_lo, s_hi), (n_lo, n_hi) = self.bounds
        lo = np.log([l_lo] * d + [s_lo, n_lo])
        hi = np.log([l_hi] * d + [s_hi, n_hi])
        return lo, hi

    def log_posterior(self, theta: np.ndarray, sq_diff: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """The objective ``fit`` maximizes at θ, and its gradient: log p(y | X, θ) + log p(θ)
        (without the prior when ``prior=False``). Needs ``fit`` to have set X and y."""
        d = self.X.shape[1]
        ls, sf2, sn2 = self._unpack(theta, d)
        value, grad = log_marginal_likelihood(None if sq_diff is not None else self.X, self.y, kernel=self.kernel,
                                              length_scale=ls, signal_variance=sf2, noise_variance=sn2,
                                              return_grad=True, sq_diff=sq_diff)
        if self.prior and math.isfinite(value):
            p_value, p_grad = log_prior(theta, d, return_grad=True)
            value, grad = value + p_value, grad + p_grad
        return value, grad

    def fit(self, X: np.ndarray, y: np.ndarray) -> GaussianProcess:
        X = np.asarray(X, dtype=np.float64)  # host
        y = np.asarray(y, dtype=np.float64).ravel()  # host
        if X.ndim != 2 or len(X) != len(y):
            raise ValueError(f"X must be (n, d) and y (n,) (got X {X.shape}, y {y.shape})")
        if len(y) == 0:
            raise ValueError("GaussianProcess.fit needs at least one observation")
        if not np.all(np.isfinite(X)) or not np.all(np.isfinite(y)):
            raise ValueError("GaussianProcess.fit needs finite X and y (got NaN or infinity)")
        self.X = X
        self.y_mean = float(y.mean()) if self.normalize_y else 0.0
        std = float(y.std()) if self.normalize_y else 1.0
        self.y_std = std if std > 0 else 1.0
        self.y = (y - self.y_mean) / self.y_std
        self._factor = None
        d = X.shape[1]
        if self.optimize and len(y) >= 2:
            lo, hi = self._box(d)
            ls0 = np.broadcast_to(np.asarray(self.length_scale, dtype=np.float64), (d,))  # host
            given = np.concatenate([ls0, [self.signal_variance, max(self.noise_variance, 1e-300)]])
            starts = [np.clip(np.log(given), lo, hi)]
            if self._theta is not None and len(self._theta) == d + 2:
                starts.insert(0, self._theta)
            starts += [self.rng.uniform(lo, hi) for _ in range(self.n_restarts)]
            sq_diff = (X[:, None, :] - X[None, :, :]) ** 2  # computed once for every θ tried

            def negative_log_posterior(theta: np.ndarray) -> tuple[float, np.ndarray]:
                value, grad = self.log_posterior(theta, sq_diff)
                return -value, -grad

            best_theta, best_f = starts[0], math.inf
            for theta0 in starts:
                # tolerances in log-likelihood units: far below what changes a prediction
                theta, f, _ = minimize_lbfgs(negative_log_posterior, theta0, bounds=(lo, hi),
                                             max_iter=self.max_iter, gtol=1e-4, ftol=1e-9)
                if f < best_f:
                    best_theta, best_f = theta, f
            self._theta = best_theta
            ls, self.signal_variance, self.noise_variance = self._unpack(best_theta, d)
            self.length_scale = ls
        return self

    def log_marginal_likelihood(self) -> float:
        """The fitted model's log evidence (of the standardized y)."""
        return log_marginal_likelihood(self.X, self.y, kernel=self.kernel, length_scale=self.length_scale,
                                       signal_variance=self.signal_variance,
                                       noise_variance=self.noise_variance)

    def _cholesky_factor(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(L⁻¹, α = (K + σ_n² I)⁻¹ y, (K + σ_n² I)⁻¹) of the fitted model, computed once per fit."""
        if self._factor is None:
            L = _cholesky(self.X, self.kernel, self.length_scale, self.signal_variance, self.noise_variance)
            L_inv = np.linalg.solve(L, np.eye(len(L)))  # host
            K_inv = L_inv.T @ L_inv
            self._factor = (L_inv, K_inv @ self.y, K_inv)
        return self._factor

    def posterior(self, X_star: np.ndarray, *, with_gradient: bool = False) -> tuple[np.ndarray, ...]:
        """Posterior mean and standard deviation at X* in the *standardized* units of the fit
        (:func:`gp_posterior`'s formulas, with the factorization kept from one call to the next).

        ``with_gradient=True`` also returns ∂μ/∂x* and ∂σ/∂x* (each (m, d)): with
        ∂k(x*, x_i)/∂x*_d = ∂k/∂r² · 2 (x*_d − x_id)/ℓ_d²,

            ∂μ/∂x*  = Σ_i α_i ∂k(x*, x_i)/∂x*                       α = (K + σ_n² I)⁻¹ y
            ∂σ/∂x*  = −(1/σ) Σ_i w_i ∂k(x*, x_i)/∂x*                w = (K + σ_n² I)⁻¹ k*

        (from σ² = σ_f² − k*ᵀ (K + σ_n² I)⁻¹ k*). The standard deviation is floored at
        10⁻⁶·σ_f (where the GP is sure, EI is ~0 anyway) so that 1/σ stays finite.
        """
        X_star = np.asarray(X_star, dtype=np.float64)  # host
        L_inv, alpha, K_inv = self._cholesky_factor()
        ls = np.broadcast_to(np.asarray(self.length_scale, dtype=np.float64), X_star.shape[-1:])  # host
        r2 = scaled_sq_dist(X_star, self.X, ls)
        k_star, dk_dr2 = self.kernel(None, None, signal_variance=self.signal_variance, r2=r2, with_derivative=True)
        mean = k_star @ alpha
        v = k_star @ L_inv.T
        floor = 1e-12 * self.signal_variance
        var = np.maximum(self.signal_variance - (v * v).sum(1), floor)
        std = np.sqrt(var)
        if not with_gradient:
            return mean, std
        inv_ls2 = 1.0 / (ls * ls)

        def d_by_dx(coef: np.ndarray) -> np.ndarray:  # Σ_i coef_mi ∂k(x*_m, x_i)/∂x*  (m, d)
            a = coef * dk_dr2
            return 2.0 * (X_star * a.sum(1, keepdims=True) - a @ self.X) * inv_ls2

        d_mean = d_by_dx(alpha[None, :])
        w = k_star @ K_inv
        d_std = -d_by_dx(w) / std[:, None]
        return mean, std, d_mean, d_std

    def predict(self, X_star: np.ndarray, return_std: bool = True) -> Any:
        """Posterior mean (and standard deviation) of f at X*, in the units of y."""
        mean, std = self.posterior(X_star)
        mean = mean * self.y_std + self.y_mean
        if not return_std:
            return mean
        return mean, std * self.y_std
