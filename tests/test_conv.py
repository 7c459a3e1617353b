"""Conv2d, MaxPool2d and AvgPool2d: hand-computed values, the definition as plain loops,
gradients (and gradients of gradients) against central differences, shapes, errors."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import minidl as md
import minidl.nn.functional as F  # noqa: N812 - PyTorch's habit
from minidl import nn
from minidl.engine.gradcheck import gradcheck, gradgradcheck
from minidl.engine.ops import conv as conv_ops
from minidl.kernels import set_numba_enabled
from minidl.kernels.window import output_size
from minidl.kernels.workspace import workspace
from tests.strategies import conv_cases

SETTINGS = settings(max_examples=12, deadline=None)
pytestmark = pytest.mark.backends  # also on the stand-in: conv and pooling must be xp-clean


def T(a: np.ndarray, grad: bool = True) -> md.Tensor:
    return md.Tensor(a, requires_grad=grad)


# -- the definition, written as loops ----------------------------------------------------------


def conv2d_loops(x, w, b, stride, padding, dilation):
    """y[n,o,oy,ox] = b[o] + Σ_c,i,j w[o,c,i,j] · x[n,c,oy·s−p+i·d, ox·s−p+j·d] (0 outside)."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    oh, ow = output_size(h, kh, sh, ph, dh), output_size(wd, kw, sw, pw, dw)
    y = np.zeros((n, o, oh, ow))
    for oy in range(oh):
        for ox in range(ow):
            for i in range(kh):
                for j in range(kw):
                    iy, ix = oy * sh - ph + i * dh, ox * sw - pw + j * dw
                    if 0 <= iy < h and 0 <= ix < wd:
                        y[:, :, oy, ox] += x[:, :, iy, ix] @ w[:, :, i, j].T
    return y + (0 if b is None else b[None, :, None, None])


@SETTINGS
@given(case=conv_cases(), seed=st.integers(0, 2**16))
def test_conv2d_equals_the_loop_definition(case, seed):
    x_shape, w_shape, stride, padding, dilation, bias = case
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    y = F.conv2d(md.tensor(x), md.tensor(w), md.tensor(b) if bias else None, stride, padding, dilation)
    np.testing.assert_allclose(y.numpy(), conv2d_loops(x, w, b if bias else None, stride, padding, dilation),
                               rtol=1e-10, atol=1e-10)


def test_conv2d_hand_computed():
    x = md.arange(16.0).reshape(1, 1, 4, 4)
    w = md.tensor([[[[1.0, 0.0], [0.0, -1.0]]]])  # x[i, j] − x[i+1, j+1] = −5 everywhere
    np.testing.assert_array_equal(F.conv2d(x, w).numpy(), np.full((1, 1, 3, 3), -5.0))
    # stride 2, padding 1: windows at rows/cols −1, 1, 3 of the zero-padded image
    y = F.conv2d(x, w, md.tensor([0.5]), stride=2, padding=1)
    expected = np.array([[0, 0 - 2, 0], [0 - 8, 5 - 10, 7 - 0], [0, 13, 15]], dtype=float)
    np.testing.assert_array_equal(y.numpy()[0, 0], expected + 0.5)


