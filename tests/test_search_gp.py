"""The Gaussian process, its kernels and marginal likelihood, Expected Improvement, Nelder–Mead."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minidl.search import (
    GaussianProcess,
    expected_improvement,
    gp_posterior,
    log_marginal_likelihood,
    matern52_kernel,
    minimize_bfgs,
    minimize_multi_start,
    normal_cdf,
    normal_pdf,
    rbf_kernel,
)

SETTINGS = settings(max_examples=25, deadline=None)
KERNELS = [rbf_kernel, matern52_kernel]


# -- kernels ---------------------------------------------------------------------------------
def test_kernels_match_their_formulas_at_hand_computed_points():
    a, b = np.array([[0.0, 0.0]]), np.array([[0.3, 0.4]])  # distance 0.5
    # length scale 0.5 → r = 1
    assert rbf_kernel(a, b, 0.5, 2.0)[0, 0] == pytest.approx(2.0 * math.exp(-0.5))
    assert matern52_kernel(a, b, 0.5, 2.0)[0, 0] == pytest.approx(
        2.0 * (1 + math.sqrt(5) + 5 / 3) * math.exp(-math.sqrt(5)))
    # ARD: a length scale per dimension, r² = 0.3²/0.3² + 0.4²/0.8² = 1.25
    assert rbf_kernel(a, b, [0.3, 0.8])[0, 0] == pytest.approx(math.exp(-0.625))
    for k in KERNELS:
        assert k(a, a, 0.7, 3.0)[0, 0] == pytest.approx(3.0)  # k(x, x) = σ_f²


@pytest.mark.parametrize("kernel", KERNELS)
def test_kernel_matrices_are_symmetric_positive_semidefinite(kernel):
    X = np.random.default_rng(0).uniform(size=(30, 3))
    K = kernel(X, X, [0.2, 0.5, 1.0], 1.5)
    np.testing.assert_allclose(K, K.T, atol=1e-12)
    assert np.linalg.eigvalsh(K).min() > -1e-9
    np.testing.assert_allclose(kernel(None, None, 1.0, 1.5, r2=np.array([[0.0, 4.0]])),
                               kernel(np.zeros((1, 1)), np.array([[0.0], [2.0]]), 1.0, 1.5))


# -- posterior -------------------------------------------------------------------------------
@SETTINGS
@given(st.integers(0, 10_000), st.sampled_from(KERNELS))
def test_posterior_interpolates_noise_free_observations_with_zero_variance(seed, kernel):
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(8, 2))
    y = rng.normal(size=8)
    mean, var = gp_posterior(X, y, X, kernel=kernel, length_scale=0.3, noise_variance=0.0)
    np.testing.assert_allclose(mean, y, atol=1e-5)
    assert var.max() < 1e-7
    # away from the data the variance is positive, at most the prior's σ_f²
    _, var_far = gp_posterior(X, y, rng.uniform(size=(5, 2)) + 3.0, kernel=kernel, length_scale=0.3)
    np.testing.assert_allclose(var_far, 1.0, atol=1e-6)


@pytest.mark.parametrize("kernel", KERNELS)
def test_posterior_matches_the_textbook_formula_with_an_explicit_inverse(kernel):
    rng = np.random.default_rng(1)
    X, Xs, y = rng.uniform(size=(10, 2)), rng.uniform(size=(7, 2)), rng.normal(size=10)
    ls, sf2, sn2 = [0.4, 0.7], 1.3, 0.05
    mean, var = gp_posterior(X, y, Xs, kernel=kernel, length_scale=ls, signal_variance=sf2,
                             noise_variance=sn2)
    Kinv = np.linalg.inv(kernel(X, X, ls, sf2) + sn2 * np.eye(10))
    Ks = kernel(X, Xs, ls, sf2)
    np.testing.assert_allclose(mean, Ks.T @ Kinv @ y, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(var, np.diag(kernel(Xs, Xs, ls, sf2) - Ks.T @ Kinv @ Ks), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("kernel", KERNELS)
def test_log_marginal_likelihood_is_the_gaussian_log_density_of_y(kernel):
    rng = np.random.default_rng(2)
    X, y = rng.uniform(size=(12, 3)), rng.normal(size=12)
    ls, sf2, sn2 = [0.3, 0.5, 2.0], 0.8, 0.1
    C = kernel(X, X, ls, sf2) + sn2 * np.eye(12)
    _, logdet = np.linalg.slogdet(C)
    expected = -0.5 * y @ np.linalg.solve(C, y) - 0.5 * logdet - 6 * math.log(2 * math.pi)
    got = log_marginal_likelihood(X, y, kernel=kernel, length_scale=ls, signal_variance=sf2,
                                  noise_variance=sn2)
    assert got == pytest.approx(expected, rel=1e-8)


def test_fitting_raises_the_marginal_likelihood_and_finds_the_length_scales():
    # y depends on x0 only: the fitted length scale of x1 must come out much longer
    rng = np.random.default_rng(3)
    X = rng.uniform(size=(30, 2))
    y = np.sin(6 * X[:, 0])
    fixed = GaussianProcess("matern52", optimize=False).fit(X, y)
    fitted = GaussianProcess("matern52", seed=0).fit(X, y)
    assert fitted.log_marginal_likelihood() > fixed.log_marginal_likelihood() + 5
    ls = np.asarray(fitted.length_scale)
    assert ls[1] > 5 * ls[0]
    # and predictions at new points are good
    Xt = rng.uniform(size=(50, 2))
    mean, std = fitted.predict(Xt)
    error = np.abs(mean - np.sin(6 * Xt[:, 0]))
    assert error.mean() < 0.02 and error.max() < 0.15
    assert np.all(error < 4 * std + 1e-3)  # the uncertainty covers the error


def test_predictions_are_in_the_units_of_y_and_revert_to_the_prior_far_away():
    X = np.array([[0.1], [0.5], [0.9]])
    y = np.array([100.0, 120.0, 110.0])
    gp = GaussianProcess("rbf", length_scale=0.2, noise_variance=1e-8, optimize=False).fit(X, y)
    mean, std = gp.predict(X)
    np.testing.assert_allclose(mean, y, atol=1e-3)
    far_mean, far_std = gp.predict(np.array([[50.0]]))
    assert far_mean[0] == pytest.approx(y.mean()) and far_std[0] == pytest.approx(y.std())


def test_gaussian_process_rejects_bad_arguments():
    with pytest.raises(ValueError, match="kernel must be one of"):
        GaussianProcess("cubic")
    with pytest.raises(ValueError, match="length_scale must be > 0"):
        GaussianProcess(length_scale=0.0)
    with pytest.raises(ValueError, match=r"X must be \(n, d\)"):
        GaussianProcess().fit(np.zeros((3, 2)), np.zeros(4))


# -- Expected Improvement --------------------------------------------------------------------
def test_expected_improvement_matches_hand_computed_values():
    # f* = 1, μ = 0.5, σ = 1, ξ = 0: Z = 0.5, EI = 0.5 Φ(0.5) + φ(0.5)
    phi, Phi = 0.3520653267642995, 0.6914624612740131  # table values of φ(0.5), Φ(0.5)
    assert expected_improvement(0.5, 1.0, best=1.0, xi=0.0) == pytest.approx(0.5 * Phi + phi, rel=1e-12)
    assert 0.5 * Phi + phi == pytest.approx(0.6977965574013060)
    # μ = f*, ξ = 0: EI = σ φ(0) = σ / √(2π)
    assert expected_improvement(2.0, 3.0, best=2.0, xi=0.0) == pytest.approx(3.0 / math.sqrt(2 * math.pi))
    # ξ shifts the target: f* = 1, μ = 1.2, σ = 0.5, ξ = 0.1 → Z = −0.6
    z = -0.6
    Phi, phi = 0.5 * math.erfc(-z / math.sqrt(2)), math.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    by_hand = (-0.3) * Phi + 0.5 * phi
    assert expected_improvement(1.2, 0.5, best=1.0, xi=0.1) == pytest.approx(by_hand, rel=1e-12)
    # tiny σ and a sure improvement: EI → f* − μ − ξ
    assert expected_improvement(0.0, 1e-9, best=1.0, xi=0.01) == pytest.approx(0.99)


def test_expected_improvement_is_zero_where_sigma_is_zero():
    ei = expected_improvement(np.array([0.0, 5.0, 1.0]), np.array([0.0, 0.0, 0.0]), best=1.0)
    np.testing.assert_array_equal(ei, 0.0)


@SETTINGS
@given(st.floats(-5, 5), st.floats(1e-3, 5), st.floats(-5, 5), st.floats(0, 1))
def test_expected_improvement_is_the_expectation_of_the_improvement(mu, sigma, best, xi):
    ei = float(expected_improvement(mu, sigma, best, xi))
    assert ei >= 0
    assert ei >= best - mu - xi - 1e-12  # E[max(I, 0)] ≥ max(E[I], 0)
    # Monte Carlo with a fixed sample agrees (within 5 standard errors)
    f = mu + sigma * np.random.default_rng(0).standard_normal(200_000)
    imp = np.maximum(best - xi - f, 0.0)
    assert abs(ei - imp.mean()) <= 5 * imp.std() / math.sqrt(len(f)) + 1e-6  # (+ tails MC never samples)


def test_expected_improvement_grows_with_uncertainty_and_with_a_lower_mean():
    sig = np.linspace(0.1, 3, 20)
    assert np.all(np.diff(expected_improvement(0.0, sig, best=0.0)) > 0)
    mu = np.linspace(-2, 2, 20)
    assert np.all(np.diff(expected_improvement(mu, 1.0, best=0.0)) < 0)


def test_normal_cdf_and_pdf():
    assert normal_cdf(0.0) == 0.5 and normal_pdf(0.0) == pytest.approx(1 / math.sqrt(2 * math.pi))
    assert normal_cdf(-10.0) == pytest.approx(7.619853024160527e-24, rel=1e-12)  # exact in the tail
    assert normal_cdf(1.959963984540054) == pytest.approx(0.975)


def test_expected_improvement_rejects_bad_input():
    with pytest.raises(ValueError, match="xi must be >= 0"):
        expected_improvement(0.0, 1.0, 0.0, xi=-0.1)
    with pytest.raises(ValueError, match="std must be >= 0"):
        expected_improvement(0.0, -1.0, 0.0)


# -- the optimizer ---------------------------------------------------------------------------
def _rosenbrock(x):
    value = (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
    grad = np.array([-2 * (1 - x[0]) - 400 * x[0] * (x[1] - x[0] ** 2), 200 * (x[1] - x[0] ** 2)])
    return value, grad


def test_bfgs_minimizes_rosenbrock_in_few_evaluations():
    x, fx, evals = minimize_bfgs(_rosenbrock, [-1.2, 1.0], gtol=1e-9, ftol=0.0)
    np.testing.assert_allclose(x, [1.0, 1.0], atol=1e-6)
    assert fx < 1e-12 and evals < 150  # steepest descent would need thousands


def test_bfgs_stays_in_its_box_and_backs_off_from_nan():
    def f(x):  # minimum at (3, 0), outside the box; NaN beyond x0 = 1.5
        if x[0] > 1.5:
            return float("nan"), np.zeros(2)
        return (x[0] - 3.0) ** 2 + x[1] ** 2, np.array([2 * (x[0] - 3.0), 2 * x[1]])

    lo, hi = np.array([-1.0, -1.0]), np.array([1.2, 1.0])
    x, fx, _ = minimize_bfgs(f, [0.0, 0.5], bounds=(lo, hi))
    np.testing.assert_allclose(x, [1.2, 0.0], atol=1e-6)  # pinned on the bound, free coordinate solved
    x, _, _ = minimize_bfgs(f, [0.0, 0.5], bounds=(np.array([-1.0, -1.0]), np.array([2.0, 1.0])))
    assert 1.4 < x[0] <= 1.5  # pressed against the NaN region, never inside it


def test_multi_start_escapes_a_local_minimum():
    def two_wells(x):  # local minimum at −1 (value 0.5), global at +2 (value 0)
        a, b = (x[0] + 1) ** 2 + 0.5, (x[0] - 2) ** 2
        return (a, np.array([2 * (x[0] + 1)])) if a < b else (b, np.array([2 * (x[0] - 2)]))

    box = (np.array([-3.0]), np.array([3.0]))
    x_local, _, _ = minimize_bfgs(two_wells, [-1.5], bounds=box)
    assert x_local[0] == pytest.approx(-1.0, abs=1e-4)
    x, fx = minimize_multi_start(two_wells, [[-1.5], [2.5]], bounds=box)
    assert x[0] == pytest.approx(2.0, abs=1e-4) and fx < 1e-8


@pytest.mark.parametrize("kernel", KERNELS)
def test_kernel_derivative_in_r2_matches_central_differences(kernel):
    r2 = np.linspace(0.01, 6.0, 50)
    _, dk = kernel(None, None, signal_variance=1.7, r2=r2, with_derivative=True)
    h = 1e-6
    numeric = (kernel(None, None, signal_variance=1.7, r2=r2 + h) - kernel(None, None, signal_variance=1.7,
                                                                            r2=r2 - h)) / (2 * h)
    np.testing.assert_allclose(dk, numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("kernel", KERNELS)
def test_log_marginal_likelihood_gradient_matches_central_differences(kernel):
    rng = np.random.default_rng(4)
    X, y = rng.uniform(size=(15, 3)), rng.normal(size=15)
    theta = np.log([0.3, 0.6, 2.0, 0.8, 0.05])  # log ℓ₁, ℓ₂, ℓ₃, σ_f², σ_n²

    def lml(t, grad=False):
        return log_marginal_likelihood(X, y, kernel=kernel, length_scale=np.exp(t[:3]),
                                       signal_variance=np.exp(t[3]), noise_variance=np.exp(t[4]),
                                       return_grad=grad)

    value, grad = lml(theta, grad=True)
    assert value == pytest.approx(lml(theta))
    h = 1e-6
    numeric = [(lml(theta + h * e) - lml(theta - h * e)) / (2 * h) for e in np.eye(5)]
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)
