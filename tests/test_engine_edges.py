"""Hand-computed cases at exactly the values the property tests steer clear of (issue 14 §3-§5, §9).

The gradient checks in test_engine_gradients.py draw their inputs away from kinks, ties and
zero, because central differences are meaningless there. The conventions the docstrings
promise at those points (PyTorch's) are checked here, one worked-out vector each, in plain
backward and under ``create_graph``. Also: bad data refused at creation, PyTorch's dtype
promotion, empty batches and the dims of a 0-d tensor.
"""

from __future__ import annotations

import numpy as np
import pytest

import minidl as md
import minidl.nn.functional as F  # noqa: N812 - PyTorch's customary name
from minidl import nn

pytestmark = pytest.mark.backends


def leaf(values, dtype="float64") -> md.Tensor:
    return md.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


def grads(fn, *values, create_graph: bool = False) -> list[np.ndarray]:
    """∂ sum(fn(*xs)) / ∂xs, by backward or by ``grad(create_graph=True)``."""
    xs = [leaf(v) for v in values]
    out = fn(*xs).sum()
    if create_graph:
        return [g.numpy() for g in md.grad(out, xs, create_graph=True)]
    out.backward()
    return [x.grad.numpy() for x in xs]


both_modes = pytest.mark.parametrize("create_graph", [False, True], ids=["backward", "create_graph"])


# -- §9: the conventions at ties, bounds and zero ------------------------------------------------


@both_modes
def test_amax_ties_share_the_gradient_equally(create_graph: bool) -> None:
    # three maxima of 2.0: each gets 1/3; along rows, the tied pair gets 1/2 each
    (g,) = grads(lambda x: x.max(), [2.0, 1.0, 2.0, 2.0], create_graph=create_graph)
    np.testing.assert_allclose(g, [1 / 3, 0, 1 / 3, 1 / 3])
    (g,) = grads(lambda x: md.amax(x, dim=1), [[5.0, 5.0, 1.0], [0.0, 3.0, 2.0]], create_graph=create_graph)
    np.testing.assert_allclose(g, [[0.5, 0.5, 0.0], [0.0, 1.0, 0.0]])
    (g,) = grads(lambda x: md.amin(x, dim=0), [[1.0, 4.0], [1.0, 3.0]], create_graph=create_graph)
    np.testing.assert_allclose(g, [[0.5, 0.0], [0.5, 1.0]])


@both_modes
def test_max_along_dim_sends_the_gradient_to_the_returned_index(create_graph: bool) -> None:
    # x.max(dim) returns (values, indices) and, as PyTorch, the whole gradient goes to that index
    (g,) = grads(lambda x: x.max(dim=1).values, [[2.0, 2.0, 1.0]], create_graph=create_graph)
    np.testing.assert_allclose(g, [[1.0, 0.0, 0.0]])


@both_modes
def test_maximum_and_minimum_ties_give_half_to_each_side(create_graph: bool) -> None:
    gx, gy = grads(md.maximum, [1.0, 2.0, 3.0], [1.0, 5.0, 0.0], create_graph=create_graph)
    np.testing.assert_allclose(gx, [0.5, 0.0, 1.0])
    np.testing.assert_allclose(gy, [0.5, 1.0, 0.0])
    gx, gy = grads(md.minimum, [1.0, 2.0, 3.0], [1.0, 5.0, 0.0], create_graph=create_graph)
    np.testing.assert_allclose(gx, [0.5, 1.0, 0.0])
    np.testing.assert_allclose(gy, [0.5, 0.0, 1.0])


@both_modes
def test_maximum_with_a_scalar_tie(create_graph: bool) -> None:
    (g,) = grads(lambda x: md.maximum(x, 0.0), [-1.0, 0.0, 2.0], create_graph=create_graph)
    np.testing.assert_allclose(g, [0.0, 0.5, 1.0])


@both_modes
def test_clamp_gradient_is_one_at_its_bounds(create_graph: bool) -> None:
    # PyTorch: ∂clamp/∂x = 1 for lo <= x <= hi, bounds included
    (g,) = grads(lambda x: md.clamp(x, -1.0, 1.5), [-2.0, -1.0, 0.0, 1.5, 2.0], create_graph=create_graph)
    np.testing.assert_allclose(g, [0.0, 1.0, 1.0, 1.0, 0.0])
    (g,) = grads(lambda x: md.clamp(x, min=0.0), [-1.0, 0.0, 1.0], create_graph=create_graph)
    np.testing.assert_allclose(g, [0.0, 1.0, 1.0])
    (g,) = grads(lambda x: md.clamp(x, max=0.0), [-1.0, 0.0, 1.0], create_graph=create_graph)
    np.testing.assert_allclose(g, [1.0, 1.0, 0.0])


