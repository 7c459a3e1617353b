"""Pooling on (N, C, H, W) arrays: max-pool forward and backward, average-pool sums.

Max-pool records, for every output, *which* element of its window won: ``arg`` holds the
offset i·kw + j of the winner inside the window (−1 for a window that, through dilation and
padding, holds no input element at all: its output is −∞, as in PyTorch). The backward pass
sends each output's gradient to that one element, so it needs only ``arg``, not the input.
As in PyTorch, the first maximum in row-major window order wins, a NaN always wins (so
NaNs propagate), and padding is −∞ (it never wins against a real value).

The reference versions look at the padded input through kh·kw strided views, one per
window offset, and combine them with whole-array operations (written with ``xp``, so they
also run on CuPy). The Numba kernels walk each window once, without a padded copy; they
release the GIL, and the dispatchers give each of minidl's threads its own images
(:func:`minidl.threads.parallel_range`), so a batch is pooled on every core.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minidl.backend import get_array_module
from minidl.kernels import conv as _conv
from minidl.kernels import dispatch, jit
from minidl.kernels.conv import _pad, window_view
from minidl.kernels.window import Window
from minidl.threads import parallel_range

ARG_DTYPE = np.int16  # window offsets up to 32767: kernels up to 181×181


def first_valid(size: int, kernel: int, stride: int, pad: int, dilation: int, out: int,
                xp: Any) -> tuple[Any, Any]:
    """Per output index along one axis: the first kernel offset that lands on or after the
    input's start, and whether that offset is inside the kernel and the input at all."""
    start = xp.arange(out) * stride - pad
    first = xp.where(start >= 0, 0, (-start + dilation - 1) // dilation)  # smallest i: start + i·d >= 0
    return first, (first < kernel) & (start + first * dilation < size)


def max_pool_naive(x: np.ndarray, k: int) -> np.ndarray:
    """Max over non-overlapping k×k windows by a reshape, values only (the first idea most
    people have). Short, but NumPy reduces the two small window axes slowly."""
    n, c, h, w = x.shape
    oh, ow = h // k, w // k
    return x[:, :, :oh * k, :ow * k].reshape(n, c, oh, k, ow, k).max(axis=(3, 5))


def max_pool_forward_reference(x: Any, win: Window) -> tuple[Any, Any]:
    """(y, arg): window maxima and the offset i·kw + j of each winner."""
    xp = get_array_module(x)
    xpad = _pad(x, win, value=-np.inf)
    best = xp.full((x.shape[0], x.shape[1], win.oh, win.ow), -np.inf, dtype=x.dtype)
    # Before any comparison the winner is the window's first input element; a window that
    # holds only padding (possible with dilation) has none: arg −1, its gradient goes nowhere.
    i0, rows_ok = first_valid(x.shape[2], win.kh, win.sh, win.ph, win.dh, win.oh, xp)
    j0, cols_ok = first_valid(x.shape[3], win.kw, win.sw, win.pw, win.dw, win.ow, xp)
    start = xp.where(rows_ok[:, None] & cols_ok[None, :], i0[:, None] * win.kw + j0[None, :], -1)
    arg = xp.broadcast_to(start.astype(ARG_DTYPE), best.shape).copy()
    for i in range(win.kh):
        for j in range(win.kw):
            v = window_view(xpad, win, i, j)
            take = (v > best) | xp.isnan(v)
            xp.copyto(best, v, where=take)
            arg[take] = i * win.kw + j
    return best, arg


def max_pool_backward_reference(gy: Any, arg: Any, x_shape: tuple[int, ...], win: Window) -> Any:
    """dx: each output gradient added at its window's winner (overlapping windows add up)."""
    xp = get_array_module(gy)
    n, c, h, w = x_shape
    top, bottom, left, right = win.padded_extent(h, w)
    dxpad = xp.zeros((n, c, h + top + bottom, w + left + right), dtype=gy.dtype)
    for i in range(win.kh):
        for j in range(win.kw):
            view = window_view(dxpad, win, i, j)
            view += xp.where(arg == i * win.kw + j, gy, 0)
    return xp.ascontiguousarray(dxpad[:, :, top:top + h, left:left + w])


def max_pool_gather(x: Any, arg: Any, win: Window) -> Any:
    """y[n, c, oy, ox] = x at the window position ``arg`` names (the adjoint of the backward).

    Only second derivatives use it, so it has no kernel.
    """
    xp = get_array_module(x)
    xpad = _pad(x, win)
    out = xp.zeros(arg.shape, dtype=x.dtype)
    for i in range(win.kh):
        for j in range(win.kw):
            out += xp.where(arg == i * win.kw + j, window_view(xpad, win, i, j), 0)
    return out


def _max_pool_forward_loops(x, y, arg, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):  # pragma: no cover
    n_, c_, h, w = x.shape
    for p in range(n_ * c_):
        n = p // c_
        c = p % c_
        plane = x[n, c]
        for oy in range(oh):
            for ox in range(ow):
                best = -np.inf
                k_best = -1
                for i in range(kh):
                    iy = oy * sh - ph + i * dh
                    if iy < 0 or iy >= h:
                        continue
                    for j in range(kw):
                        ix = ox * sw - pw + j * dw
                        if ix < 0 or ix >= w:
                            continue
                        v = plane[iy, ix]
                        if k_best < 0 or v > best or v != v:
                            best = v
                            k_best = i * kw + j
                y[n, c, oy, ox] = best
                arg[n, c, oy, ox] = k_best


# Kept apart from _max_pool_forward_loops on purpose (hot path): fixed 2×2 sizes let the compiler
# unroll the window loops; sharing the general loop would lose that.
def _max_pool_2x2_loops(x, y, arg):  # pragma: no cover - compiled
    # The most common pooling (2×2, stride 2, no padding) with its sizes known to the
    # compiler: the window loops unroll and vectorize, 5x faster than the general kernel.
    n_, c_ = x.shape[:2]
    oh, ow = y.shape[2], y.shape[3]
    for p in range(n_ * c_):
        n = p // c_
        c = p % c_
        plane = x[n, c]
        for oy in range(oh):
            for ox in range(ow):
                best = plane[2 * oy, 2 * ox]
                k_best = 0
                for i in range(2):
                    for j in range(2):
                        v = plane[2 * oy + i, 2 * ox + j]
                        if v > best or v != v:
                            best = v
                            k_best = 2 * i + j
                y[n, c, oy, ox] = best
                arg[n, c, oy, ox] = k_best


def _max_pool_backward_loops(gy, arg, dx, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):  # pragma: no cover
    n_, c_ = dx.shape[:2]
    for p in range(n_ * c_):
        n = p // c_
        c = p % c_
        for oy in range(oh):
            for ox in range(ow):
                k = arg[n, c, oy, ox]
                if k < 0:  # a window of padding only
                    continue
                dx[n, c, oy * sh - ph + (k // kw) * dh, ox * sw - pw + (k % kw) * dw] += gy[n, c, oy, ox]


def _max_pool_2x2_backward_loops(gy, arg, dx):  # pragma: no cover - compiled
    # 2×2 windows tile the image without overlap: every input element is written exactly
    # once (its gradient or 0), so dx needs no zero-fill first — one pass instead of two.
    n_, c_, h, w = dx.shape
    oh, ow = gy.shape[2], gy.shape[3]
    for p in range(n_ * c_):
        n = p // c_
        c = p % c_
        plane = dx[n, c]
        for oy in range(oh):
            for ox in range(ow):
                k = arg[n, c, oy, ox]
                g = gy[n, c, oy, ox]
                for i in range(2):
                    for j in range(2):
                        plane[2 * oy + i, 2 * ox + j] = g if 2 * i + j == k else 0
        for iy in range(2 * oh, h):  # an odd last row or column belongs to no window
            plane[iy, :] = 0
        for iy in range(2 * oh):
            for ix in range(2 * ow, w):
                plane[iy, ix] = 0


# Serial loops that release the GIL: the dispatchers below run one per thread (minidl.threads),
# each on its own images.
_max_pool_forward_kernel = jit(_max_pool_forward_loops, nogil=True)
_max_pool_2x2_kernel = jit(_max_pool_2x2_loops, nogil=True)
_max_pool_backward_kernel = jit(_max_pool_backward_loops, nogil=True)
_max_pool_2x2_backward_kernel = jit(_max_pool_2x2_backward_loops, nogil=True)


def _batch_grain(x: Any) -> int:
    """The fewest images worth a thread of their own: about ``SMALL`` elements."""
    return max(1, _conv.SMALL // max(x[0].size, 1))


def _is_2x2(win: Window, h: int, w: int) -> bool:
    """2×2 windows, stride 2, no padding or dilation, all inside the image: the fast paths' case."""
    return win[:8] == (2, 2, 2, 2, 0, 0, 1, 1) and 2 * win.oh <= h and 2 * win.ow <= w


@dispatch(max_pool_forward_reference, min_size=_conv.SMALL)
def max_pool_forward(x: Any, win: Window) -> tuple[Any, Any]:
    """(y, arg) for x (N, C, H, W): the maximum of each window and where in the window it is."""
    n, c = x.shape[:2]
    y = np.empty((n, c, win.oh, win.ow), dtype=x.dtype)
    arg = np.empty((n, c, win.oh, win.ow), dtype=ARG_DTYPE)
    x = np.ascontiguousarray(x)
    two = _is_2x2(win, x.shape[2], x.shape[3])

    def part(a: int, b: int) -> None:  # images a..b-1
        if two:
            _max_pool_2x2_kernel(x[a:b], y[a:b], arg[a:b])
        else:
            _max_pool_forward_kernel(x[a:b], y[a:b], arg[a:b], *win)

    parallel_range(part, n, grain=_batch_grain(x))
    return y, arg


@dispatch(max_pool_backward_reference, min_size=_conv.SMALL)
def max_pool_backward(gy: Any, arg: Any, x_shape: tuple[int, ...], win: Window) -> Any:
    """dx (shape ``x_shape``): every output gradient added at the position its window's maximum came from."""
    gy, arg = np.ascontiguousarray(gy), np.ascontiguousarray(arg)
    two = _is_2x2(win, x_shape[2], x_shape[3])
    dx = np.empty(x_shape, dtype=gy.dtype) if two else np.zeros(x_shape, dtype=gy.dtype)

    def part(a: int, b: int) -> None:  # images a..b-1: their gradients never overlap
        if two:
            _max_pool_2x2_backward_kernel(gy[a:b], arg[a:b], dx[a:b])
        else:
            _max_pool_backward_kernel(gy[a:b], arg[a:b], dx[a:b], *win)

    parallel_range(part, x_shape[0], grain=_batch_grain(dx))
    return dx


# -- average pooling: sums of strided views (NumPy's whole-array ops are already fast here) ------


def avg_pool_divisor(h: int, w: int, win: Window, count_include_pad: bool, xp: Any, dtype: Any) -> Any:
    """How many elements each window averages over, as an (OH, OW) array (PyTorch's rule).

    With ``count_include_pad`` a window counts its padding but not the part that runs past
    the padding (``ceil_mode``); without it, only the input elements it covers.
    """
    def counts(size: int, k: int, s: int, p: int, out: int) -> Any:
        start = xp.arange(out) * s - p
        end = xp.minimum(start + k, size + p)
        if count_include_pad:
            return end - start
        return xp.minimum(end, size) - xp.maximum(start, 0)

    rows = counts(h, win.kh, win.sh, win.ph, win.oh)
    cols = counts(w, win.kw, win.sw, win.pw, win.ow)
    return (rows[:, None] * cols[None, :]).astype(dtype)


def window_sum(x: Any, win: Window) -> Any:
    """Σ of each window of x (N, C, H, W), padding counted as 0."""
    xp = get_array_module(x)
    xpad = _pad(x, win)
    out = xp.zeros((x.shape[0], x.shape[1], win.oh, win.ow), dtype=x.dtype)
    for i in range(win.kh):
        for j in range(win.kw):
            out += window_view(xpad, win, i, j)
    return out


def window_spread(g: Any, x_shape: tuple[int, ...], win: Window) -> Any:
    """The adjoint of :func:`window_sum`: each g added onto every input element of its window."""
    xp = get_array_module(g)
    n, c, h, w = x_shape
    top, bottom, left, right = win.padded_extent(h, w)
    dxpad = xp.zeros((n, c, h + top + bottom, w + left + right), dtype=g.dtype)
    for i in range(win.kh):
        for j in range(win.kw):
            window_view(dxpad, win, i, j)[...] += g
    return xp.ascontiguousarray(dxpad[:, :, top:top + h, left:left + w])