def test_pooling_hand_computed():
    x = md.arange(16.0).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(F.max_pool2d(x, 2).numpy()[0, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(F.avg_pool2d(x, 2).numpy()[0, 0], [[2.5, 4.5], [10.5, 12.5]])
    y = md.arange(25.0).reshape(1, 1, 5, 5)
    # ceil_mode keeps the partial windows on the right and bottom
    np.testing.assert_array_equal(F.max_pool2d(y, 2, ceil_mode=True).numpy()[0, 0],
                                  [[6, 8, 9], [16, 18, 19], [21, 23, 24]])
    # a partial window averages only what it covers: (4 + 9) / 2, (20 + 21) / 2, 24 / 1
    avg = F.avg_pool2d(y, 2, ceil_mode=True).numpy()[0, 0]
    assert (avg[0, 2], avg[2, 0], avg[2, 2]) == (6.5, 20.5, 24.0)
    # padding: count_include_pad divides by 4 even where the window holds padding
    padded = F.avg_pool2d(x, 2, stride=2, padding=1).numpy()[0, 0]
    assert padded[0, 0] == 0 / 4 and padded[0, 1] == (1 + 2) / 4
    assert F.avg_pool2d(x, 2, 2, 1, count_include_pad=False).numpy()[0, 0, 0, 1] == (1 + 2) / 2
    assert F.avg_pool2d(x, 2, divisor_override=1).numpy()[0, 0, 0, 0] == 0 + 1 + 4 + 5


def test_max_pool_ties_nan_and_indices():
    x = md.tensor([[[[1.0, 1.0], [0.0, 1.0]]]], requires_grad=True)
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    assert idx.item() == 0  # the first maximum in row-major order wins (PyTorch)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], [[1, 0], [0, 0]])
    z = F.max_pool2d(md.tensor([[[[1.0, np.nan], [3.0, 2.0]]]]), 2)
    assert np.isnan(z.item())  # NaN propagates, as in PyTorch
    # padding is −∞: a window of −∞ values still reports an input position
    _, idx = F.max_pool2d(md.full((1, 1, 3, 3), -np.inf), 3, stride=1, padding=1, return_indices=True)
    assert idx.numpy()[0, 0].tolist() == [[0, 0, 1], [0, 0, 1], [3, 3, 4]]
    # dilation can make a window of padding only: −∞, and its gradient goes nowhere (PyTorch)
    x = md.tensor([[[[0.5]]]], requires_grad=True)
    y, idx = F.max_pool2d(x, (1, 2), 1, (0, 1), (1, 2), return_indices=True)
    y.sum().backward()
    assert y.item() == -np.inf and idx.item() == 1 and x.grad.item() == 0


# -- gradients ------------------------------------------------------------------------------------


@SETTINGS
@given(case=conv_cases(), seed=st.integers(0, 2**16))
def test_conv2d_gradients(case, seed):
    x_shape, w_shape, stride, padding, dilation, bias = case
    rng = np.random.default_rng(seed)
    inputs = [T(rng.standard_normal(x_shape)), T(rng.standard_normal(w_shape))]
    if bias:
        inputs.append(T(rng.standard_normal(w_shape[0])))
    assert gradcheck(lambda *a: F.conv2d(*a, stride=stride, padding=padding, dilation=dilation), inputs)


@pytest.mark.parametrize("stride,padding,dilation", [(1, 0, 1), (2, 1, 1), ((1, 2), (2, 0), (2, 1))])
def test_conv2d_second_derivatives(stride, padding, dilation):
    rng = np.random.default_rng(3)
    x, w, b = (T(rng.standard_normal(s)) for s in ((2, 2, 5, 6), (3, 2, 3, 2), (3,)))

    def f(x, w, b):
        y = F.conv2d(x, w, b, stride, padding, dilation)
        return y * y  # a nonlinearity, so the second derivative is not zero

    assert gradgradcheck(f, [x, w, b])


def test_hessian_vector_product_through_a_cnn():
    """HVP of a small CNN's loss by double backward equals the difference of gradients."""
    md.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Tanh(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(8, 3)).double()
    rng = np.random.default_rng(0)
    x, y = md.tensor(rng.standard_normal((4, 1, 4, 4))), md.tensor(rng.integers(0, 3, 4))
    w = model[0].weight
    v = md.tensor(rng.standard_normal(w.shape))  # on the active backend, like the model

    def grad_at(data):
        w.data[...] = data
        return md.grad(F.cross_entropy(model(x), y), [w])[0].numpy()

    w0 = w.data.copy()
    (g,) = md.grad(F.cross_entropy(model(x), y), [w], create_graph=True)
    hvp = md.grad((g * v).sum(), [w])[0].numpy()
    eps = 1e-5
    numeric = (grad_at(w0 + eps * v.data) - grad_at(w0 - eps * v.data)) / (2 * eps)
    np.testing.assert_allclose(hvp, numeric, rtol=1e-4, atol=1e-7)


@st.composite
def pool_cases(draw, dilation: bool):
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = (draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2)))
    dil = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilation else (1, 1)
    h = draw(st.integers(max(1, dil[0] * (kh - 1) + 1 - 2 * padding[0]), 7))
    w = draw(st.integers(max(1, dil[1] * (kw - 1) + 1 - 2 * padding[1]), 7))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), h, w)
    return shape, (kh, kw), stride, padding, dil, draw(st.booleans())