@both_modes
def test_relu_abs_and_leaky_relu_at_zero(create_graph: bool) -> None:
    (g,) = grads(md.relu, [-1.0, 0.0, 2.0], create_graph=create_graph)
    np.testing.assert_allclose(g, [0.0, 0.0, 1.0])  # 0 at x = 0, as PyTorch
    (g,) = grads(md.abs, [-1.0, 0.0, 2.0], create_graph=create_graph)
    np.testing.assert_allclose(g, [-1.0, 0.0, 1.0])  # sign(0) = 0
    (g,) = grads(lambda x: md.leaky_relu(x, 0.2), [-1.0, 0.0, 2.0], create_graph=create_graph)
    np.testing.assert_allclose(g, [0.2, 0.2, 1.0])  # x > 0 is false at 0: the slope, as PyTorch


def test_relu_second_derivative_at_zero_is_zero() -> None:
    x = leaf([0.0, 1.0])
    (g,) = md.grad((md.relu(x) * md.relu(x)).sum(), x, create_graph=True)  # 2·relu(x)·1[x>0]
    np.testing.assert_allclose(g.numpy(), [0.0, 2.0])
    (h,) = md.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), [0.0, 2.0])  # the mask is a constant: no delta at 0


@both_modes
def test_pow_at_a_zero_base(create_graph: bool) -> None:
    # z = x^y at x = 0, y = 2: ∂z/∂x = 2·0 = 0; ∂z/∂y = 0^2·ln 0 taken as 0 (not NaN), as PyTorch
    gx, gy = grads(lambda x, y: x ** y, [0.0, 2.0], [2.0, 3.0], create_graph=create_graph)
    np.testing.assert_allclose(gx, [0.0, 12.0])
    np.testing.assert_allclose(gy, [0.0, 8.0 * np.log(2.0)])


@both_modes
def test_where_at_a_boundary_mask(create_graph: bool) -> None:
    gx, gy = grads(lambda x, y: md.where(x.data >= 0, x, y), [0.0, -1.0], [5.0, 6.0],
                   create_graph=create_graph)
    np.testing.assert_allclose(gx, [1.0, 0.0])
    np.testing.assert_allclose(gy, [0.0, 1.0])


def test_getitem_with_repeated_indices_adds_up() -> None:
    x = leaf([1.0, 2.0, 3.0])
    x[np.array([0, 0, 2, 0])].sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 0.0, 1.0])


# -- §3: bad data at creation, PyTorch's promotion -----------------------------------------------


@pytest.mark.parametrize("data, what", [
    ([1, "a"], "list of strings: dtype <U"), ("abc", "str of strings"), (None, "got None"),
    (np.array([1, None], dtype=object), "ndarray of Python objects: dtype object"),
    (np.array(["1.0"]), "ndarray of strings"),
])
def test_non_numeric_data_is_refused_at_creation(data, what) -> None:
    with pytest.raises(TypeError, match="tensor data must be numbers or booleans") as err:
        md.tensor(data)
    assert what in str(err.value)
    with pytest.raises(TypeError, match="numbers or booleans"):
        md.Tensor(data)


def test_ragged_lists_are_refused_at_creation() -> None:
    with pytest.raises(ValueError, match="rows of different lengths"):
        md.tensor([[1, 2], [3]])


def test_object_arrays_are_refused_by_from_numpy() -> None:
    with pytest.raises(TypeError, match="dtype object"):
        md.from_numpy(np.array([1.0, "a"], dtype=object))


def test_numbers_and_booleans_are_still_welcome() -> None:
    assert md.tensor([1, 2]).dtype == md.int64
    assert md.tensor([1.5, 2]).dtype == md.float32
    assert md.tensor([True, False]).dtype == md.bool_
    assert md.tensor(np.uint8(3)).dtype == md.uint8


@pytest.mark.parametrize("int_dtype", ["int64", "int32", "uint8", "bool"])
@pytest.mark.parametrize("float_dtype", ["float32", "float64"])
def test_float_with_integer_tensor_keeps_the_float_dtype(float_dtype: str, int_dtype: str) -> None:
    """PyTorch: float32 × int64 → float32 (NumPy 2 would give float64)."""
    f = md.tensor(np.array([1.5, -2.0, 3.0], dtype=float_dtype), requires_grad=True)
    i = md.tensor(np.array([2, 0, 1], dtype=int_dtype))
    for result in (f * i, i * f, f + i, i - f, f / md.tensor(np.array([1, 2, 4], dtype=int_dtype)),
                   md.maximum(f, i), md.minimum(i, f), md.where(i.data > 0, f, i)):
        assert result.dtype == float_dtype
    (f * i).sum().backward()
    assert f.grad.dtype == float_dtype
    np.testing.assert_allclose(f.grad.numpy(), np.array([2, 0, 1], dtype=int_dtype).astype(float_dtype))


