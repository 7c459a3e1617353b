"""im2col and col2im: a convolution as one matrix product.

im2col copies every receptive field of the input into a column of a matrix:

    cols[(c, i, j), (n, oy, ox)] = x[n, c, oy·sh − ph + i·dh, ox·sw − pw + j·dw]   (0 outside)

so that a convolution with weights W of shape (O, C, kh, kw) is one GEMM,
``W.reshape(O, C·kh·kw) @ cols``, giving the output as (O, N·OH·OW). col2im is its
adjoint: it adds every column back onto the input positions it was copied from (where
windows overlap, contributions add up), which is what the input gradient needs.

The column matrix has the batch merged into its columns, so each conv layer is three
large GEMMs (forward, weight gradient, input gradient) rather than one small GEMM per
sample, and it is C-contiguous, which BLAS needs to run at full speed. (The engine feeds
a batch through in chunks of a few MB, so the matrix stays in cache: see
:mod:`minidl.engine.ops.conv`.)

Three versions of each, equal to each other (tests/test_kernels.py):

- ``*_naive``: the textbook fancy-index gather and ``np.add.at`` scatter. Short, and
  slow: ``np.add.at`` handles every element on its own, to get repeated indices right.
- ``*_reference``: one strided slice per kernel offset (i, j), kh·kw array operations in
  all. Written with the ``xp`` idiom, so it is also what runs on CuPy.
- the Numba kernels, run by :func:`im2col` / :func:`col2im` on NumPy arrays of at least
  ``SMALL`` elements: one pass over the data, padding handled by index arithmetic
  instead of a padded copy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minidl.backend import get_array_module
from minidl.kernels import dispatch, jit
from minidl.kernels.window import Window

# Below this many elements in the input the NumPy versions are as fast: no compiling for them.
SMALL = 1 << 16


def _pad(x: Any, win: Window, value: float = 0.0) -> Any:
    """x (N, C, H, W) padded so that every window of ``win`` lies inside it."""
    top, bottom, left, right = win.padded_extent(x.shape[2], x.shape[3])
    if not (top or bottom or left or right):
        return x
    xp = get_array_module(x)
    return xp.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=value)


def window_view(xpad: Any, win: Window, i: int, j: int) -> Any:
    """The (N, C, OH, OW) strided view of a padded array seen by kernel offset (i, j)."""
    r0, c0 = i * win.dh, j * win.dw
    return xpad[:, :, r0:r0 + (win.oh - 1) * win.sh + 1:win.sh, c0:c0 + (win.ow - 1) * win.sw + 1:win.sw]


def _check_cols(cols: Any, n: int, c: int, win: Window) -> None:
    rows, columns = c * win.kh * win.kw, n * win.oh * win.ow
    if cols.shape != (rows, columns):
        raise ValueError(f"col2im: cols must have shape (C·kh·kw, N·OH·OW) = {(rows, columns)} "
                         f"(got {tuple(cols.shape)})")


# -- naive: fancy indexing and np.add.at --------------------------------------------------------


def _gather_indices(c: int, win: Window) -> tuple[Any, Any, Any]:
    """Channel, row and column index arrays of shape (C·kh·kw, OH·OW) into the padded input."""
    ch = np.repeat(np.arange(c), win.kh * win.kw)[:, None]
    i = np.tile(np.repeat(np.arange(win.kh) * win.dh, win.kw), c)[:, None]
    j = np.tile(np.arange(win.kw) * win.dw, win.kh * c)[:, None]
    oy = np.repeat(np.arange(win.oh) * win.sh, win.ow)[None, :]
    ox = np.tile(np.arange(win.ow) * win.sw, win.oh)[None, :]
    return ch, i + oy, j + ox


def im2col_naive(x: np.ndarray, win: Window) -> np.ndarray:
    """im2col by one fancy-index gather (NumPy only).

    ``xpad[:, ch, rows, cols]`` has shape (N, C·kh·kw, OH·OW) but NumPy lays it out with
    the batch axis innermost in memory; it is reordered here into the shared layout.
    """
    n, c = x.shape[:2]
    ch, rows, cols = _gather_indices(c, win)
    gathered = _pad(x, win)[:, ch, rows, cols]  # (N, C·kh·kw, OH·OW), batch innermost
    return np.ascontiguousarray(gathered.transpose(1, 0, 2)).reshape(c * win.kh * win.kw, -1)


def col2im_naive(cols: np.ndarray, x_shape: tuple[int, ...], win: Window) -> np.ndarray:
    """col2im by one ``np.add.at`` scatter-add (NumPy only): exact, and very slow."""
    n, c, h, w = x_shape
    _check_cols(cols, n, c, win)
    top, bottom, left, right = win.padded_extent(h, w)
    dxpad = np.zeros((n, c, h + top + bottom, w + left + right), dtype=cols.dtype)
    ch, rows, columns = _gather_indices(c, win)
    per_sample = cols.reshape(c * win.kh * win.kw, n, -1).transpose(1, 0, 2)
    np.add.at(dxpad, (slice(None), ch, rows, columns), per_sample)
    return np.ascontiguousarray(dxpad[:, :, top:top + h, left:left + w])


# -- reference: one strided slice per kernel offset (xp idiom: NumPy or CuPy) -------------------


def im2col_reference(x: Any, win: Window, out: Any = None) -> Any:
    """im2col with kh·kw strided-slice copies; ``out`` may supply the (C·kh·kw, N·OH·OW) buffer."""
    n, c = x.shape[:2]
    xp = get_array_module(x)
    if out is None:
        out = xp.empty((c * win.kh * win.kw, n * win.oh * win.ow), dtype=x.dtype)
    blocks = out.reshape(c, win.kh, win.kw, n, win.oh, win.ow)
    xpad = _pad(x, win)
    for i in range(win.kh):
        for j in range(win.kw):
            blocks[:, i, j] = window_view(xpad, win, i, j).transpose(1, 0, 2, 3)
    return out


def col2im_reference(cols: Any, x_shape: tuple[int, ...], win: Window, out: Any = None) -> Any:
    """col2im with kh·kw strided-slice additions into a padded gradient; ``out`` may supply the result."""
    n, c, h, w = x_shape
    _check_cols(cols, n, c, win)
    xp = get_array_module(cols)
    top, bottom, left, right = win.padded_extent(h, w)
    dxpad = xp.zeros((c, n, h + top + bottom, w + left + right), dtype=cols.dtype)
    blocks = cols.reshape(c, win.kh, win.kw, n, win.oh, win.ow)
    for i in range(win.kh):
        for j in range(win.kw):
            window_view(dxpad, win, i, j)[...] += blocks[:, i, j]
    dx = dxpad[:, :, top:top + h, left:left + w].transpose(1, 0, 2, 3)
    if out is None:
        return xp.ascontiguousarray(dx)
    out[...] = dx
    return out


# -- Numba ------------------------------------------------------------------------------------


# The kernels copy whole rows through contiguous slices whose indices start at 0: that lets
# the compiler vectorize the copy (an index that might be negative, or a stride only known at
# run time, forces it to handle one element at a time, which was 2x slower than NumPy).


def _im2col_loops(x, cols, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):  # pragma: no cover - compiled
    n_, c_, h, w = x.shape
    for r in range(c_ * kh * kw):
        c = r // (kh * kw)
        i = (r // kw) % kh
        j = r % kw
        # output rows top <= oy < bottom and columns lo <= ox < hi read inside the image
        off_y, off_x = i * dh - ph, j * dw - pw
        top = (-off_y + sh - 1) // sh if off_y < 0 else 0
        bottom = max(min(oh, (h - 1 - off_y) // sh + 1), top)
        lo = (-off_x + sw - 1) // sw if off_x < 0 else 0
        hi = max(min(ow, (w - 1 - off_x) // sw + 1), lo)
        first = lo * sw + off_x  # input column of output column lo
        count = hi - lo
        padded = top > 0 or bottom < oh or lo > 0 or hi < ow
        blocks = cols[r].reshape((n_, oh, ow))
        for n in range(n_):
            block = blocks[n]
            if padded:
                block[:, :] = 0
            plane = x[n, c]
            for oy in range(top, bottom):
                dst = block[oy, lo:hi]
                if sw == 1:
                    src = plane[oy * sh + off_y, first:first + count]
                    for k in range(count):
                        dst[k] = src[k]
                else:
                    src = plane[oy * sh + off_y]
                    for k in range(count):
                        dst[k] = src[first + k * sw]


def _col2im_loops(cols, dx, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow):  # pragma: no cover - compiled
    n_, c_, h, w = dx.shape
    for n in range(n_):
        for c in range(c_):
            plane = dx[n, c]
            for i in range(kh):
                off_y = i * dh - ph
                top = (-off_y + sh - 1) // sh if off_y < 0 else 0
                bottom = max(min(oh, (h - 1 - off_y) // sh + 1), top)
                for j in range(kw):
                    off_x = j * dw - pw
                    lo = (-off_x + sw - 1) // sw if off_x < 0 else 0
                    hi = max(min(ow, (w - 1 - off_x) // sw + 1), lo)
                    first = lo * sw + off_x
                    count = hi - lo
                    block = cols[(c * kh + i) * kw + j].reshape((n_, oh, ow))[n]
                    for oy in range(top, bottom):
                        src = block[oy, lo:hi]
                        if sw == 1:
                            dst = plane[oy * sh + off_y, first:first + count]
                            for k in range(count):
                                dst[k] += src[k]
                        else:
                            dst = plane[oy * sh + off_y]
                            for k in range(count):
                                dst[first + k * sw] += src[k]


# Serial loops that release the GIL: minidl.threads runs one per thread, each on its own part
# of the batch (engine/ops/conv.py). An earlier threaded twin of each (Numba's parallel=True,
# prange over channels or images) was slower in the LeNet step on 2 cores, 117.8 ms against
# 69.8 ms: right after a threaded GEMM its threads fought OpenBLAS's spinning helpers for the
# cores (benchmarks/RESULTS.md, "LeNet training step").
_im2col_kernel = jit(_im2col_loops, nogil=True)
_col2im_kernel = jit(_col2im_loops, nogil=True)


@dispatch(im2col_reference, min_size=SMALL)
def im2col(x: Any, win: Window, out: Any = None) -> Any:
    """The (C·kh·kw, N·OH·OW) column matrix of x (N, C, H, W); ``out`` may supply the buffer."""
    n, c = x.shape[:2]
    if out is None:
        out = np.empty((c * win.kh * win.kw, n * win.oh * win.ow), dtype=x.dtype)
    _im2col_kernel(np.ascontiguousarray(x), out, *win)
    return out


@dispatch(col2im_reference, min_size=SMALL)
def col2im(cols: Any, x_shape: tuple[int, ...], win: Window, out: Any = None) -> Any:
    """The input-shaped array that receives every column of ``cols`` added back (im2col's adjoint).

    ``out`` (C-contiguous, shape ``x_shape``) may supply the result's memory.
    """
    n, c = x_shape[:2]
    _check_cols(cols, n, c, win)
    if out is None:
        out = np.zeros(x_shape, dtype=cols.dtype)
    else:
        out[...] = 0
    _col2im_kernel(np.ascontiguousarray(cols), out, *win)
    return out
