"""Standardize, MinMaxScale, OneHot, Compose: the formulas, fit-once semantics, and errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minidl.backend import to_numpy
from minidl.data import DataLoader, load_digits
from minidl.data.transforms import Compose, MinMaxScale, OneHot, Standardize

feature_matrices = st.integers(2, 40).flatmap(lambda n: st.integers(1, 6).flatmap(lambda d: hnp.arrays(
    np.float64, (n, d), elements=st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=32))))


@settings(deadline=None, max_examples=60)
@given(x=feature_matrices, scale=st.floats(1e-3, 1e3), offset=st.floats(-1e3, 1e3))
def test_standardized_training_split_has_mean_0_and_std_1_per_feature(x, scale, offset):
    x = (x * scale + offset).astype(np.float32)
    z = Standardize().fit_transform(x)
    assert z.dtype == np.float32  # float32 in, float32 out (no silent float64)
    z = z.astype(np.float64)
    spread = x.astype(np.float64).std(axis=0)
    varying = spread > 1e-3 * np.abs(x.astype(np.float64)).max(axis=0).clip(1e-30)
    np.testing.assert_allclose(z.mean(axis=0)[varying], 0.0, atol=1e-3)
    np.testing.assert_allclose(z.std(axis=0)[varying], 1.0, rtol=1e-3)


def test_hand_computed_vector_and_constant_feature():
    x = np.array([[1.0, 5.0], [3.0, 5.0]], dtype=np.float32)  # means (2, 5), stds (1, 0)
    scaler = Standardize().fit(x)
    np.testing.assert_array_equal(scaler.mean, [[2.0, 5.0]])
    np.testing.assert_array_equal(scaler.std, [[1.0, 1.0]])  # a constant feature divides by 1
    np.testing.assert_array_equal(scaler(x), [[-1.0, 0.0], [1.0, 0.0]])
    np.testing.assert_array_equal(scaler(np.array([[4.0, 7.0]], dtype=np.float32)), [[2.0, 2.0]])


def test_test_statistics_are_applied_not_refit():
    train, test = load_digits("train"), load_digits("test")
    scaler = Standardize().fit(train.features)
    mean, std = to_numpy(scaler.mean).copy(), to_numpy(scaler.std).copy()
    z_test = to_numpy(scaler(test.features))
    np.testing.assert_array_equal(to_numpy(scaler.mean), mean)  # applying never changes the statistics
    np.testing.assert_array_equal(to_numpy(scaler.std), std)
    np.testing.assert_allclose(z_test, (to_numpy(test.features) - mean) / std, rtol=1e-6)
    assert abs(z_test.mean(axis=0)).max() > 0.05  # test data is not re-centred by its own mean
    with pytest.raises(RuntimeError, match="already fitted .*1078 samples.*refit=True"):
        scaler.fit(test.features)
    scaler.fit(test.features, refit=True)  # said explicitly, it is allowed
    assert scaler.n_samples_seen == len(test)


def test_digits_standardized_through_map_and_a_loader():
    train, val = load_digits("train"), load_digits("val")
    scaler = Standardize().fit(train.features)
    z_train = train.map(scaler)
    assert z_train.features.dtype == np.float32 and z_train.labels is train.labels
    used = to_numpy(train.features).std(axis=0) > 0
    z = to_numpy(z_train.features)
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=0)[used], 1.0, rtol=1e-4)
    x, _ = next(iter(DataLoader(val, len(val), transform=scaler)))
    np.testing.assert_allclose(x.numpy(), to_numpy(val.map(scaler).features))


def test_per_channel_statistics_and_known_statistics():
    rng = np.random.default_rng(0)
    images = rng.normal([1.0, -2.0, 5.0], [0.5, 2.0, 3.0], size=(200, 4, 4, 3)).transpose(0, 3, 1, 2)
    images = images.astype(np.float32)
    scaler = Standardize(dims=(0, 2, 3)).fit(images)
    assert scaler.mean.shape == (1, 3, 1, 1)
    z = scaler(images)
    np.testing.assert_allclose(z.mean(axis=(0, 2, 3)), 0.0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=(0, 2, 3)), 1.0, rtol=1e-4)
    mnist_like = Standardize(mean=0.1307, std=0.3081)  # torchvision's Normalize, no fitting
    np.testing.assert_allclose(mnist_like(np.full((2, 784), 0.1307, dtype=np.float32)), 0.0, atol=1e-7)
    per_channel = Standardize(mean=[[[1.0]], [[-2.0]], [[5.0]]], std=[[[0.5]], [[2.0]], [[3.0]]])
    assert abs(per_channel(images).mean(axis=(0, 2, 3))).max() < 0.2


def test_inverse_and_state_dict_roundtrip():
    x = load_digits("val").features
    scaler = Standardize().fit(x)
    np.testing.assert_allclose(to_numpy(scaler.inverse(scaler(x))), to_numpy(x), atol=1e-6)
    restored = Standardize()
    restored.load_state_dict(scaler.state_dict())
    np.testing.assert_array_equal(to_numpy(restored(x)), to_numpy(scaler(x)))


def test_scaler_errors():
    with pytest.raises(RuntimeError, match="not fitted: call fit"):
        Standardize()(np.ones((2, 3), dtype=np.float32))
    scaler = Standardize().fit(np.ones((4, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"samples of shape \(3\) .* shape \(2, 5\)"):
        scaler(np.ones((2, 5), dtype=np.float32))
    with pytest.raises(ValueError, match="std must be > 0"):
        Standardize(mean=0.0, std=0.0)
    with pytest.raises(ValueError, match="both mean and std"):
        Standardize(mean=0.5)
    with pytest.raises(ValueError, match="sample axis 0"):
        Standardize(dims=1).fit(np.ones((2, 3)))
    with pytest.raises(ValueError, match="empty"):
        Standardize().fit(np.ones((0, 3)))
    with pytest.raises(ValueError, match="low < high"):
        MinMaxScale((1.0, 0.0))


@settings(deadline=None, max_examples=40)
@given(x=feature_matrices, low=st.floats(-5, 5), width=st.floats(0.1, 10))
def test_min_max_maps_the_training_range_onto_the_target_range(x, low, width):
    x = x.astype(np.float32)
    scaler = MinMaxScale((low, low + width)).fit(x)
    y = scaler(x).astype(np.float64)
    tol = 1e-4 * max(width, 1.0)
    assert y.min() >= low - tol and y.max() <= low + width + tol
    varying = x.max(axis=0) > x.min(axis=0)
    np.testing.assert_allclose(y.min(axis=0), low, atol=tol)
    np.testing.assert_allclose(y.max(axis=0)[varying], low + width, atol=tol)


def test_min_max_hand_vector():
    scaler = MinMaxScale((-1.0, 1.0)).fit(np.array([[0.0, 3.0], [10.0, 3.0]], dtype=np.float32))
    np.testing.assert_allclose(scaler(np.array([[5.0, 3.0], [20.0, 3.0]], dtype=np.float32)),
                               [[0.0, -1.0], [3.0, -1.0]])  # no clipping outside the training range


def test_min_max_with_a_tiny_span_still_reaches_the_top_of_the_range():
    # a span of one subnormal float32 step: a float32 scale span / (b − a) would round to
    # 1e-45 and send the maximum to 2.0 instead of 1.5 (found by the property test above)
    x = np.array([[2.8e-45], [0.0]], dtype=np.float32)
    scaler = MinMaxScale((0.0, 1.5)).fit(x)
    np.testing.assert_array_equal(scaler(x), [[1.5], [0.0]])
    np.testing.assert_array_equal(scaler.inverse(scaler(x)), x)
    restored = MinMaxScale()
    restored.load_state_dict(scaler.state_dict())
    np.testing.assert_array_equal(restored(x), scaler(x))


def test_one_hot_and_compose():
    onehot = OneHot(4)
    out = onehot(np.array([2, 0, 3]))
    np.testing.assert_array_equal(out, [[0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 0, 1]])
    assert out.dtype == np.float32
    with pytest.raises(IndexError, match=r"\[0, 3\]"):
        onehot(np.array([4]))
    with pytest.raises(ValueError, match="num_classes"):
        OneHot(0)
    pipeline = Compose([lambda x: x + 1, lambda x: x * 10])
    assert pipeline(np.array([1.0]))[0] == 20.0  # in order: (1 + 1) * 10
    with pytest.raises(TypeError, match=r"transforms\[1\] is not callable"):
        Compose([abs, 3])
    x, y = next(iter(DataLoader(load_digits("val"), 8, transform=OneHot(10))))
    assert y.shape == (8, 10) and float(y.data.sum()) == 8.0 and x.shape == (8, 64)
    both = Compose([lambda x: x * 0, OneHot(10)])
    x, y = next(iter(DataLoader(load_digits("val"), 8, transform=both)))
    assert float(abs(x.data).sum()) == 0.0 and y.shape == (8, 10)


@pytest.mark.parametrize("scaler", [Standardize, MinMaxScale])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_fitting_on_nan_names_the_column(scaler, bad):
    x = np.arange(40, dtype=np.float32).reshape(10, 4)
    x[3, 2] = x[7, 2] = bad
    with pytest.raises(ValueError, match="feature 2") as info:
        scaler().fit(x)
    assert "2 of 10 samples" in str(info.value) and "[3, 7]" in str(info.value)
    images = np.zeros((5, 1, 3, 3), dtype=np.float32)
    images[4, 0, 1, 2] = np.nan
    with pytest.raises(ValueError, match=r"feature \(0, 1, 2\)"):
        scaler(dims=(0, 2, 3)).fit(images)
    unfitted = scaler()
    with pytest.raises(ValueError):
        unfitted.fit(x)
    assert not unfitted.fitted  # nothing was stored
