"""The least-squares Hessian and its condition number, and what standardization does to it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl
from minidl.data import condition_number, hessian_eigenvalues, mse_hessian
from minidl.data.transforms import Standardize
from minidl.nn.functional import mse_loss


def test_hand_computed_hessian_and_kappa():
    x = np.array([[1.0, 0.0], [0.0, 2.0]], dtype=np.float32)
    np.testing.assert_allclose(mse_hessian(x), [[1.0, 0.0], [0.0, 4.0]])  # (2/N) XᵀX with N = 2
    assert hessian_eigenvalues(x) == pytest.approx([1.0, 4.0])
    assert condition_number(x) == pytest.approx(4.0)
    assert math.isinf(condition_number(np.array([[1.0, 0.0], [2.0, 0.0]])))  # a dead feature
    with pytest.raises(ValueError, match=r"\(N, d\)"):
        condition_number(np.ones(3))


def test_hessian_matches_autograd_of_mse_loss():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3))
    y = rng.normal(size=(20, 1))
    w = minidl.tensor(rng.normal(size=(3, 1)), requires_grad=True)
    (g,) = minidl.grad(mse_loss(minidl.tensor(x) @ w, minidl.tensor(y)), [w], create_graph=True)
    rows = [minidl.grad(g[i, 0], [w], retain_graph=True)[0].numpy()[:, 0] for i in range(3)]
    np.testing.assert_allclose(np.stack(rows), mse_hessian(x), rtol=1e-10)


@settings(deadline=None, max_examples=30)
@given(scales=st.lists(st.floats(1e-2, 1e2), min_size=2, max_size=4), seed=st.integers(0, 1000))
def test_kappa_ignores_overall_scale_and_standardizing_removes_feature_scales(scales, seed):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(400, len(scales)))
    x = z * np.array(scales) + 3.0 * np.array(scales)  # different scales, means far from zero
    assert condition_number(7.0 * x) == pytest.approx(condition_number(x), rel=1e-6)
    standardized = Standardize().fit_transform(x)
    # what is left is the sample correlation, close to the identity for independent features
    assert condition_number(standardized) < 1.6
    assert condition_number(standardized) <= condition_number(x) * (1 + 1e-9)
