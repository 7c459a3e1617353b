"""One affine resampling routine (bilinear) and the matrices that make flips, shifts, rotations,
zooms and crops out of it.

Every geometric augmentation in minidl is "build a 2×3 matrix per image, resample once":

- :func:`affine_resample` is the only code that moves pixels;
- :func:`affine_matrices` turns (flip, rotation, scale, translation) into the matrices;
- a crop is a pure translation of the sampling grid with a smaller output size.

Coordinates: x is the column, y the row (pointing down), pixel centres at integers,
the centre of an H×W image at c = ((W − 1)/2, (H − 1)/2).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minidl import backend
from minidl.kernels.affine import bilinear_affine


def _compute_dtype(images: Any) -> Any:
    return images.dtype if images.dtype.kind == "f" and images.dtype.itemsize >= 4 else np.dtype("float32")


def as_image_batch(images: Any, name: str = "images") -> tuple[Any, int, int]:
    """Check that ``images`` is a batch of images, (N, H, W) or (N, C, H, W); returns (images, H, W)."""
    if not hasattr(images, "shape") or images.ndim not in (3, 4):
        shape = getattr(images, "shape", type(images).__name__)
        raise ValueError(f"{name} must be a batch of images of shape (N, H, W) or (N, C, H, W) "
                         f"(got {shape}); for flattened rows pass image_shape=(H, W) or (C, H, W)")
    return images, int(images.shape[-2]), int(images.shape[-1])


def affine_resample(images: Any, matrices: Any, out_size: tuple[int, int] | None = None,
                    fill: float = 0.0) -> Any:
    """Resample each image through its own affine map, with bilinear interpolation.

    ``images`` has shape (N, H, W) or (N, C, H, W); ``matrices`` (N, 2, 3) or one (2, 3)
    for all. Matrix A_n maps an *output* pixel (c, r) = (column, row) to the *input*
    point it reads (the inverse map, as in ``torch.nn.functional.affine_grid``):

        (c_in, r_in)ᵀ = A_n · (c, r, 1)ᵀ
        out[n, ..., r, c] = Σ_{i, j ∈ {0, 1}} k_i(r_in) · k_j(c_in) · x[n, ..., ⌊r_in⌋ + i, ⌊c_in⌋ + j]
        k_0(t) = 1 − (t − ⌊t⌋),   k_1(t) = t − ⌊t⌋

    where the image x reads ``fill`` outside its bounds (zero padding by default). Points on
    integer coordinates get weight 1 on one pixel, so identity maps, flips and integer
    shifts copy pixels exactly. ``out_size`` = (H_out, W_out) (default: the input's)
    lets crops produce smaller images. Float images keep their dtype; integer images
    are rounded back to theirs. The work is done by :mod:`minidl.kernels.affine` (a Numba
    kernel for NumPy arrays, its array reference otherwise).
    """
    images, height, width = as_image_batch(images)
    xp = backend.get_array_module(images)
    n = images.shape[0]
    out_h, out_w = (height, width) if out_size is None else (int(out_size[0]), int(out_size[1]))
    if out_h <= 0 or out_w <= 0:
        raise ValueError(f"out_size must be positive (got {out_size})")
    dtype = _compute_dtype(images)
    matrices = xp.asarray(matrices, dtype=dtype)
    if matrices.shape == (2, 3):
        matrices = xp.broadcast_to(matrices, (n, 2, 3))
    if matrices.shape != (n, 2, 3):
        raise ValueError(f"matrices must have shape ({n}, 2, 3) or (2, 3) for {n} images "
                         f"(got {tuple(matrices.shape)})")
    channels = images.shape[1:-2]
    work = images.reshape(n, -1, height, width)
    if work.dtype != dtype:
        work = work.astype(dtype)
    out = bilinear_affine(work, matrices, out_h, out_w, float(fill)).reshape((n, *channels, out_h, out_w))
    if images.dtype.kind in "iub":
        out = xp.rint(out)
        if images.dtype.kind != "b":
            info = np.iinfo(images.dtype)
            out = xp.clip(out, info.min, info.max)
    return out.astype(images.dtype, copy=False)


def affine_matrices(n: int, size: tuple[int, int], angle: Any = 0.0, translate: Any = (0.0, 0.0),
                    scale: Any = 1.0, hflip: Any = False) -> np.ndarray:
    """(n, 2, 3) inverse maps for :func:`affine_resample` from per-image parameters.

    The forward map sends an input point p to p' = c + t + s · R(θ) · F · (p − c): flip
    (F = diag(−1, 1) when ``hflip``), rotate by ``angle`` degrees counter-clockwise as seen
    on screen, scale by ``scale`` (> 1 zooms in), then shift by ``translate`` = (t_x, t_y)
    pixels (right and down), all about the image centre c. The inverse that is returned:

        A = F · R(−θ) / s,   b = c − A · (c + t),   p = A p' + b
        R(θ) = [[cos θ, sin θ], [−sin θ, cos θ]]   (rows and x, y with y pointing down)

    Every parameter is a scalar or one value per image (``translate``: shape (2,) or (n, 2)).
    The matrices are built on the host (float64) and are tiny; the resampling moves them.
    """
    height, width = size
    theta = np.deg2rad(np.broadcast_to(np.asarray(angle, dtype=np.float64), (n,)))  # host: n numbers
    s = np.broadcast_to(np.asarray(scale, dtype=np.float64), (n,))  # host: n numbers
    if (s <= 0).any():
        raise ValueError(f"scale must be > 0 (got {s.min()})")
    t = np.broadcast_to(np.asarray(translate, dtype=np.float64), (n, 2))  # host: n pairs
    flip = np.where(np.broadcast_to(np.asarray(hflip, dtype=bool), (n,)), -1.0, 1.0)  # host: n signs
    cos, sin = np.cos(theta), np.sin(theta)
    a = np.empty((n, 2, 2))  # host: n small matrices
    # F · R(−θ) / s, with R(−θ) = [[cos, −sin], [sin, cos]]
    a[:, 0, 0], a[:, 0, 1] = flip * cos / s, -flip * sin / s
    a[:, 1, 0], a[:, 1, 1] = sin / s, cos / s
    centre = np.array([(width - 1) / 2, (height - 1) / 2])  # host: two numbers
    b = centre - np.einsum("nij,nj->ni", a, centre + t)
    return np.concatenate([a, b[:, :, None]], axis=2)


def affine(images: Any, angle: Any = 0.0, translate: Any = (0.0, 0.0), scale: Any = 1.0,
           hflip: Any = False, fill: float = 0.0) -> Any:
    """Flip, rotate, scale and shift a batch of images in one bilinear resampling.

    Parameters as in :func:`affine_matrices` (scalars for the whole batch, or one per
    image). ``affine(x)`` with the defaults returns ``x`` exactly.
    """
    images, height, width = as_image_batch(images)
    matrices = affine_matrices(images.shape[0], (height, width), angle, translate, scale, hflip)
    return affine_resample(images, matrices, fill=fill)


def hflip(images: Any) -> Any:
    """Mirror each image left to right: out[..., y, x] = in[..., y, W − 1 − x] (exact)."""
    return affine(images, hflip=True)


def rotate(images: Any, angle: Any, fill: float = 0.0) -> Any:
    """Rotate each image by ``angle`` degrees counter-clockwise about its centre (bilinear)."""
    return affine(images, angle=angle, fill=fill)


def crop_matrices(n: int, top: Any, left: Any) -> np.ndarray:
    """Inverse maps that read an output window whose corner is at (``top``, ``left``) of the input.

    Output pixel (x, y) reads input point (x + left, y + top): A = I, b = (left, top).
    Negative offsets reach into the ``fill`` padding.
    """
    m = np.zeros((n, 2, 3))  # host: n small matrices
    m[:, 0, 0] = m[:, 1, 1] = 1.0
    m[:, 0, 2] = np.broadcast_to(np.asarray(left, dtype=np.float64), (n,))  # host
    m[:, 1, 2] = np.broadcast_to(np.asarray(top, dtype=np.float64), (n,))  # host
    return m