def distinct_values(shape, seed):
    """Values at least 1/size apart, shuffled: no ties within finite-difference reach."""
    rng = np.random.default_rng(seed)
    n = math.prod(shape)
    return (rng.permutation(n) / n * 6 - 3).reshape(shape)


@SETTINGS
@given(case=pool_cases(dilation=True), seed=st.integers(0, 2**16))
def test_max_pool2d_gradients(case, seed):
    shape, k, s, p, d, ceil = case
    x = T(distinct_values(shape, seed))
    # a window of padding only gives −∞ (tested above), which central differences cannot handle
    assume(np.isfinite(F.max_pool2d(x, k, s, p, d, ceil_mode=ceil).numpy()).all())
    assert gradcheck(lambda a: F.max_pool2d(a, k, s, p, d, ceil_mode=ceil), [x])


@SETTINGS
@given(case=pool_cases(dilation=False), include_pad=st.booleans(), override=st.sampled_from([None, 2]),
       seed=st.integers(0, 2**16))
def test_avg_pool2d_gradients(case, include_pad, override, seed):
    shape, k, s, p, _, ceil = case
    x = T(np.random.default_rng(seed).standard_normal(shape))
    assert gradcheck(lambda a: F.avg_pool2d(a, k, s, p, ceil, include_pad, override), [x])


def test_pooling_second_derivatives():
    x = T(distinct_values((2, 2, 5, 6), 1))
    assert gradgradcheck(lambda a: F.max_pool2d(a, 3, 2, 1, ceil_mode=True) ** 2, [x])
    assert gradgradcheck(lambda a: F.avg_pool2d(a, 3, 2, 1, True, count_include_pad=False) ** 2, [x])


@pytest.mark.numpy_only  # the kernels only ever see NumPy arrays
def test_kernel_path_gives_the_reference_gradients():
    """A layer big enough for the Numba kernels (im2col, col2im, max-pool, ReLU) computes the
    same values and gradients as with the NumPy references."""
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((16, 4, 32, 32), (8, 4, 3, 3), (8,)))

    def run():
        xt, wt, bt = T(x), T(w), T(b)
        y = F.max_pool2d(F.relu(F.conv2d(xt, wt, bt, padding=1)), 2)
        (y * y).sum().backward()
        return y.numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()

    with_kernels = run()
    set_numba_enabled(False)
    try:
        without = run()
    finally:
        set_numba_enabled(True)
    for a, b_ in zip(with_kernels, without):
        np.testing.assert_allclose(a, b_, rtol=1e-4, atol=1e-4)


@pytest.mark.numpy_only  # the scratch pool holds NumPy arrays only
def test_scratch_buffers_are_reused_and_never_leak_into_results():
    workspace.clear()
    w = md.randn(8, 16, 3, 3)
    y = F.conv2d(md.randn(8, 16, 32, 32), w)
    first = y.numpy().copy()
    assert workspace.idle_bytes > 0  # the column matrix went back to the pool
    F.conv2d(md.randn(8, 16, 32, 32), w)  # reuses it
    np.testing.assert_array_equal(y.numpy(), first)


def test_chunked_batches_match_one_chunk(monkeypatch):
    """The batch is processed in cache-sized chunks; chunk boundaries must not change anything."""
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((5, 3, 6, 6), (4, 3, 3, 3), (4,)))

    def run():
        xt, wt, bt = T(x), T(w), T(b)
        y = F.conv2d(xt, wt, bt, padding=1)
        (y * y).sum().backward()
        return y.numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()

    whole = run()
    monkeypatch.setattr(conv_ops, "CHUNK_BYTES", 1)  # one image per chunk
    for a, b_ in zip(whole, run()):
        np.testing.assert_allclose(a, b_, rtol=2e-5, atol=1e-5)


