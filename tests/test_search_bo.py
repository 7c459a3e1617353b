"""Bayesian optimization's parts, each against its formula: the prior and the MAP fit's gradient,
the GP posterior's gradient, log EI (stable where EI underflows), box L-BFGS, Hartmann-6."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minidl.search import (
    GaussianProcess,
    Uniform,
    bayesian_optimization,
    expected_improvement,
    gp_posterior,
    rbf_kernel,
)
from minidl.search.acquisition import erfcx, log_expected_improvement, log_h, log_ndtr, normal_cdf
from minidl.search.bayesian import default_n_initial, gp_log_expected_improvement, maximize_acquisition
from minidl.search.gp import log_prior
from minidl.search.optimize import _two_loop_batch, minimize_lbfgs, minimize_lbfgs_batch
from minidl.search.space import SearchSpace
from minidl.search.toy_functions import BRANIN_SPACE, HARTMANN6_MINIMUM, HARTMANN6_SPACE, hartmann6

SETTINGS = settings(max_examples=40, deadline=None)


# -- the GP posterior by hand ------------------------------------------------------------------
def test_posterior_of_two_points_matches_a_hand_computation():
    # RBF, ℓ = 1, σ_f² = 1, no noise; x = 0 and 1 with y = 1 and −1; predict at 0.5.
    # k(0, 1) = e^{−1/2} = c; k* = (e^{−1/8}, e^{−1/8}) = (a, a); K = [[1, c], [c, 1]].
    # y = (1, −1) is antisymmetric about 0.5, so μ = k*ᵀ K⁻¹ y = 0; K⁻¹ (1, 1) = (1, 1)/(1 + c),
    # so σ² = 1 − k*ᵀ K⁻¹ k* = 1 − 2a²/(1 + c) (up to the 1e-10 jitter on K's diagonal).
    a, c = math.exp(-1 / 8), math.exp(-1 / 2)
    mean, var = gp_posterior(np.array([[0.0], [1.0]]), np.array([1.0, -1.0]), np.array([[0.5]]),
                             kernel=rbf_kernel, length_scale=1.0)
    assert mean[0] == pytest.approx(0.0, abs=1e-12)
    assert var[0] == pytest.approx(1 - 2 * a * a / (1 + c), rel=1e-8)
    # y = (1, 1): μ = 2a / (1 + c)
    mean, _ = gp_posterior(np.array([[0.0], [1.0]]), np.array([1.0, 1.0]), np.array([[0.5]]),
                           kernel=rbf_kernel, length_scale=1.0)
    assert mean[0] == pytest.approx(2 * a / (1 + c), rel=1e-9)


@pytest.mark.parametrize("kernel", ["rbf", "matern52"])
def test_fitted_posterior_agrees_with_gp_posterior_and_its_gradient_with_central_differences(kernel):
    rng = np.random.default_rng(0)
    X, y = rng.uniform(size=(12, 3)), rng.normal(size=12)
    gp = GaussianProcess(kernel, seed=0).fit(X, y)
    U = rng.uniform(size=(5, 3))
    mean, var = gp_posterior(X, gp.y, U, kernel=gp.kernel, length_scale=gp.length_scale,
                             signal_variance=gp.signal_variance, noise_variance=gp.noise_variance)
    m, s, dm, ds = gp.posterior(U, with_gradient=True)
    np.testing.assert_allclose(m, mean, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(s, np.sqrt(var), rtol=1e-7, atol=1e-10)
    h = 1e-6
    for j in range(3):
        e = np.zeros(3)
        e[j] = h
        mp, sp = gp.posterior(U + e)
        mm, sm = gp.posterior(U - e)
        np.testing.assert_allclose(dm[:, j], (mp - mm) / (2 * h), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(ds[:, j], (sp - sm) / (2 * h), rtol=1e-5, atol=1e-7)


# -- the prior and the MAP objective -----------------------------------------------------------
def test_log_prior_matches_its_formula_and_gradient():
    theta = np.log([0.5, 2.0, 0.8, 1e-3])  # log ℓ₁, log ℓ₂, log σ_f², log σ_n²
    value, grad = log_prior(theta, 2, return_grad=True)
    by_hand = (-0.1 * (0.25 + 4) - 0.1 * (4 + 0.25) + math.log(0.8) - 0.8 + 0.1 * math.log(1e-3) - 30e-3)
    assert value == pytest.approx(by_hand, rel=1e-12)
    h = 1e-6
    numeric = [(log_prior(theta + h * e, 2) - log_prior(theta - h * e, 2)) / (2 * h) for e in np.eye(4)]
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("kernel", ["rbf", "matern52"])
def test_map_objective_gradient_matches_central_differences(kernel):
    rng = np.random.default_rng(1)
    X, y = rng.uniform(size=(15, 2)), rng.normal(size=15)
    gp = GaussianProcess(kernel, optimize=False).fit(X, y)
    theta = np.log([0.3, 1.5, 0.9, 0.02])
    _, grad = gp.log_posterior(theta)
    h = 1e-6
    numeric = [(gp.log_posterior(theta + h * e)[0] - gp.log_posterior(theta - h * e)[0]) / (2 * h)
               for e in np.eye(4)]
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)


def test_fit_is_a_local_maximum_of_the_map_objective_and_the_prior_tames_few_points():
    rng = np.random.default_rng(2)
    X = rng.uniform(size=(25, 2))
    y = np.sin(6 * X[:, 0])
    gp = GaussianProcess("matern52", seed=0).fit(X, y)
    value, grad = gp.log_posterior(gp._theta)
    lo, hi = gp._box(2)
    inside = (gp._theta > lo + 1e-6) & (gp._theta < hi - 1e-6)
    assert np.abs(grad[inside]).max() < 1e-2  # stationary where no bound is active
    # three points: without the prior the likelihood may call it all noise or all spikes;
    # with it the length scale stays within a decade of 1 and the noise small
    few = GaussianProcess("matern52", seed=0).fit(X[:3], y[:3])
    assert 0.1 < float(np.min(few.length_scale)) and few.noise_variance < 0.05


# -- log EI -------------------------------------------------------------------------------------
def test_erfcx_and_log_ndtr_match_direct_formulas_where_those_are_exact():
    x = np.array([0.0, 0.5, 3.0, 9.9, 10.0, 10.1, 25.0])
    direct = np.array([math.exp(v * v) * math.erfc(v) for v in x])
    np.testing.assert_allclose(erfcx(x), direct, rtol=1e-13)
    assert erfcx(np.array([1e6]))[0] == pytest.approx(1 / (1e6 * math.sqrt(math.pi)), rel=1e-12)
    z = np.array([-30.0, -5.0, -0.5, 0.0, 2.0])
    np.testing.assert_allclose(log_ndtr(z), [math.log(0.5 * math.erfc(-v / math.sqrt(2))) for v in z], rtol=1e-13)
    # near 1, log Φ(z) = log1p(−Φ(−z)) ≈ −Φ(−z), which log(Φ(z)) rounds to a multiple of 2⁻⁵³
    assert log_ndtr(np.array([8.0]))[0] == pytest.approx(-0.5 * math.erfc(8 / math.sqrt(2)), rel=1e-12)
    # far in the tail Φ underflows, log Φ does not: log Φ(z) ≈ −z²/2 − log(−z √(2π))
    assert log_ndtr(np.array([-1e4]))[0] == pytest.approx(-5e7 - math.log(1e4 * math.sqrt(2 * math.pi)), rel=1e-12)
    with pytest.raises(ValueError, match="x >= 0"):
        erfcx(np.array([-1.0]))


@SETTINGS
@given(st.floats(-5, 5), st.floats(1e-3, 5), st.floats(-5, 5), st.floats(0, 1))
def test_log_ei_is_log_of_ei_where_ei_is_representable(mu, sigma, best, xi):
    ei = float(expected_improvement(mu, sigma, best, xi))
    if ei > 1e-250:
        assert float(log_expected_improvement(mu, sigma, best, xi)) == pytest.approx(math.log(ei), rel=1e-9,
                                                                                     abs=1e-9)


def test_log_h_is_continuous_across_its_three_formulas_and_accurate_far_away():
    for edge in (-1.0, -20.0):
        left, right = log_h(np.array([edge - 1e-9, edge + 1e-9]))
        assert left == pytest.approx(right, abs=1e-7)
    # where EI underflows to exactly 0, log h keeps going: h(z) ≈ φ(z)/z² · (1 − 3/z² + 15/z⁴ − 105/z⁶) for z → −∞
    assert float(expected_improvement(0.0, 1.0, best=-40.0, xi=0.0)) == 0.0
    for z in (-40.0, -1e3, -1e6):
        series = math.log1p(-3 / z**2 + 15 / z**4 - 105 / z**6)
        expected = -z * z / 2 - 0.5 * math.log(2 * math.pi) - 2 * math.log(-z) + series
        assert float(log_h(np.array([z]))[0]) == pytest.approx(expected, rel=1e-12)


def test_log_ei_gradient_matches_central_differences_and_stays_useful_far_away():
    mean, std = np.array([0.3, 2.0, 30.0, 3e3]), np.array([0.7, 0.5, 1.0, 2.0])
    _, d_mean, d_std = log_expected_improvement(mean, std, best=0.0, xi=0.0, with_gradient=True)
    h = 1e-6
    num_mean = (log_expected_improvement(mean + h, std, 0.0, 0.0) - log_expected_improvement(mean - h, std, 0.0, 0.0))
    num_std = (log_expected_improvement(mean, std + h, 0.0, 0.0) - log_expected_improvement(mean, std - h, 0.0, 0.0))
    np.testing.assert_allclose(d_mean, num_mean / (2 * h), rtol=1e-5)
    np.testing.assert_allclose(d_std, num_std / (2 * h), rtol=1e-5)
    # 1500 σ away plain EI and its slope are exactly 0; log EI's slope is ≈ −|z|/σ: it still points home
    assert float(expected_improvement(3e3, 2.0, best=0.0, xi=0.0)) == 0.0
    assert d_mean[-1] == pytest.approx(-1500 / 2.0, rel=1e-3) and d_std[-1] > 0


def test_log_h_derivative_is_phi_over_h():
    z = np.array([3.0, 0.0, -0.9, -1.1, -5.0, -19.0, -21.0, -300.0])
    _, r = log_h(z, with_derivative=True)
    h = 1e-6
    np.testing.assert_allclose(r, (log_h(z + h) - log_h(z - h)) / (2 * h), rtol=1e-5)
    zz = z[:3]
    np.testing.assert_allclose(r[:3], normal_cdf(zz) / np.exp(log_h(zz)), rtol=1e-12)


def test_gp_log_ei_gradient_in_x_matches_central_differences():
    rng = np.random.default_rng(3)
    X = rng.uniform(size=(10, 2))
    y = (X[:, 0] - 0.3) ** 2 + 0.5 * X[:, 1]
    gp = GaussianProcess("matern52", seed=0).fit(X, y)
    U = rng.uniform(size=(6, 2))
    _, grad = gp_log_expected_improvement(gp, U, 0.0, with_gradient=True)
    h = 1e-6
    for j in range(2):
        e = np.zeros(2)
        e[j] = h
        numeric = (gp_log_expected_improvement(gp, U + e, 0.0) - gp_log_expected_improvement(gp, U - e, 0.0)) / (2 * h)
        np.testing.assert_allclose(grad[:, j], numeric, rtol=1e-4, atol=1e-6)


# -- box L-BFGS ---------------------------------------------------------------------------------
def test_box_lbfgs_solves_an_ill_conditioned_quadratic_with_active_bounds():
    # f = ½ (x − c)ᵀ A (x − c), A diagonal with condition number 1e4; c outside the box in x₀
    A = np.array([1.0, 10.0, 100.0, 1e4])
    c = np.array([2.0, 0.3, -0.4, 0.7])
    lo, hi = np.full(4, -1.0), np.full(4, 1.0)

    def f(x):
        return 0.5 * float(((x - c) ** 2 * A).sum()), A * (x - c)

    x, fx, evals = minimize_lbfgs(f, np.zeros(4), bounds=(lo, hi), gtol=1e-10, ftol=0.0)
    np.testing.assert_allclose(x, [1.0, 0.3, -0.4, 0.7], atol=1e-8)  # x₀ pinned at its bound, the rest solved
    assert fx == pytest.approx(0.5, abs=1e-10) and evals < 100


def test_box_lbfgs_on_a_full_quadratic_matches_the_linear_solve():
    rng = np.random.default_rng(4)
    M = rng.normal(size=(8, 8))
    A = M @ M.T + 0.1 * np.eye(8)
    b = rng.normal(size=8)
    x, _, _ = minimize_lbfgs(lambda x: (0.5 * x @ A @ x - b @ x, A @ x - b), np.zeros(8), gtol=1e-10, ftol=0.0,
                             max_iter=500)
    np.testing.assert_allclose(x, np.linalg.solve(A, b), rtol=1e-6, atol=1e-8)


def test_two_loop_recursion_applies_the_bfgs_inverse_hessian_built_from_its_pairs():
    # H₀ = γ I with γ = sᵀy/yᵀy of the newest pair, then for each pair, oldest first,
    # H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ: the matrix the two-loop recursion applies to g
    # without forming it. Row 1 has one pair (its older slots empty: ρ = 0), row 2 none (H = I).
    rng = np.random.default_rng(0)
    n, memory = 5, 4
    M = rng.normal(size=(n, n))
    A = M @ M.T + np.eye(n)  # positive definite, so yᵀs = sᵀAs > 0
    S, Y, rho = np.zeros((3, memory, n)), np.zeros((3, memory, n)), np.zeros((3, memory))
    s_pairs = rng.normal(size=(3, n))
    S[0, 1:], Y[0, 1:] = s_pairs, s_pairs @ A
    S[1, -1], Y[1, -1] = s_pairs[-1], s_pairs[-1] @ A
    rho[0, 1:] = 1.0 / (S[0, 1:] * Y[0, 1:]).sum(1)
    rho[1, -1] = rho[0, -1]
    G = rng.normal(size=(3, n))

    def explicit(pairs):
        s_new, y_new = pairs[-1]
        H = np.eye(n) * (s_new @ y_new) / (y_new @ y_new)
        for s, y in pairs:
            r = 1.0 / (y @ s)
            V = np.eye(n) - r * np.outer(s, y)
            H = V @ H @ V.T + r * np.outer(s, s)
        return H

    HG = _two_loop_batch(G, S, Y, rho)
    np.testing.assert_allclose(HG[0], explicit(list(zip(S[0, 1:], Y[0, 1:]))) @ G[0], rtol=1e-10)
    np.testing.assert_allclose(HG[1], explicit([(S[1, -1], Y[1, -1])]) @ G[1], rtol=1e-10)
    np.testing.assert_allclose(HG[2], G[2])


def test_batched_lbfgs_solves_every_row_as_if_it_were_alone():
    # four box-constrained quadratics with curvatures from 1 to 10⁴ and different minimizers: each
    # row must end where minimize_lbfgs ends on it alone (the same iterations: its own step length,
    # memory and stopping test), and rows that have converged are no longer evaluated.
    rng = np.random.default_rng(1)
    A = 10.0 ** rng.uniform(0, 4, size=(4, 3))
    c = rng.uniform(-1.5, 1.5, size=(4, 3))
    lo, hi = np.full(3, -1.0), np.full(3, 1.0)
    rows_seen = []

    def batch(X):
        rows_seen.append(len(X))
        idx = [int(np.argmin(np.abs(A[:, 0] - a))) for a in X[:, 3]]  # column 3 carries the row's identity
        a, cc = A[idx], c[idx]
        g = a * (X[:, :3] - cc)
        return 0.5 * (a * (X[:, :3] - cc) ** 2).sum(1), np.concatenate([g, np.zeros((len(X), 1))], axis=1)

    X0 = np.concatenate([np.zeros((4, 3)), A[:, :1]], axis=1)
    box = (np.append(lo, -np.inf), np.append(hi, np.inf))
    X, f, _ = minimize_lbfgs_batch(batch, X0, bounds=box, gtol=1e-10, ftol=0.0)
    for i in range(4):
        x_alone, f_alone, _ = minimize_lbfgs(lambda x, i=i: (0.5 * float((A[i] * (x - c[i]) ** 2).sum()),
                                                             A[i] * (x - c[i])), np.zeros(3), bounds=(lo, hi),
                                             gtol=1e-10, ftol=0.0)
        np.testing.assert_allclose(X[i, :3], x_alone, atol=1e-12)
        np.testing.assert_allclose(X[i, :3], np.clip(c[i], lo, hi), atol=1e-8)  # the box's projection of c
        assert f[i] == pytest.approx(f_alone, abs=1e-12)
    assert rows_seen[0] == 4 and min(rows_seen) < 4  # the easy rows stop before the stiff ones


def test_batched_lbfgs_names_a_one_dimensional_start():
    with pytest.raises(ValueError, match="X0 must be"):
        minimize_lbfgs_batch(lambda X: (X.sum(1), np.ones_like(X)), np.zeros(3))


def test_acquisition_optimizer_preconditioned_by_length_scales_finds_an_anisotropic_peak():
    # a(x) = −Σ_d ((x_d − p_d)/ℓ_d)²: with ℓ = (0.01, 1) the peak is a needle along the first axis.
    # The climb runs in z = x/ℓ (gradient ℓ ∂a/∂x), where a is isotropic; it must end on the peak,
    # and the recorded paths are in x (they start at the starting points, inside the cube).
    space = SearchSpace({"a": Uniform(0, 1), "b": Uniform(0, 1)})
    peak, ell = np.array([0.4321, 0.6789]), np.array([0.01, 1.0])

    def gradient(U):
        return -(((U - peak) / ell) ** 2).sum(1), -2 * (U - peak) / ell ** 2

    paths: list[np.ndarray] = []
    U, vals = maximize_acquisition(lambda U: gradient(U)[0], space, np.random.default_rng(0), gradient=gradient,
                                   n_candidates=64, length_scale=ell, paths=paths)
    np.testing.assert_allclose(U[0], peak, atol=1e-6)
    assert all(p.min() >= 0 and p.max() <= 1 for p in paths) and len(paths) == 10


def test_default_number_of_space_filling_points_is_columns_plus_four_at_most_n_trials():
    assert default_n_initial(HARTMANN6_SPACE, 60) == 10  # Optuna's GPSampler's 10 at six columns
    assert default_n_initial(BRANIN_SPACE, 30) == 6
    assert default_n_initial(BRANIN_SPACE, 5) == 5
    assert default_n_initial({"x": Uniform(0, 1), "act": ["relu", "tanh", "gelu"]}, 20) == 8  # one-hot: 3 columns


def test_acquisition_optimizer_climbs_beyond_the_best_random_candidate():
    space = SearchSpace({"a": Uniform(0, 1), "b": Uniform(0, 1)})
    peak = np.array([0.3137, 0.7071])

    def value(U):
        return -((U - peak) ** 2).sum(1)

    def gradient(U):
        return value(U), -2 * (U - peak)

    paths: list[np.ndarray] = []
    U, vals = maximize_acquisition(value, space, np.random.default_rng(0), gradient=gradient, n_candidates=64,
                                   paths=paths)
    np.testing.assert_allclose(U[0], peak, atol=1e-5)
    U_random, vals_random = maximize_acquisition(value, space, np.random.default_rng(0), n_candidates=64)
    assert vals[0] > vals_random[0]
    assert len(paths) == 10 and all(p.shape[1] == 2 for p in paths)


# -- Hartmann-6 and the whole loop --------------------------------------------------------------
def test_hartmann6_at_its_minimizer():
    x = (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)
    assert hartmann6({f"x{i + 1}": v for i, v in enumerate(x)}) == pytest.approx(HARTMANN6_MINIMUM, abs=1e-6)
    assert hartmann6({k: 0.5 for k in HARTMANN6_SPACE}) > HARTMANN6_MINIMUM + 0.5


def test_bayesian_optimization_with_integers_and_categories_returns_valid_points():
    from minidl.search import IntLogUniform, LogUniform

    space = {"lr": LogUniform(1e-4, 1e-1), "width": IntLogUniform(8, 256), "act": ["relu", "tanh"]}

    def objective(p, b):
        return (math.log10(p["lr"]) + 2) ** 2 + (math.log2(p["width"]) - 6) ** 2 / 4 + (p["act"] == "tanh")

    result = bayesian_optimization(objective, space, 16, seed=0, progress=False)
    assert all(isinstance(t.params["width"], int) and 8 <= t.params["width"] <= 256 for t in result)
    assert result.best_score < 0.5


def test_bayesian_optimization_n_trials_zero_names_n_trials():
    with pytest.raises(ValueError, match="n_trials must be a positive int"):
        bayesian_optimization(lambda p, b: 0.0, {"x": Uniform(0, 1)}, 0)
