"""Affine resampling and the random augmentations built on it: identities, hand-computed pixels,
invariants (shape, dtype, labels), seeds, and the Numba kernel against its reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minidl.data import DataLoader, load_digits
from minidl.data.transforms import (
    Compose,
    GaussianNoise,
    RandomAffine,
    RandomCrop,
    RandomHorizontalFlip,
    RandomRotation,
    affine,
    affine_matrices,
    affine_resample,
    hflip,
    rotate,
)
from minidl.kernels import set_numba_enabled
from minidl.kernels.affine import bilinear_affine, bilinear_affine_reference

image_batches = st.tuples(st.integers(1, 4), st.sampled_from([(), (1,), (3,)]), st.integers(1, 9),
                          st.integers(1, 9), st.sampled_from(["float32", "float64"]),
                          st.integers(0, 2**32 - 1))


def make_images(spec):
    n, channels, h, w, dtype, seed = spec
    return np.random.default_rng(seed).random((n, *channels, h, w)).astype(dtype)


@settings(deadline=None, max_examples=40)
@given(spec=image_batches)
def test_identities_are_exact(spec):
    x = make_images(spec)
    np.testing.assert_array_equal(affine(x), x)
    np.testing.assert_array_equal(rotate(x, 0.0), x)  # rotation by 0
    np.testing.assert_array_equal(affine(x, scale=1.0), x)  # scale 1
    np.testing.assert_array_equal(hflip(hflip(x)), x)  # flip twice
    np.testing.assert_array_equal(hflip(x), x[..., ::-1])
    np.testing.assert_array_equal(affine(x, translate=(0, 0), angle=[0.0] * len(x)), x)


def test_rotation_direction_and_integer_shifts_by_hand():
    img = np.zeros((1, 5, 5), dtype=np.float32)
    img[0, 2, 4] = 1.0  # right of the centre (2, 2)
    np.testing.assert_allclose(rotate(img, 90)[0], np.rot90(img[0]), atol=1e-6)  # counter-clockwise: above
    assert np.argwhere(rotate(img, 90)[0] > 0.5).tolist() == [[0, 2]]
    assert np.argwhere(rotate(img, -90)[0] > 0.5).tolist() == [[4, 2]]
    shifted = affine(img, translate=(-1, 1))  # one left, one down
    assert np.argwhere(shifted[0] == 1.0).tolist() == [[3, 3]] and shifted.sum() == 1.0
    assert affine(img, translate=(1, 0)).sum() == 0.0  # shifted out of the image, zero fill


def test_half_pixel_shift_averages_neighbours():
    img = np.array([[[0.0, 2.0, 4.0, 6.0]]], dtype=np.float64)
    out = affine(img, translate=(0.5, 0))  # content moves half a pixel right
    np.testing.assert_allclose(out[0, 0], [0.0, 1.0, 3.0, 5.0])  # first reads between fill 0 and 0
    np.testing.assert_allclose(affine(img, translate=(0.5, 0), fill=8.0)[0, 0], [4.0, 1.0, 3.0, 5.0])


def test_zoom_about_the_centre():
    img = np.zeros((1, 5, 5), dtype=np.float32)
    img[0, 2, 3] = 1.0
    zoomed = affine(img, scale=2.0)  # the pixel one right of centre moves two right
    assert np.argmax(zoomed[0]) == np.ravel_multi_index((2, 4), (5, 5))
    far = np.zeros((1, 5, 5), dtype=np.float32)
    far[0, 2, 4] = 1.0
    shrunk = affine(far, scale=0.5)  # two right of centre moves to one right of centre
    assert np.argwhere(shrunk[0] == 1.0).tolist() == [[2, 3]] and shrunk.sum() == 1.0


def test_matrix_from_the_docstring_formula():
    m = affine_matrices(1, (7, 9), angle=30, translate=(1.5, -2), scale=1.25, hflip=True)[0]
    c = np.array([4.0, 3.0])
    theta = np.deg2rad(30)
    rotate_back = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    a = np.diag([-1.0, 1.0]) @ rotate_back / 1.25
    np.testing.assert_allclose(m[:, :2], a)
    np.testing.assert_allclose(m[:, 2], c - a @ (c + [1.5, -2]))
    # the forward map sends p to c + t + s R F (p - c); the inverse must undo it
    p = np.array([2.0, 5.0])
    forward = c + np.array([1.5, -2]) + 1.25 * np.linalg.inv(rotate_back) @ np.diag([-1.0, 1.0]) @ (p - c)
    np.testing.assert_allclose(m[:, :2] @ forward + m[:, 2], p)


@pytest.mark.parametrize("transform", [
    RandomAffine(degrees=20, translate=(0.2, 0.1), scale=(0.8, 1.2), seed=0),
    RandomRotation(15, seed=0),
    RandomHorizontalFlip(seed=0),
    RandomCrop(padding=2, seed=0),
    GaussianNoise(sigma=0.1, seed=0),
    Compose([RandomRotation(10, seed=1), GaussianNoise(0.0, 0.05, seed=2)]),
])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_augmentation_keeps_shape_and_dtype(transform, dtype):
    x = np.random.default_rng(0).random((6, 1, 10, 12)).astype(dtype)
    out = transform(x)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert not np.array_equal(out, x)


def test_integer_images_stay_integer():
    x = (np.random.default_rng(0).random((3, 8, 8)) * 255).astype(np.uint8)
    out = RandomAffine(degrees=30, seed=0)(x)
    assert out.dtype == np.uint8 and out.shape == x.shape
    np.testing.assert_array_equal(affine(x), x)


def test_augmentation_in_a_loader_keeps_labels():
    digits = load_digits("val")
    augment = RandomAffine(degrees=15, translate=(0.125, 0.125), image_shape=(8, 8), seed=0)
    plain = list(DataLoader(digits, 64, shuffle=True, seed=5))
    augmented = list(DataLoader(digits, 64, shuffle=True, seed=5, transform=augment))
    for (x0, y0), (x1, y1) in zip(plain, augmented):
        np.testing.assert_array_equal(y0.numpy(), y1.numpy())
        assert x1.shape == x0.shape and x1.dtype == x0.dtype
    assert any(not np.array_equal(a[0].numpy(), b[0].numpy()) for a, b in zip(plain, augmented))


def test_seeds_reproduce_and_each_call_draws_anew():
    x = np.random.default_rng(0).random((4, 1, 9, 9)).astype(np.float32)
    a, b = RandomAffine(25, (0.1, 0.1), seed=3), RandomAffine(25, (0.1, 0.1), seed=3)
    first = a(x)
    np.testing.assert_array_equal(first, b(x))
    assert not np.array_equal(first, a(x))
    assert not np.array_equal(first[0], first[1])  # every image gets its own parameters


def test_random_crop_windows_come_from_the_padded_image():
    x = np.arange(2 * 6 * 6, dtype=np.float32).reshape(2, 1, 6, 6) + 1
    padded = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    out = RandomCrop(4, padding=2, seed=0)(x)
    assert out.shape == (2, 1, 4, 4)
    for img, big in zip(out, padded):
        windows = [big[0, i:i + 4, j:j + 4] for i in range(7) for j in range(7)]
        assert any(np.array_equal(img[0], w) for w in windows)
    with pytest.raises(ValueError, match="larger than the padded image"):
        RandomCrop(12, padding=2)(x)


def test_flip_probability():
    x = np.random.default_rng(0).random((400, 3, 3)).astype(np.float32)
    flipped = RandomHorizontalFlip(p=0.25, seed=0)(x)
    is_flipped = [np.array_equal(f, i[:, ::-1]) for f, i in zip(flipped, x)]
    assert 0.18 < np.mean(is_flipped) < 0.32
    np.testing.assert_array_equal(RandomHorizontalFlip(p=0.0)(x), x)


def test_gaussian_noise_statistics_and_clip():
    x = np.full((200, 28, 28), 0.5, dtype=np.float32)
    noise = GaussianNoise(sigma=0.1, clip=False, seed=0)(x) - x
    assert abs(noise.mean()) < 2e-3 and abs(noise.std() - 0.1) < 2e-3
    clipped = GaussianNoise(sigma=2.0, seed=0)(x)
    assert clipped.min() == 0.0 and clipped.max() == 1.0
    with pytest.raises(TypeError, match="float array"):
        GaussianNoise()(np.zeros((2, 2), dtype=np.uint8))


def test_flattened_rows_with_image_shape():
    rows = load_digits("val").features[:10]
    out = RandomRotation(20, image_shape=(8, 8), seed=0)(rows)
    assert out.shape == rows.shape and out.dtype == rows.dtype
    with pytest.raises(ValueError, match=r"rows of shape \(N, 49\)"):
        RandomRotation(20, image_shape=(7, 7))(rows)
    with pytest.raises(ValueError, match=r"image_shape=\(H, W\)"):
        RandomRotation(20)(rows)


def test_bad_parameters():
    with pytest.raises(ValueError, match="translate must be fractions"):
        RandomAffine(translate=(1.5, 0))
    with pytest.raises(ValueError, match="scale must be"):
        RandomAffine(scale=(0.0, 1.0))
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        RandomHorizontalFlip(p=2)
    with pytest.raises(ValueError, match="degrees must be >= 0"):
        RandomRotation(-5)
    with pytest.raises(ValueError, match=r"matrices must have shape \(2, 2, 3\)"):
        affine_resample(np.zeros((2, 4, 4)), np.zeros((3, 2, 3)))
    with pytest.raises(ValueError, match="scale must be > 0"):
        affine(np.zeros((1, 4, 4)), scale=0.0)


@settings(deadline=None, max_examples=25)
@given(spec=image_batches, out_h=st.integers(1, 10), out_w=st.integers(1, 10), fill=st.floats(-1, 1),
       seed=st.integers(0, 2**32 - 1))
def test_numba_kernel_equals_the_reference(spec, out_h, out_w, fill, seed):
    x = make_images(spec)
    x = x.reshape(len(x), -1, *x.shape[-2:])
    rng = np.random.default_rng(seed)
    matrices = rng.uniform(-2, 2, (len(x), 2, 3)) * [1, 1, 5]  # reach well outside the image too
    matrices = matrices.astype(x.dtype)
    fast = bilinear_affine(x, matrices, out_h, out_w, fill)
    slow = bilinear_affine_reference(x, matrices, out_h, out_w, fill)
    assert fast.dtype == slow.dtype == x.dtype and fast.shape == slow.shape
    np.testing.assert_allclose(fast, slow, atol=2e-5 if x.dtype == np.float32 else 1e-12)


def test_reference_path_gives_the_same_augmentation():
    x = np.random.default_rng(0).random((5, 1, 12, 12)).astype(np.float32)
    with_kernel = RandomAffine(30, (0.2, 0.2), (0.7, 1.3), seed=9)(x)
    set_numba_enabled(False)
    try:
        without = RandomAffine(30, (0.2, 0.2), (0.7, 1.3), seed=9)(x)
    finally:
        set_numba_enabled(True)
    np.testing.assert_allclose(with_kernel, without, atol=2e-5)
    np.testing.assert_array_equal(hflip(x), x[..., ::-1])