@pytest.mark.numpy_only  # the chunked path runs on NumPy arrays only
@SETTINGS
@given(case=conv_cases(), seed=st.integers(0, 2**16), chunk=st.sampled_from([1, 1 << 12, 16 << 20]))
def test_plain_and_chunked_convolution_agree(case, seed, chunk):
    """The plain convolution (whole batch, one GEMM) and the chunked one (the fast path
    dispatch picks on NumPy) give the same output and the same three gradients."""
    x_shape, w_shape, stride, padding, dilation, _ = case
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    win = conv_ops.conv_window(x_shape, w_shape, stride, padding, dilation)
    gy = rng.standard_normal((x_shape[0], w_shape[0], win.oh, win.ow))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(conv_ops, "CHUNK_BYTES", chunk)  # 1: one image per chunk
        y_fast = conv_ops._conv_forward.fast(x, w, b, win)
        fast = conv_ops._conv_backward.fast(gy, x, w, x_shape, w_shape, win, True, True, True)
    np.testing.assert_allclose(y_fast, conv_ops.conv_forward_simple(x, w, b, win), rtol=1e-12, atol=1e-12)
    simple = conv_ops.conv_backward_simple(gy, x, w, x_shape, w_shape, win, True, True, True)
    for a, b_ in zip(fast, simple):
        np.testing.assert_allclose(a, b_, rtol=1e-12, atol=1e-12)


@pytest.mark.numpy_only  # kernels and the scratch pool hold NumPy arrays only
def test_dispatch_runs_the_chunked_path_on_numpy_and_the_plain_one_without_kernels(monkeypatch):
    """Big enough for the Numba im2col; the chunked path is the one that takes scratch buffers."""
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((8, 4, 20, 20)).astype(np.float32), rng.standard_normal((6, 4, 3, 3)).astype(np.float32)
    taken = []
    real_take = workspace.take
    monkeypatch.setattr(workspace, "take", lambda *a, **k: taken.append(a[0]) or real_take(*a, **k))
    fast = F.conv2d(T(x), T(w), padding=1)
    assert taken, "the chunked (fast) path did not run on NumPy arrays"
    taken.clear()
    set_numba_enabled(False)
    try:
        plain = F.conv2d(T(x), T(w), padding=1)
    finally:
        set_numba_enabled(True)
    assert not taken, "with kernels off, dispatch should have picked the plain convolution"
    np.testing.assert_allclose(fast.numpy(), plain.numpy(), rtol=1e-5, atol=1e-5)


def test_plain_convolution_hand_computed():
    # x = 1..9 as 3×3, a 2×2 kernel of ones: each output is the sum of a 2×2 window, plus b
    x = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    w = np.ones((1, 1, 2, 2))
    win = conv_ops.conv_window(x.shape, w.shape, 1, 0, 1)
    y = conv_ops.conv_forward_simple(x, w, np.array([0.5]), win)
    np.testing.assert_array_equal(y, [[[[12.5, 16.5], [24.5, 28.5]]]])
    gx, gw, gb = conv_ops.conv_backward_simple(np.ones((1, 1, 2, 2)), x, w, x.shape, w.shape, win, True, True, True)
    np.testing.assert_array_equal(gx, [[[[1, 2, 1], [2, 4, 2], [1, 2, 1]]]])  # windows covering each pixel
    np.testing.assert_array_equal(gw, [[[[12, 16], [24, 28]]]])
    np.testing.assert_array_equal(gb, [4.0])


# -- shapes, dtypes, modules -------------------------------------------------------------------------


def test_shapes_unbatched_and_padding_modes():
    x = md.randn(2, 3, 10, 9)
    conv = nn.Conv2d(3, 5, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2))
    assert conv(x).shape == (2, 5, 5, 7)
    assert conv(x[0]).shape == (5, 5, 7)  # (C, H, W) input, as PyTorch allows
    np.testing.assert_allclose(conv(x[0]).numpy(), conv(x).numpy()[0], rtol=1e-6)
    assert nn.Conv2d(3, 4, 3, padding="same")(x).shape == (2, 4, 10, 9)
    assert nn.Conv2d(3, 4, 3, padding="valid")(x).shape == (2, 4, 8, 7)
    assert nn.MaxPool2d(3, 2, 1)(x).shape == (2, 3, 5, 5)
    assert nn.MaxPool2d(2, ceil_mode=True)(x).shape == (2, 3, 5, 5)
    assert nn.AvgPool2d(2)(x[0]).shape == (3, 5, 4)
    y, idx = nn.MaxPool2d(2, return_indices=True)(x)
    picked = np.take_along_axis(x.numpy().reshape(2, 3, -1), idx.numpy().reshape(2, 3, -1), 2)
    np.testing.assert_array_equal(picked, y.numpy().reshape(2, 3, -1))


