"""Every Numba kernel equals its NumPy reference (and the naive versions), over random geometries;
``dispatch`` sends anything that is not a plain NumPy array to the reference; the workspace
never hands out an array someone else holds."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minidl.kernels import activation, conv, pool, set_numba_enabled
from minidl.kernels.window import Window, output_size
from minidl.kernels.workspace import MIN_BYTES, Workspace
from minidl.threads import num_threads
from tests.kernel_spy import count_calls

SETTINGS = settings(max_examples=25, deadline=None)
pytestmark = pytest.mark.numpy_only  # kernels against their references, on NumPy arrays


@st.composite
def windows(draw, pooling: bool = False):
    """An input shape and a Window over it (pooling: padding at most half the kernel, maybe ceil_mode)."""
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    if pooling:
        ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    else:
        ph, pw = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    h = draw(st.integers(max(1, dh * (kh - 1) + 1 - 2 * ph), 9))
    w = draw(st.integers(max(1, dw * (kw - 1) + 1 - 2 * pw), 9))
    ceil = pooling and draw(st.booleans())
    oh, ow = output_size(h, kh, sh, ph, dh, ceil), output_size(w, kw, sw, pw, dw, ceil)
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), h, w)
    return shape, Window(kh, kw, sh, sw, ph, pw, dh, dw, oh, ow)


@SETTINGS
@given(case=windows(), seed=st.integers(0, 2**16))
def test_im2col_kernel_equals_references(case, seed):
    shape, win = case
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    expected = conv.im2col_reference(x, win)
    assert expected.shape == (shape[1] * win.kh * win.kw, shape[0] * win.oh * win.ow)
    np.testing.assert_array_equal(conv.im2col_naive(x, win), expected)
    np.testing.assert_array_equal(conv.im2col.fast(x, win), expected)


@SETTINGS
@given(case=windows(), seed=st.integers(0, 2**16))
def test_col2im_kernel_equals_references_and_is_the_adjoint(case, seed):
    shape, win = case
    rng = np.random.default_rng(seed)
    cols = rng.standard_normal((shape[1] * win.kh * win.kw, shape[0] * win.oh * win.ow)).astype(np.float32)
    expected = conv.col2im_reference(cols, shape, win)
    np.testing.assert_allclose(conv.col2im_naive(cols, shape, win), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(conv.col2im.fast(cols, shape, win), expected, rtol=1e-6, atol=1e-6)
    # ⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩: col2im is im2col's transpose
    x = rng.standard_normal(shape)
    lhs = (conv.im2col.fast(x, win) * cols).sum()
    rhs = (x * conv.col2im.fast(cols.astype(np.float64), shape, win)).sum()
    np.testing.assert_allclose(lhs, rhs, rtol=1e-9)


def test_kernels_write_into_given_buffers():
    shape, win = (2, 3, 6, 5), Window(3, 2, 1, 2, 1, 0, 1, 1, 6, 2)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    out = np.full((3 * 3 * 2, 2 * 6 * 2), np.nan, dtype=np.float32)
    assert conv.im2col.fast(x, win, out=out) is out
    np.testing.assert_array_equal(out, conv.im2col_reference(x, win))
    dx = np.full(shape, np.nan, dtype=np.float32)
    assert conv.col2im.fast(out, shape, win, out=dx) is dx
    np.testing.assert_allclose(dx, conv.col2im_reference(out, shape, win), rtol=1e-6)


@SETTINGS
@given(case=windows(pooling=True), seed=st.integers(0, 2**16), ties=st.booleans())
def test_max_pool_kernels_equal_references(case, seed, ties):
    shape, win = case
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, shape) if ties else rng.standard_normal(shape)  # small ints: many ties
    x = x.astype(np.float32)
    y_ref, arg_ref = pool.max_pool_forward_reference(x, win)
    y, arg = pool.max_pool_forward.fast(x, win)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(arg, arg_ref)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    np.testing.assert_allclose(pool.max_pool_backward.fast(gy, arg, shape, win),
                               pool.max_pool_backward_reference(gy, arg, shape, win), rtol=1e-6, atol=1e-6)


def test_max_pool_2x2_fast_paths_nan_infinities_and_odd_sizes():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 7, 6)).astype(np.float32)
    x[0, 0, 0, :2] = np.nan
    x[0, 1, 2:4, 2:4] = -np.inf
    x[1, 2, :2, :2] = [[1.0, 1.0], [1.0, 1.0]]
    win = Window(2, 2, 2, 2, 0, 0, 1, 1, 3, 3)  # 7×6 input: the last row belongs to no window
    for got, want in zip(pool.max_pool_forward.fast(x, win), pool.max_pool_forward_reference(x, win)):
        np.testing.assert_array_equal(got, want)
    _, arg = pool.max_pool_forward_reference(x, win)
    gy = rng.standard_normal(arg.shape).astype(np.float32)
    np.testing.assert_array_equal(pool.max_pool_backward.fast(gy, arg, x.shape, win),  # the 2×2 backward
                                  pool.max_pool_backward_reference(gy, arg, x.shape, win))


@given(shape=st.sampled_from([(5,), (2, 3, 4, 5), (8, 32, 33)]), seed=st.integers(0, 2**16))
@settings(max_examples=10, deadline=None)
def test_relu_backward_kernel_equals_reference(shape, seed):
    rng = np.random.default_rng(seed)
    gy, x = (rng.standard_normal(shape).astype(np.float32) for _ in range(2))
    x.reshape(-1)[0] = 0.0  # the gradient at 0 is 0, as PyTorch
    expected = activation.relu_backward_reference(gy, x)
    np.testing.assert_array_equal(activation.relu_backward.fast(gy, x), expected)
    strided = x[..., ::-1]  # a non-contiguous view takes the reference path and is still right
    np.testing.assert_array_equal(activation.relu_backward.fast(gy, strided), gy * (strided > 0))


class StandIn(np.ndarray):
    """An array type that is not a plain NumPy array (as a CuPy array would be)."""


def test_dispatch_sends_other_arrays_and_disabled_kernels_to_the_reference(monkeypatch):
    def fail(*args):
        raise AssertionError("the Numba kernel ran")

    monkeypatch.setattr(conv, "_im2col_kernel", fail)
    x = np.random.default_rng(0).standard_normal((1, 1, 260, 260))  # big enough for the kernel
    win = Window(2, 2, 4, 4, 0, 0, 1, 1, 65, 65)
    expected = conv.im2col_reference(x, win)
    np.testing.assert_array_equal(conv.im2col(x.view(StandIn), win), expected)
    set_numba_enabled(False)
    try:
        np.testing.assert_array_equal(conv.im2col(x, win), expected)
    finally:
        set_numba_enabled(True)
    with pytest.raises(AssertionError, match="the Numba kernel ran"):
        conv.im2col(x, win)
    small, small_win = x[:, :, :8, :8], win._replace(oh=2, ow=2)  # below SMALL: the reference runs
    np.testing.assert_array_equal(conv.im2col(small, small_win), conv.im2col_reference(small, small_win))


def test_workspace_reuses_only_large_unshared_arrays():
    ws = Workspace()
    big = (MIN_BYTES // 4 + 1,)
    a = ws.take(big, np.float32, np.empty(1))
    ws.give(a)
    assert ws.idle_bytes == a.nbytes
    assert ws.take(big, np.float32, np.empty(1)) is a
    assert ws.idle_bytes == 0
    keeper = [a]  # someone else still holds it: it must not be handed out again
    ws.give(a)
    assert ws.idle_bytes == 0 and keeper
    small = ws.take((10,), np.float32, np.empty(1))
    ws.give(small)
    assert ws.idle_bytes == 0
    view = np.empty(big, np.float32)[1:]
    ws.give(view)
    assert ws.idle_bytes == 0
    other = ws.take(big, np.float32, np.empty(1).view(StandIn))
    assert type(other) is np.ndarray  # a non-NumPy "like" gets a fresh array of its module
    ws.give(ws.take(big, np.float32, np.empty(1)))
    ws.clear()
    assert ws.idle_bytes == 0


@given(size=st.integers(1, 12), k=st.integers(1, 4), s=st.integers(1, 3), p=st.integers(0, 2),
       d=st.integers(1, 2), ceil=st.booleans())
@settings(max_examples=60, deadline=None)
def test_output_size_counts_the_windows(size, k, s, p, d, ceil):
    """Floor mode: windows that fit in the padded input. Ceil mode: windows that start inside
    the input or its left padding (PyTorch's rule; pooling keeps padding <= kernel / 2)."""
    if ceil:
        p = min(p, k // 2)
    span = d * (k - 1) + 1
    starts = range(-p, size + p + s, s)  # where windows could begin
    if size + 2 * p < span:
        expected = 0
    elif ceil:  # the last window may run past the padding by up to s − 1
        expected = len([b for b in starts if b <= size + p - span + s - 1 and b < size])
    else:
        expected = len([b for b in starts if b + span <= size + p])
    assert output_size(size, k, s, p, d, ceil) == expected


# ---------------------------------------------------------------------------------------------
# Each kernel runs when dispatch should pick it. A comparison of ``dispatcher(args)`` with the
# reference proves nothing if dispatch sent ``args`` to the reference; these count the calls of
# the compiled loops (tests/kernel_spy.py) for the arguments the library itself passes.


def _pool_loops(kind: str) -> tuple[str]:
    return (f"_max_pool_{kind}_kernel",)


@pytest.mark.parametrize("win, kind", [
    (Window(2, 2, 2, 2, 0, 0, 1, 1, 32, 32), "2x2"),
    (Window(3, 3, 1, 1, 1, 1, 1, 1, 64, 64), "forward"),
], ids=["2x2_fast_path", "general_window"])
def test_max_pool_dispatch_runs_the_kernels_above_small(monkeypatch, win, kind):
    x = np.random.default_rng(0).standard_normal((2, 8, 64, 64)).astype(np.float32)  # 65536 ≥ SMALL
    assert x.size >= conv.SMALL
    backward = "2x2_backward" if kind == "2x2" else "backward"
    calls = count_calls(monkeypatch, pool, *_pool_loops(kind), *_pool_loops(backward))
    y, arg = pool.max_pool_forward(x, win)
    assert sum(calls[n] for n in _pool_loops(kind)) == 1, "the forward kernel did not run"
    y_ref, arg_ref = pool.max_pool_forward_reference(x, win)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(arg, arg_ref)
    gy = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
    dx = pool.max_pool_backward(gy, arg, x.shape, win)
    if gy.size >= conv.SMALL:
        assert sum(calls[n] for n in _pool_loops(backward)) == 1, "the backward kernel did not run"
    else:  # below SMALL the reference runs by design
        assert sum(calls[n] for n in _pool_loops(backward)) == 0
    np.testing.assert_allclose(dx, pool.max_pool_backward_reference(gy, arg, x.shape, win), rtol=1e-6, atol=1e-6)
    small = x[:, :, :8, :8]  # below SMALL: the reference, by design
    pool.max_pool_forward(small, Window(2, 2, 2, 2, 0, 0, 1, 1, 4, 4))
    assert sum(calls[n] for n in _pool_loops(kind)) == 1


def test_relu_backward_dispatch_runs_the_kernel_for_large_contiguous_arrays(monkeypatch):
    calls = count_calls(monkeypatch, activation, "_relu_backward_kernel")
    rng = np.random.default_rng(2)
    gy, x = (rng.standard_normal((256, 300)).astype(np.float32) for _ in range(2))
    x[0, :4] = [0.0, -0.0, 1e-45, -1e-45]  # 0 and ±0 get gradient 0, the smallest positive 1
    got = activation.relu_backward(gy, x)
    assert calls["_relu_backward_kernel"] == 1, "the Numba kernel did not run"
    np.testing.assert_array_equal(got, activation.relu_backward_reference(gy, x))
    assert got[0, :4].tolist() == [0.0, 0.0, float(gy[0, 2]), 0.0]
    activation.relu_backward(gy[:, ::2], x[:, ::2])  # strided: the reference, by design
    activation.relu_backward(gy[:10], x[:10])        # below SMALL: the reference, by design
    assert calls["_relu_backward_kernel"] == 1


def test_bilinear_affine_dispatch_runs_the_kernel(monkeypatch):
    from minidl.kernels import affine

    calls = count_calls(monkeypatch, affine, "_bilinear_affine_kernel")
    rng = np.random.default_rng(3)
    images = rng.random((4, 2, 12, 12)).astype(np.float32)
    matrices = np.tile(np.float32([[1, 0, 0], [0, 1, 0]]), (4, 1, 1))  # the identity
    matrices[1] = [[0.8, -0.3, 2.0], [0.3, 0.8, -1.0]]
    got = affine.bilinear_affine(images, matrices, 12, 12, 0.0)
    assert calls["_bilinear_affine_kernel"] == 1, "the Numba kernel did not run"
    np.testing.assert_allclose(got, affine.bilinear_affine_reference(images, matrices, 12, 12, 0.0), atol=2e-6)
    np.testing.assert_array_equal(got[0], images[0])  # the identity samples the pixel centres exactly


def test_csr_matmat_dispatch_runs_the_kernel(monkeypatch):
    from minidl.compress.prune import CSRMatrix
    from minidl.kernels import sparse

    calls = count_calls(monkeypatch, sparse, "_csr_matmat_kernel")
    rng = np.random.default_rng(4)
    a = rng.standard_normal((20, 30)).astype(np.float32)
    a[rng.random(a.shape) < 0.8] = 0
    a[3] = 0  # an empty row: its output row is 0 (or out's value)
    b = rng.standard_normal((30, 5)).astype(np.float32)
    csr = CSRMatrix.from_dense(a)
    got = csr.matmul(b)  # what SparseLinear calls
    assert calls["_csr_matmat_kernel"] == 1, "the Numba kernel did not run"
    np.testing.assert_allclose(got, a @ b, rtol=1e-5, atol=1e-5)
    assert not got[3].any()
    set_numba_enabled(False)
    try:
        np.testing.assert_allclose(csr.matmul(b), got, rtol=1e-6, atol=1e-6)
    finally:
        set_numba_enabled(True)
    assert calls["_csr_matmat_kernel"] == 1


# ---------------------------------------------------------------------------------------------
# Split over threads (minidl.threads): each thread runs the serial kernel on its own images or
# elements, so the result must equal the one-thread result exactly, bit for bit. SMALL (the
# fewest elements worth a thread) is lowered so that these small arrays are split too.


def _split_runs(fn, *, spy=None):
    """fn() on one thread and on two; with ``spy`` (module, name): the threads that called it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(conv, "SMALL", 1)
        idents = set()
        if spy is not None:
            module, name = spy
            original = getattr(module, name)
            patch.setattr(module, name, lambda *a: idents.add(threading.get_ident()) or original(*a))
        with num_threads(1):
            one = fn()
        idents.clear()
        with num_threads(2):
            two = fn()
    return one, two, idents


@SETTINGS
@given(case=windows(pooling=True), seed=st.integers(0, 2**16))
def test_max_pool_split_over_threads_equals_one_thread(case, seed):
    shape, win = case
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, shape).astype(np.float32)  # small ints: ties decide the winner
    gy = rng.standard_normal((shape[0], shape[1], win.oh, win.ow)).astype(np.float32)

    def both():
        y, arg = pool.max_pool_forward.fast(x, win)
        return y, arg, pool.max_pool_backward.fast(gy, arg, shape, win)

    one, two, _ = _split_runs(both)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)


def test_max_pool_and_relu_run_on_two_threads_and_agree_bit_for_bit():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 3, 7, 6)).astype(np.float32)  # an odd batch and odd sides
    x[1, 0, 0, 0], x[4, 2, 3, 3] = np.nan, -np.inf
    win = Window(2, 2, 2, 2, 0, 0, 1, 1, 3, 3)
    one, two, idents = _split_runs(lambda: pool.max_pool_forward.fast(x, win), spy=(pool, "_max_pool_2x2_kernel"))
    assert len(idents) == 2, "the 2×2 kernel did not run on two threads"
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)
    gy = rng.standard_normal(one[0].shape).astype(np.float32)
    one, two, idents = _split_runs(lambda: pool.max_pool_backward.fast(gy, one[1], x.shape, win),
                                   spy=(pool, "_max_pool_2x2_backward_kernel"))
    assert len(idents) == 2
    np.testing.assert_array_equal(one, two)
    g = rng.standard_normal(x.shape).astype(np.float32)
    one, two, idents = _split_runs(lambda: activation.relu_backward.fast(g, x),
                                   spy=(activation, "_relu_backward_kernel"))
    assert len(idents) == 2
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(one, activation.relu_backward_reference(g, x))
    one, two, _ = _split_runs(lambda: activation.relu.fast(x))
    np.testing.assert_array_equal(one, two)
    np.testing.assert_array_equal(two, activation.relu_reference(x))  # NaN stays NaN


def test_matmul_split_by_rows_equals_the_product_and_runs_on_two_threads(monkeypatch):
    from minidl.kernels import matmul

    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((7, 5)), rng.standard_normal((5, 3))  # an odd row count: uneven parts
    monkeypatch.setattr(matmul, "MIN_MACS", 1)
    real, idents = matmul.parallel_range, set()

    def spy(work, n, grain=1):
        return real(lambda start, stop: idents.add(threading.get_ident()) or work(start, stop), n, grain)

    monkeypatch.setattr(matmul, "parallel_range", spy)
    with num_threads(2):
        np.testing.assert_allclose(matmul.matmul_rows_split(a, b), a @ b, rtol=1e-12, atol=1e-12)
        assert len(idents) == 2, "the product was not split over two threads"
        # a transposed view (the weight gradient's Gᵀ x), and float32 stays float32
        np.testing.assert_allclose(matmul.matmul_rows_split(a.T, a), a.T @ a, rtol=1e-12, atol=1e-12)
        a32, b32 = a.astype(np.float32), b.astype(np.float32)
        assert matmul.matmul_rows_split(a32, b32).dtype == np.float32
        with pytest.raises(ValueError):  # NumPy's own shape error
            matmul.matmul_rows_split(a, a)


def test_keep_freed_memory_applies_once_on_glibc_and_can_be_turned_off(monkeypatch):
    import platform

    from minidl.kernels import workspace as ws

    monkeypatch.setattr(ws, "_KEEP", {"done": False, "applied": False})
    monkeypatch.setenv("MINIDL_KEEP_MEMORY", "0")
    assert ws.keep_freed_memory() is False
    monkeypatch.setattr(ws, "_KEEP", {"done": False, "applied": False})
    monkeypatch.delenv("MINIDL_KEEP_MEMORY")
    applied = ws.keep_freed_memory()
    assert applied == (platform.system() == "Linux" and platform.libc_ver()[0] == "glibc")
    monkeypatch.setenv("MINIDL_KEEP_MEMORY", "0")  # decided once per process: later settings change nothing
    assert ws.keep_freed_memory() == applied
