"""Hypothesis strategies shared by the tests (minitorch keeps one such module per concept)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

small_dims = st.integers(1, 4)


def shapes(min_dims: int = 1, max_dims: int = 3) -> st.SearchStrategy[tuple[int, ...]]:
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=4)


@st.composite
def broadcastable_pair(draw: st.DrawFn, min_dims: int = 1,
                       max_dims: int = 3) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Two shapes that broadcast together (either may have fewer dims or size-1 axes)."""
    shapes_ = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=min_dims, max_dims=max_dims,
                                                      min_side=1, max_side=4))
    return shapes_.input_shapes


@st.composite
def arrays(draw: st.DrawFn, shape: tuple[int, ...], low: float = -3.0, high: float = 3.0,
           away_from: tuple[float, ...] = (), margin: float = 0.05, distinct: bool = False,
           non_contiguous: bool | None = None) -> np.ndarray:
    """float64 arrays in [low, high]; optionally away from kinks, all distinct, or as a strided view."""
    elements = st.floats(low, high, allow_nan=False, allow_infinity=False, width=64)
    a = draw(hnp.arrays(np.float64, shape, elements=elements, unique=distinct))
    for k in away_from:
        close = np.abs(a - k) < margin
        a = np.where(close, k + np.where(a >= k, margin, -margin) * 2, a)
    if distinct and a.size > 1:
        # keep gaps between values so that no two are within finite-difference reach
        order = np.argsort(a, axis=None, kind="stable")
        ranks = np.empty(a.size)
        ranks[order] = np.arange(a.size)
        a = (ranks.reshape(shape) - a.size / 2) * (6.0 / max(a.size, 1)) + 0.01
    if non_contiguous is None:
        non_contiguous = draw(st.booleans())
    if non_contiguous and a.ndim >= 1:
        # the same values, seen through a strided view of a bigger buffer
        big = np.zeros(a.shape[:-1] + (a.shape[-1] * 2,))
        big[..., ::2] = a
        a = big[..., ::2]
    return a


@st.composite
def conv_geometry(draw: st.DrawFn, max_side: int = 7, max_stride: tuple[int, int] = (3, 3)) -> dict:
    """A valid 2-D convolution window: kernel, stride, padding, dilation and an input h × w that
    holds at least one window (the padded input is no smaller than the dilated kernel)."""
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = (draw(st.integers(1, max_stride[0])), draw(st.integers(1, max_stride[1])))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    h = draw(st.integers(max(1, dilation[0] * (kh - 1) + 1 - 2 * padding[0]), max_side))
    w = draw(st.integers(max(1, dilation[1] * (kw - 1) + 1 - 2 * padding[1]), max_side))
    return dict(kernel=(kh, kw), stride=stride, padding=padding, dilation=dilation, h=h, w=w)


@st.composite
def conv_cases(draw: st.DrawFn) -> tuple:
    """``(x_shape, w_shape, stride, padding, dilation, has_bias)`` of a small float convolution."""
    g = draw(conv_geometry())
    n, c, o = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return (n, c, g["h"], g["w"]), (o, c, *g["kernel"]), g["stride"], g["padding"], g["dilation"], draw(st.booleans())