def test_float32_in_float32_out():
    md.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.AvgPool2d(2), nn.Flatten(),
                          nn.Linear(16, 2))
    out = model(md.randn(3, 1, 10, 10))
    F.cross_entropy(out, md.tensor([0, 1, 1])).backward()
    assert out.dtype == np.float32
    assert all(p.dtype == np.float32 and p.grad.dtype == np.float32 for p in model.parameters())


def test_conv2d_module_matches_pytorch_init_and_layout():
    md.manual_seed(0)
    conv = nn.Conv2d(4, 6, 3)
    assert conv.weight.shape == (6, 4, 3, 3) and conv.bias.shape == (6,)
    bound = 1 / math.sqrt(4 * 3 * 3)  # kaiming_uniform_(a=√5) on fan_in = C·kh·kw
    for p in (conv.weight, conv.bias):
        assert np.abs(p.numpy()).max() <= bound
    assert np.abs(conv.weight.numpy()).max() > 0.9 * bound
    assert abs(conv.weight.numpy().std() - bound / math.sqrt(3)) < 0.1 * bound
    assert list(conv.state_dict()) == ["weight", "bias"]
    assert "bias" not in nn.Conv2d(1, 1, 2, bias=False).state_dict()
    assert repr(conv) == "Conv2d(4, 6, kernel_size=(3, 3), stride=(1, 1))"


def test_lenet_and_small_cnn_shapes():
    md.manual_seed(0)
    lenet = nn.LeNet()
    assert lenet(md.randn(2, 1, 28, 28)).shape == (2, 10)
    assert sum(p.numel() for p in lenet.parameters()) == 1_199_882  # as PyTorch's MNIST example
    assert lenet[6].in_features == 9216
    small = nn.SmallCNN()
    assert small(md.randn(5, 1, 8, 8)).shape == (5, 10)
    with pytest.raises(ValueError, match="image_size"):
        nn.LeNet(image_size=5)


# -- bad input -------------------------------------------------------------------------------------


def img(*shape: int) -> md.Tensor:
    return md.randn(*shape)


