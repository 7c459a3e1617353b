"""Bilinear affine resampling of image batches: the array reference and the Numba kernel.

Both compute, for every output pixel (x, y) of image n (see
:func:`minidl.data.transforms.affine_resample` for the full statement)::

    (x_in, y_in) = clip(M_n · (x, y, 1)ᵀ, [−1, W] × [−1, H])
    x0, y0 = ⌊x_in⌋, ⌊y_in⌋,   wx, wy = x_in − x0, y_in − y0
    upper = I[y0, x0] + wx · (I[y0, x0 + 1] − I[y0, x0])
    lower = I[y0 + 1, x0] + wx · (I[y0 + 1, x0 + 1] − I[y0 + 1, x0])
    out = upper + wy · (lower − upper)

with I = ``fill`` outside the image. Clipping to one pixel beyond the border changes
nothing inside it and makes a point far outside read only ``fill``. The reference is
array code (any ``xp``); it allocates a dozen batch-sized temporaries, which the kernel
avoids by visiting each output pixel once.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minidl import backend
from minidl.kernels import dispatch, jit


def bilinear_affine_reference(images: Any, matrices: Any, out_h: int, out_w: int, fill: float) -> Any:
    """Reference: ``images`` (N, C, H, W) float, ``matrices`` (N, 2, 3) same dtype → (N, C, out_h, out_w)."""
    xp = backend.get_array_module(images)
    n, c, height, width = images.shape
    dtype = images.dtype
    rows, cols = xp.meshgrid(xp.arange(out_h, dtype=dtype), xp.arange(out_w, dtype=dtype), indexing="ij")
    source = matrices[:, :, :2] @ xp.stack([cols.ravel(), rows.ravel()]) + matrices[:, :, 2:]  # (N, 2, P)
    x_in = xp.clip(source[:, 0], -1, width)
    y_in = xp.clip(source[:, 1], -1, height)
    x0, y0 = xp.floor(x_in), xp.floor(y_in)
    wx, wy = (x_in - x0)[:, None, :], (y_in - y0)[:, None, :]
    # a border of `fill` (1 pixel before, 2 after) makes every neighbour index valid
    padded_w = width + 3
    padded = xp.full((n, c, height + 3, padded_w), fill, dtype=dtype)
    padded[:, :, 1:height + 1, 1:width + 1] = images
    plane = (height + 3) * padded_w
    first = (xp.arange(n * c, dtype=np.int64) * plane).reshape(n, c, 1)
    top_left = first + ((y0.astype(np.int64) + 1) * padded_w + x0.astype(np.int64) + 1)[:, None, :]
    flat = padded.reshape(-1)
    v00, v01 = xp.take(flat, top_left), xp.take(flat, top_left + 1)
    v10, v11 = xp.take(flat, top_left + padded_w), xp.take(flat, top_left + padded_w + 1)
    upper = v00 + wx * (v01 - v00)
    lower = v10 + wx * (v11 - v10)
    return (upper + wy * (lower - upper)).reshape(n, c, out_h, out_w)


@jit
def _bilinear_affine_kernel(images, matrices, out, fill):  # pragma: no cover - compiled by Numba
    n, c, height, width = images.shape
    out_h, out_w = out.shape[2], out.shape[3]
    for i in range(n):
        m00, m01, m02 = np.float64(matrices[i, 0, 0]), np.float64(matrices[i, 0, 1]), np.float64(matrices[i, 0, 2])
        m10, m11, m12 = np.float64(matrices[i, 1, 0]), np.float64(matrices[i, 1, 1]), np.float64(matrices[i, 1, 2])
        for y in range(out_h):
            row_x, row_y = m01 * y + m02, m11 * y + m12  # the part of M·(x, y, 1) fixed along a row
            for x in range(out_w):
                x_in = min(max(m00 * x + row_x, -1.0), np.float64(width))
                y_in = min(max(m10 * x + row_y, -1.0), np.float64(height))
                fx, fy = np.floor(x_in), np.floor(y_in)
                wx, wy = x_in - fx, y_in - fy
                x0, y0 = np.int64(fx), np.int64(fy)
                if x0 >= 0 and x0 + 1 < width and y0 >= 0 and y0 + 1 < height:
                    for ch in range(c):  # the common case: all four neighbours are pixels
                        v00, v01 = images[i, ch, y0, x0], images[i, ch, y0, x0 + 1]
                        v10, v11 = images[i, ch, y0 + 1, x0], images[i, ch, y0 + 1, x0 + 1]
                        upper = v00 + wx * (v01 - v00)
                        lower = v10 + wx * (v11 - v10)
                        out[i, ch, y, x] = upper + wy * (lower - upper)
                    continue
                top, bottom = 0 <= y0 < height, 0 <= y0 + 1 < height
                left, right = 0 <= x0 < width, 0 <= x0 + 1 < width
                for ch in range(c):  # at the border: neighbours outside the image read `fill`
                    v00 = images[i, ch, y0, x0] if top and left else fill
                    v01 = images[i, ch, y0, x0 + 1] if top and right else fill
                    v10 = images[i, ch, y0 + 1, x0] if bottom and left else fill
                    v11 = images[i, ch, y0 + 1, x0 + 1] if bottom and right else fill
                    upper = v00 + wx * (v01 - v00)
                    lower = v10 + wx * (v11 - v10)
                    out[i, ch, y, x] = upper + wy * (lower - upper)


@dispatch(bilinear_affine_reference)
def bilinear_affine(images: Any, matrices: Any, out_h: int, out_w: int, fill: float) -> Any:
    """The Numba path of :func:`bilinear_affine_reference` (NumPy arrays only; same arguments)."""
    n, c = images.shape[:2]
    out = np.empty((n, c, out_h, out_w), dtype=images.dtype)  # host: the kernel's output
    _bilinear_affine_kernel(images, matrices, out, images.dtype.type(fill))
    return out