def test_float_widths_promote_as_in_pytorch() -> None:
    a = md.tensor(np.ones(2, np.float32))
    b = md.tensor(np.ones(2, np.float64))
    assert (a + b).dtype == md.float64  # both libraries widen between floats
    assert (md.tensor([1, 2]) + md.tensor(np.array([1, 2], np.int32))).dtype == md.int64


def test_matrix_products_refuse_mixed_dtypes_as_pytorch() -> None:
    layer = nn.Linear(3, 2)
    with pytest.raises(TypeError, match="linear: the input has dtype float64 but the weight has dtype float32"):
        layer(md.tensor(np.ones((4, 3))))
    with pytest.raises(TypeError, match="matmul: the first operand has dtype float32"):
        md.ones(2, 3) @ md.tensor(np.ones((3, 2)))
    assert layer(md.tensor(np.ones((4, 3))).float()).dtype == md.float32


# -- §4: empty batches -------------------------------------------------------------------------


def test_conv2d_with_an_empty_batch() -> None:
    md.manual_seed(0)
    x = md.randn(0, 2, 8, 8, requires_grad=True)
    conv = nn.Conv2d(2, 3, 3, padding=1, stride=2)
    y = conv(x)
    assert y.shape == (0, 3, 4, 4)
    y.sum().backward()
    assert x.grad.shape == (0, 2, 8, 8)
    np.testing.assert_array_equal(conv.weight.grad.numpy(), 0.0)
    np.testing.assert_array_equal(conv.bias.grad.numpy(), 0.0)
    assert F.conv2d(md.randn(0, 1, 5, 5), md.randn(4, 1, 3, 3)).shape == (0, 4, 3, 3)


def test_cnn_with_an_empty_batch() -> None:
    md.manual_seed(0)
    cnn = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.AvgPool2d(1), nn.Flatten(),
                        nn.Linear(4 * 3 * 3, 10))
    out = cnn(md.randn(0, 1, 8, 8))
    assert out.shape == (0, 10)
    out.sum().backward()
    assert all(p.grad is not None and not np.isnan(p.grad.numpy()).any() for p in cnn.parameters())


def test_mean_of_an_empty_tensor_is_nan_with_an_empty_gradient() -> None:
    x = md.zeros(0, requires_grad=True)
    m = x.mean()
    assert np.isnan(m.item())
    m.backward()
    assert x.grad.shape == (0,)
    x = md.zeros(0, 3, requires_grad=True)
    m = x.mean(dim=0)
    assert m.shape == (3,) and np.isnan(m.numpy()).all()
    m.sum().backward()
    assert x.grad.shape == (0, 3)


def test_mse_loss_of_an_empty_batch_is_nan() -> None:
    x = md.zeros(0, 3, requires_grad=True)
    loss = F.mse_loss(x, md.zeros(0, 3))
    assert np.isnan(loss.item())
    loss.backward()
    assert x.grad.shape == (0, 3)


# -- §5: the dims of a 0-d tensor ----------------------------------------------------------------


@pytest.mark.parametrize("dim", [0, -1])
def test_zero_d_tensor_accepts_dim_0_and_minus_1_as_pytorch(dim: int) -> None:
    s = md.tensor(3.0, requires_grad=True)
    for out in (s.sum(dim=dim), s.mean(dim=dim), s.amax(dim=dim), s.sum(dim=dim, keepdim=True),
                s.max(dim=dim).values):
        assert out.shape == () and out.item() == 3.0
    assert s.max(dim=dim).indices.item() == 0
    s.sum(dim=dim).backward()
    assert s.grad.item() == 1.0


@pytest.mark.parametrize("dim", [1, -2, 5])
def test_zero_d_tensor_out_of_range_dim(dim: int) -> None:
    s = md.tensor(3.0)
    expected = rf"Dimension out of range \(expected to be in range of \[-1, 0\], but got {dim}\)"
    for reduce in (s.sum, s.mean, s.amax):
        with pytest.raises(IndexError, match=expected):
            reduce(dim=dim)


def test_out_of_range_dim_names_the_range() -> None:
    with pytest.raises(IndexError, match=r"range of \[-2, 1\], but got 2"):
        md.ones(2, 3).sum(dim=2)
    with pytest.raises(IndexError, match=r"range of \[-2, 1\], but got -3"):
        md.softmax(md.ones(2, 3), dim=-3)