@pytest.mark.parametrize("call,error,match", [
    (lambda: F.conv2d(img(1, 3, 5, 5), img(2, 2, 3, 3)), ValueError, "3 channels"),
    (lambda: F.conv2d(img(1, 1, 2, 2), img(1, 1, 3, 3)), ValueError, "smaller than the dilated kernel"),
    (lambda: F.conv2d(img(1, 1, 5, 5).double(), img(1, 1, 3, 3)), TypeError, "same floating dtype"),
    (lambda: F.conv2d(img(5, 5), img(1, 1, 3, 3)), ValueError, r"\(N, C, H, W\)"),
    (lambda: F.conv2d(img(1, 1, 5, 5), img(1, 3, 3)), ValueError, "out_channels, in_channels"),
    (lambda: F.conv2d(img(1, 1, 5, 5), img(2, 1, 3, 3), img(3)), ValueError, "bias must have shape"),
    (lambda: F.conv2d(img(1, 1, 5, 5), img(1, 1, 3, 3), stride=0), ValueError, "stride must be >= 1"),
    (lambda: F.conv2d(img(1, 1, 5, 5), img(1, 1, 3, 3), padding="full"), ValueError, "'valid' or 'same'"),
    (lambda: F.conv2d(img(1, 1, 5, 5), img(1, 1, 2, 2), padding="same"), ValueError, "odd"),
    (lambda: F.conv2d(img(1, 2, 5, 5), img(2, 1, 3, 3), groups=2), NotImplementedError, "groups"),
    (lambda: nn.Conv2d(1, 0, 3), ValueError, "out_channels must be a positive int"),
    (lambda: nn.Conv2d(1, 2, 3, stride=2, padding="same"), ValueError, "stride 1"),
    (lambda: nn.Conv2d(1, 2, (3, 3, 3)), TypeError, "pair of ints"),
    (lambda: F.max_pool2d(img(1, 1, 4, 4), 2, padding=2), ValueError, "at most half"),
    (lambda: F.max_pool2d(img(1, 1, 1, 1), 3), ValueError, "too small"),
    (lambda: F.max_pool2d(md.tensor([[[[1, 2], [3, 4]]]]), 2), TypeError, "floating point"),
    (lambda: F.avg_pool2d(img(1, 1, 4, 4), 2, divisor_override=0), ValueError, "divisor_override"),
])
def test_bad_input_is_refused_clearly(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_a_pruned_cnn_compacts_to_the_same_function():
    """The pruning package sees Conv2d by its weight's shape: filters pruned away disappear,
    with their input channels downstream and their flattened columns in the Linear."""
    from minidl.compress import prune

    md.manual_seed(4)
    model = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 5, 3),
                          nn.ReLU(), nn.Flatten(), nn.Linear(5 * 2 * 2, 4))
    prune.ln_structured(model[0], "weight", amount=3, n=2, dim=0, prune_bias=True)
    prune.ln_structured(model[3], "weight", amount=2, n=1, dim=0, prune_bias=True)
    small, _ = prune.compact(model)
    assert small[0].weight.shape == (3, 1, 3, 3) and small[0].out_channels == 3
    assert small[3].weight.shape == (3, 3, 3, 3) and small[3].in_channels == 3
    assert small[6].in_features == 3 * 2 * 2
    x = md.randn(3, 1, 8, 8)
    np.testing.assert_allclose(small(x).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.numpy_only  # the chunked path runs on NumPy arrays only
@SETTINGS
@given(case=conv_cases(), seed=st.integers(0, 2**16), chunk=st.sampled_from([1, 1 << 12, 16 << 20]),
       extra=st.integers(0, 4))
def test_convolution_split_over_threads_equals_one_thread(case, seed, chunk, extra):
    """Two threads, each running the chunked convolution on its own part of the batch, agree
    with one thread up to rounding: the chunks are cut for two threads, and BLAS's rounding
    depends on a product's shape (which edge kernels, where FMAs); ∂L/∂W and ∂L/∂b also add
    their per-chunk terms in a different grouping. (The window kernels alone agree bit for
    bit: tests/test_kernels.py.)"""
    from minidl.kernels import conv as conv_kernels
    from minidl.threads import num_threads

    x_shape, w_shape, stride, padding, dilation, _ = case
    x_shape = (x_shape[0] + extra,) + x_shape[1:]  # up to 7 images: odd batches, uneven parts
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    win = conv_ops.conv_window(x_shape, w_shape, stride, padding, dilation)
    gy = rng.standard_normal((x_shape[0], w_shape[0], win.oh, win.ow))
    runs, threads_seen = {}, {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(conv_ops, "CHUNK_BYTES", chunk)
        patch.setattr(conv_kernels, "SMALL", 1)  # split even these small convolutions
        real = conv_ops._rows_to_nchw
        seen: set = set()
        patch.setattr(conv_ops, "_rows_to_nchw", lambda *a: seen.add(threading.get_ident()) or real(*a))
        for n in (1, 2):
            seen.clear()
            with num_threads(n):
                runs[n] = (conv_ops._conv_forward.fast(x, w, b, win),
                           *conv_ops._conv_backward.fast(gy, x, w, x_shape, w_shape, win, True, True, True))
            threads_seen[n] = len(seen)
    assert threads_seen == {1: 1, 2: min(2, x_shape[0])}, "the forward pass did not run on two threads"
    (y1, gx1, gw1, gb1), (y2, gx2, gw2, gb2) = runs[1], runs[2]
    for one, two in ((y1, y2), (gx1, gx2), (gw1, gw2), (gb1, gb2)):
        np.testing.assert_allclose(one, two, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y2, conv_ops.conv_forward_simple(x, w, b, win), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n, sample_bytes, threads", [(64, 663552, 1), (64, 663552, 2), (64, 24336, 2), (0, 10, 2),
                                                       (1, 10, 2), (5, 1 << 30, 2), (7, 1 << 30, 3)])
def test_chunk_plan_covers_the_batch_once_within_the_chunk_size(n, sample_bytes, threads):
    plan = conv_ops.chunk_plan(n, sample_bytes, threads)
    chunks = [c for run in plan for c in run]
    assert len(plan) == max(1, min(threads, n))
    assert [i for start, stop in chunks for i in range(start, stop)] == list(range(n))  # in order, once
    assert all(stop > start and ((stop - start) * sample_bytes <= conv_ops.CHUNK_BYTES or stop - start == 1)
               for start, stop in chunks)
    if n >= threads:
        sizes = [sum(stop - start for start, stop in run) for run in plan]
        assert max(sizes) - min(sizes) <= max(1, n // (threads * 4))  # the threads get about as much work
