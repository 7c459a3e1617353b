"""The engine's PyTorch semantics beyond single-op gradients: accumulation, graph lifetime,
grad modes, higher order, gradient ownership, in-place rules, dtypes, shapes and printing.

Gradient values of the individual ops are checked in test_engine_gradients.py; here the
expected numbers are worked out by hand.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl as md
import minidl.nn.functional as F  # noqa: N812 - PyTorch's customary name
from minidl import backend, nn, optim
from tests.strategies import arrays, broadcastable_pair, shapes

pytestmark = pytest.mark.backends  # also run on the stand-in (no NumPy may leak into GPU code)


def leaf(values, dtype="float64") -> md.Tensor:
    return md.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


def grad_of(t: md.Tensor) -> np.ndarray:
    assert t.grad is not None, "expected a gradient"
    return t.grad.numpy()


def shares_memory(a, b) -> bool:
    """Whether two arrays (or Tensors' arrays) overlap in memory, on any backend.

    NumPy answers directly (``np.shares_memory``); for a device array, write into ``a`` and
    see whether ``b`` changes.
    """
    a = a.data if isinstance(a, md.Tensor) else a
    b = b.data if isinstance(b, md.Tensor) else b
    if type(a) is np.ndarray and type(b) is np.ndarray:
        return bool(np.shares_memory(a, b))
    before = backend.to_numpy(b).copy()
    a[...] += 1
    try:
        return not np.array_equal(backend.to_numpy(b), before)
    finally:
        a[...] -= 1


# ---------------------------------------------------------------------------------------------
# Accumulation and graph lifetime


def test_second_backward_with_retain_graph_accumulates() -> None:
    x = leaf([1.0, -2.0, 3.0])
    loss = (x * x).sum()
    loss.backward(retain_graph=True)
    np.testing.assert_array_equal(grad_of(x), [2.0, -4.0, 6.0])
    loss.backward()
    np.testing.assert_array_equal(grad_of(x), [4.0, -8.0, 12.0])


def test_backward_on_a_fresh_graph_accumulates() -> None:
    x = leaf([1.0, 2.0])
    (3.0 * x).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(grad_of(x), [3.0 + 2.0, 3.0 + 4.0])


def test_second_backward_without_retain_graph_raises() -> None:
    x = leaf([1.0, 2.0])
    loss = x.exp().sum()  # exp saves its output: the freed graph cannot be walked again
    loss.backward()
    before = grad_of(x).copy()
    with pytest.raises(RuntimeError, match="second time") as info:
        loss.backward()
    assert "retain_graph" in str(info.value)
    np.testing.assert_array_equal(grad_of(x), before)  # the failed call added nothing


def test_second_backward_without_retain_graph_raises_even_for_linear_ops() -> None:
    x = leaf([1.0, 2.0])
    loss = (x + 1.0).sum()  # nothing saved at all: PyTorch still refuses
    loss.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        loss.backward()


def test_zero_grad_then_backward_gives_a_fresh_gradient() -> None:
    model = nn.Linear(3, 2, dtype="float64")
    x = md.tensor(np.ones((4, 3)))
    model(x).sum().backward()
    first = grad_of(model.weight).copy()
    model.zero_grad()
    assert model.weight.grad is None
    model(x).sum().backward()
    np.testing.assert_array_equal(grad_of(model.weight), first)


def test_diamond_tensor_used_twice() -> None:
    x = leaf([2.0, -1.0])
    y = x * x + x  # x reaches y by three paths
    y.sum().backward()
    np.testing.assert_array_equal(grad_of(x), 2 * np.array([2.0, -1.0]) + 1)


def test_diamond_two_branches_meet() -> None:
    x = leaf([1.5, -0.5, 2.0])
    a = x * 2.0
    b = a * 3.0  # branch 1: b = 6x
    c = a + 4.0  # branch 2: c = 2x + 4
    (b * c).sum().backward()  # L = 6x(2x + 4) = 12x² + 24x → ∂L/∂x = 24x + 24
    np.testing.assert_allclose(grad_of(x), 24 * np.array([1.5, -0.5, 2.0]) + 24, rtol=1e-12)


def test_diamond_with_broadcast_and_reductions() -> None:
    w = leaf([[1.0, 2.0], [3.0, 4.0]])
    b = leaf([0.5, -1.0])
    h = w + b  # b broadcast over rows
    loss = (h.sum(dim=0) * h.mean(dim=0)).sum()  # uses h twice
    loss.backward()
    hv = np.array([[1.5, 1.0], [3.5, 3.0]])
    s, m = hv.sum(0), hv.mean(0)
    dh = np.broadcast_to(m + s / 2, hv.shape)  # ∂(s·m)/∂h_ij = m_j + s_j / 2
    np.testing.assert_allclose(grad_of(w), dh, rtol=1e-12)
    np.testing.assert_allclose(grad_of(b), dh.sum(0), rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# Grad modes


def test_no_grad_builds_no_graph_and_restores() -> None:
    x = leaf([1.0, 2.0])
    assert md.is_grad_enabled()
    with md.no_grad():
        assert not md.is_grad_enabled()
        y = (x * 2.0).exp().sum()
    assert md.is_grad_enabled()
    assert y.grad_fn is None
    assert y.requires_grad is False
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_no_grad_as_decorator() -> None:
    x = leaf([1.0, 2.0])

    @md.no_grad()
    def double(t: md.Tensor) -> md.Tensor:
        assert not md.is_grad_enabled()
        return t * 2.0

    y = double(x)
    assert y.grad_fn is None and not y.requires_grad
    assert md.is_grad_enabled()
    assert double.__name__ == "double"


def test_enable_grad_inside_no_grad() -> None:
    x = leaf([1.0, 2.0])
    with md.no_grad():
        with md.enable_grad():
            y = (x * x).sum()
        z = x * 2.0
        assert not md.is_grad_enabled()
    assert y.requires_grad and y.grad_fn is not None
    assert z.grad_fn is None
    y.backward()
    np.testing.assert_array_equal(grad_of(x), [2.0, 4.0])


def test_grad_mode_restored_after_an_exception() -> None:
    with pytest.raises(KeyError):
        with md.no_grad():
            raise KeyError("boom")
    assert md.is_grad_enabled()


def test_set_grad_enabled() -> None:
    x = leaf([1.0])
    with md.set_grad_enabled(False):
        assert (x * 2.0).grad_fn is None
    with md.set_grad_enabled(True):
        assert (x * 2.0).grad_fn is not None


# ---------------------------------------------------------------------------------------------
# backward's gradient argument


def test_backward_of_non_scalar_needs_gradient() -> None:
    x = leaf([1.0, 2.0, 3.0])
    y = x * 2.0
    with pytest.raises(RuntimeError, match="scalar") as info:
        y.backward()
    assert "(3,)" in str(info.value)  # the message names the output's shape


def test_backward_gradient_of_wrong_shape_raises() -> None:
    x = leaf([1.0, 2.0, 3.0])
    with pytest.raises((RuntimeError, ValueError), match="shape"):
        (x * 2.0).backward(np.ones(2))


def test_gradient_argument_is_a_vector_jacobian_product() -> None:
    a = np.array([[1.0, 2.0, 0.0], [-1.0, 0.5, 3.0]])
    x = leaf([0.5, -1.0, 2.0])
    w = leaf([2.0, 3.0, -1.0])
    y = md.tensor(a) @ (x * w)  # y = A (x ⊙ w), shape (2,)
    v = np.array([10.0, -2.0])
    y.backward(gradient=v)
    # vᵀ J: ∂(vᵀ A (x⊙w))/∂x = (Aᵀ v) ⊙ w, and ⊙ x for w
    np.testing.assert_allclose(grad_of(x), (a.T @ v) * np.array([2.0, 3.0, -1.0]), rtol=1e-12)
    np.testing.assert_allclose(grad_of(w), (a.T @ v) * np.array([0.5, -1.0, 2.0]), rtol=1e-12)


def test_gradient_argument_as_tensor() -> None:
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    y = x * x
    y.backward(md.tensor(np.array([[1.0, 0.0], [0.0, -1.0]])))
    np.testing.assert_array_equal(grad_of(x), [[2.0, 0.0], [0.0, -8.0]])


# ---------------------------------------------------------------------------------------------
# minidl.grad


def test_grad_returns_without_accumulating() -> None:
    x = leaf([1.0, 2.0])
    (gx,) = md.grad((x ** 2).sum(), x)
    np.testing.assert_array_equal(gx.numpy(), [2.0, 4.0])
    assert x.grad is None


def test_grad_allow_unused() -> None:
    x, unused = leaf([1.0, 2.0]), leaf([5.0])
    y = (x * 3.0).sum()
    with pytest.raises(RuntimeError, match="allow_unused"):
        md.grad(y, [x, unused], retain_graph=True)
    gx, gu = md.grad(y, [x, unused], allow_unused=True)
    np.testing.assert_array_equal(gx.numpy(), [3.0, 3.0])
    assert gu is None


def test_grad_with_respect_to_non_leaf_inputs() -> None:
    x = leaf([1.0, -2.0])
    h = x * 3.0
    y = (h * h).sum()
    gh, gx = md.grad(y, [h, x])
    np.testing.assert_allclose(gh.numpy(), 2 * np.array([3.0, -6.0]))
    np.testing.assert_allclose(gx.numpy(), 18 * np.array([1.0, -2.0]))
    assert x.grad is None and h.grad is None


def test_grad_of_an_input_that_does_not_require_grad_raises() -> None:
    x = leaf([1.0])
    c = md.tensor([2.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        md.grad((x * c).sum(), c)


def test_grad_create_graph_gives_differentiable_gradients() -> None:
    x = leaf([0.5, 1.0, -2.0])
    (g,) = md.grad((x ** 3).sum(), x, create_graph=True)
    assert g.requires_grad and g.grad_fn is not None
    np.testing.assert_allclose(g.numpy(), 3 * x.numpy() ** 2)
    (gg,) = md.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), 6 * x.numpy())  # d²/dx² x³ = 6x


def test_grad_without_create_graph_gives_constants() -> None:
    x = leaf([0.5, 1.0])
    (g,) = md.grad((x ** 3).sum(), x)
    assert not g.requires_grad and g.grad_fn is None


# ---------------------------------------------------------------------------------------------
# Higher order


def test_second_derivative_of_cube_through_backward_create_graph() -> None:
    xv = np.array([-1.5, 0.0, 2.0])
    x = leaf(xv)
    (x ** 3).sum().backward(create_graph=True)
    first = x.grad
    np.testing.assert_allclose(first.numpy(), 3 * xv ** 2)
    assert first.grad_fn is not None
    x.grad = None
    first.sum().backward()
    np.testing.assert_allclose(grad_of(x), 6 * xv)


def test_second_derivative_of_scalar_cube() -> None:
    x = md.tensor(np.float64(2.0), requires_grad=True)
    (g,) = md.grad(x ** 3, x, create_graph=True)
    (gg,) = md.grad(g, x)
    assert g.item() == pytest.approx(12.0)
    assert gg.item() == pytest.approx(12.0)
    assert gg.shape == ()


def test_second_derivative_of_product_z_times_x() -> None:
    # semantics.md §8: y = z·x; ∂y/∂x = z, ∂²y/∂x² = 0, ∂²y/∂x∂z = 1.
    x = md.tensor(np.float64(2.0), requires_grad=True)
    z = md.tensor(np.float64(3.0), requires_grad=True)
    y = z * x
    (gx,) = md.grad(y, x, create_graph=True)
    assert gx.item() == 3.0
    assert gx.requires_grad  # it depends on z, so it has a creator
    gxx, gxz = md.grad(gx, [x, z], allow_unused=True)
    assert gxx is None  # gx does not depend on x: unused, as in PyTorch
    assert gxz.item() == 1.0
    # backward() form: the second derivative lands in z.grad, x.grad stays untouched
    x2 = md.tensor(np.float64(2.0), requires_grad=True)
    z2 = md.tensor(np.float64(3.0), requires_grad=True)
    (g2,) = md.grad(z2 * x2, x2, create_graph=True)
    g2.backward()
    assert z2.grad.item() == 1.0
    assert x2.grad is None


def test_first_order_gradient_without_creator_is_a_constant() -> None:
    # y = c·x with a constant c: ∂y/∂x = c has no creator. Differentiating it again must give a
    # clear error (as PyTorch), not an AttributeError from inside the engine.
    x = md.tensor(np.float64(2.0), requires_grad=True)
    c = md.tensor(np.float64(3.0))
    (gx,) = md.grad(c * x, x, create_graph=True)
    assert gx.item() == 3.0
    assert gx.grad_fn is None and not gx.requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        md.grad(gx, x)
    with pytest.raises(RuntimeError, match="does not require grad"):
        gx.backward()


def _mlp_loss(w: md.Tensor, x: np.ndarray, y: np.ndarray) -> md.Tensor:
    """A two-layer tanh network with all its weights in one flat vector w (3·4 + 4 entries)."""
    w1 = w[:12].reshape(3, 4)
    w2 = w[12:].reshape(4, 1)
    out = md.tanh(md.tensor(x) @ w1) @ w2
    return ((out.reshape(-1) - md.tensor(y)) ** 2).mean()


def test_hessian_vector_product_matches_finite_difference_of_gradients() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((5, 3)), rng.standard_normal(5)
    w0 = rng.standard_normal(16) * 0.7
    v = rng.standard_normal(16)
    w = leaf(w0)
    (g,) = md.grad(_mlp_loss(w, x, y), w, create_graph=True)
    (hv,) = md.grad((g * md.tensor(v)).sum(), w)

    def gradient(at: np.ndarray) -> np.ndarray:
        wt = leaf(at)
        _mlp_loss(wt, x, y).backward()
        return grad_of(wt)

    h = 1e-5
    fd = (gradient(w0 + h * v) - gradient(w0 - h * v)) / (2 * h)
    np.testing.assert_allclose(hv.numpy(), fd, rtol=1e-6, atol=1e-8)
    assert np.abs(hv.numpy()).max() > 1e-3  # a non-trivial curvature was checked


# ---------------------------------------------------------------------------------------------
# Non-leaf gradients and gradient ownership


def test_retain_grad_on_a_non_leaf() -> None:
    x = leaf([1.0, 2.0])
    h = x * 3.0
    h.retain_grad()
    assert h.retains_grad
    other = x * 5.0
    (h * h + other).sum().backward()
    np.testing.assert_array_equal(grad_of(h), [6.0, 12.0])
    np.testing.assert_array_equal(grad_of(x), [18.0 + 5.0, 36.0 + 5.0])
    assert other.grad is None  # no retain_grad: non-leaves keep no gradient


def test_leaf_gradients_do_not_alias_each_other() -> None:
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (x + y).sum().backward()
    assert not shares_memory(x.grad.data, y.grad.data)
    x.grad.zero_()
    np.testing.assert_array_equal(grad_of(y), [1.0, 1.0])


def test_leaf_gradients_do_not_alias_the_users_gradient() -> None:
    g = np.array([1.0, -1.0])
    x = leaf([1.0, 2.0])
    (x + 0.0).backward(g)
    assert not shares_memory(x.grad.data, g)
    x.grad.data[0] = 99.0
    assert g[0] == 1.0
    g_tensor = md.tensor(np.array([2.0, 2.0]))
    x2 = leaf([1.0, 2.0])
    x2.reshape(2, 1).reshape(2).backward(g_tensor)
    assert not shares_memory(x2.grad.data, g_tensor.data)
    x3 = leaf([1.0, 2.0])
    x3.backward(g)  # backward on a leaf itself
    assert not shares_memory(x3.grad.data, g)


def test_leaf_gradients_from_slices_do_not_alias() -> None:
    x, y = leaf([1.0, 2.0]), leaf([3.0])
    g = np.array([5.0, 6.0, 7.0])
    md.cat([x, y]).backward(g)  # each gradient is a slice of g
    for t in (x, y):
        assert not shares_memory(t.grad.data, g)
    assert not shares_memory(x.grad.data, x.data)
    np.testing.assert_array_equal(grad_of(x), [5.0, 6.0])
    np.testing.assert_array_equal(grad_of(y), [7.0])


def test_gradient_of_a_scalar_leaf_is_a_zero_dim_array() -> None:
    x = md.tensor(2.0, requires_grad=True)
    (x * x).backward()
    assert x.grad.shape == ()
    assert type(x.grad.data) is type(x.data)  # a 0-d array, never a NumPy scalar
    assert x.grad.device == x.device
    assert repr(x.grad) == repr(md.tensor(4.0))
    x.grad.zero_()  # e.g. optimizer.zero_grad(set_to_none=False) on a scalar parameter
    assert x.grad.item() == 0.0


# ---------------------------------------------------------------------------------------------
# In-place operations


@pytest.mark.parametrize("op", [
    lambda t: t.add_(1.0), lambda t: t.sub_(1.0), lambda t: t.mul_(2.0), lambda t: t.zero_(),
    lambda t: t.fill_(3.0), lambda t: t.copy_(np.ones(2)), lambda t: t.clamp_(0.0, 1.0),
    lambda t: t.__setitem__(0, 5.0),
], ids=["add_", "sub_", "mul_", "zero_", "fill_", "copy_", "clamp_", "setitem"])
def test_inplace_on_leaf_requiring_grad(op) -> None:
    x = leaf([0.5, 2.0])
    with pytest.raises(RuntimeError, match="no_grad"):
        op(x)
    np.testing.assert_array_equal(x.numpy(), [0.5, 2.0])  # unchanged by the refused op
    with md.no_grad():
        out = op(x)
    assert out is None or out is x
    assert x.is_leaf and x.requires_grad
    assert not np.array_equal(x.numpy(), [0.5, 2.0])


def test_inplace_on_tensor_without_grad_is_allowed() -> None:
    x = md.tensor([1.0, 2.0])
    x.add_(1.0)
    x[1] = 0.0
    np.testing.assert_array_equal(x.numpy(), [2.0, 0.0])


# ---------------------------------------------------------------------------------------------
# dtype discipline


def test_python_scalars_do_not_promote_float32() -> None:
    x = md.randn(3, 4)
    assert x.dtype == md.float32
    results = {
        "x * 0.5": x * 0.5, "0.5 * x": 0.5 * x, "x + 1": x + 1, "1 - x": 1 - x, "x / 3": x / 3,
        "2.0 / x": 2.0 / x, "x ** 2": x ** 2, "x ** 0.5": x.abs() ** 0.5, "2 ** x": 2 ** x,
        "np.float64 scalar": x * np.float64(0.5), "mean": x.mean(), "mean dim": x.mean(dim=1),
        "sum": x.sum(), "var": x.var(), "std": x.std(dim=0), "softmax": md.softmax(x, dim=1),
        "log_softmax": md.log_softmax(x, dim=1), "logsumexp": md.logsumexp(x, dim=1),
        "exp": x.exp(), "tanh": x.tanh(), "sigmoid": x.sigmoid(), "relu": x.relu(),
        "clamp": x.clamp(-0.5, 0.5), "maximum": md.maximum(x, 0.0), "where": md.where(x > 0, x, 0.0),
        "cross_entropy": F.cross_entropy(x, md.tensor([0, 1, 2])),
        "cross_entropy smoothing": F.cross_entropy(x, md.tensor([0, 1, 3]), label_smoothing=0.1),
        "nll": F.nll_loss(md.log_softmax(x, dim=1), md.tensor([0, 1, 2])),
        "bce": F.binary_cross_entropy_with_logits(x, md.ones(3, 4)),
        "mse": F.mse_loss(x, md.zeros(3, 4)), "l1": F.l1_loss(x, md.zeros(3, 4)),
        "dropout": F.dropout(x, 0.3),
    }
    wrong = {k: str(v.dtype) for k, v in results.items() if v.dtype != md.float32}
    assert not wrong, f"float32 promoted: {wrong}"


def test_float32_mlp_stays_float32_through_training() -> None:
    md.manual_seed(0)
    model = nn.MLP([8, 16, 4])
    activations = []
    for m in model.modules():
        if m is not model:
            m.register_forward_hook(lambda mod, args, out: activations.append(out.dtype))
    x = md.randn(5, 8)
    y = md.tensor([0, 1, 2, 3, 0])
    for opt in (optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4),
                optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)):
        for _ in range(2):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            assert loss.dtype == md.float32
            loss.backward()
            for name, p in model.named_parameters():
                assert p.grad.dtype == md.float32, name
            opt.step()
            for name, p in model.named_parameters():
                assert p.dtype == md.float32, name
        for state in opt.state.values():
            for k, v in state.items():
                if hasattr(v, "dtype") and getattr(v, "ndim", 0) > 0:
                    assert v.dtype == np.float32, k
    assert activations and all(d == md.float32 for d in activations)


def test_float64_stays_float64() -> None:
    x = md.tensor(np.ones((2, 3)), requires_grad=True)
    y = (x * 0.5 + 1).softmax(dim=1).mean()
    assert y.dtype == md.float64
    y.backward()
    assert x.grad.dtype == md.float64


def test_gradient_dtype_follows_the_leaf() -> None:
    x = md.randn(3, requires_grad=True)
    (x.double() * 2.0).sum().backward()  # the graph goes through float64
    assert x.grad.dtype == md.float32


# ---------------------------------------------------------------------------------------------
# Shape errors


@pytest.mark.parametrize("op", [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b,
                                lambda a, b: a / b, lambda a, b: a ** b],
                         ids=["add", "sub", "mul", "div", "pow"])
@pytest.mark.parametrize("requires_grad", [False, True])
def test_broadcast_error_names_both_shapes(op, requires_grad: bool) -> None:
    a = md.ones(2, 3, requires_grad=requires_grad)
    b = md.ones(4)
    with pytest.raises(ValueError) as info:
        op(a, b)
    assert "(2, 3)" in str(info.value) and "(4,)" in str(info.value)


@pytest.mark.parametrize("sa,sb", [((2, 3), (4, 5)), ((3,), (4,)), ((5, 2, 3), (2, 2)), ((2, 3), (2,))])
def test_matmul_error_names_both_shapes(sa, sb) -> None:
    a, b = md.ones(*sa, requires_grad=True), md.ones(*sb)
    with pytest.raises(ValueError) as info:
        a @ b
    assert str(sa) in str(info.value) and str(sb) in str(info.value)


@settings(max_examples=30, deadline=None)
@given(pair=broadcastable_pair())
def test_broadcasting_gradient_shapes(pair) -> None:
    sa, sb = pair
    a, b = md.ones(*sa, requires_grad=True), md.ones(*sb, requires_grad=True)
    out = a * b
    assert out.shape == np.broadcast_shapes(sa, sb)
    out.sum().backward()
    assert a.grad.shape == sa and b.grad.shape == sb
    # each entry's gradient counts how many output entries it reached
    np.testing.assert_array_equal(a.grad.numpy(), np.full(sa, out.numel() / int(np.prod(sa))))


# ---------------------------------------------------------------------------------------------
# Reductions, max/argmax, transpose/permute


@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_reductions_accept_dim_keepdim_and_axis_keepdims(data) -> None:
    a = data.draw(arrays(data.draw(shapes(min_dims=2, max_dims=3)), non_contiguous=False))
    dim = data.draw(st.integers(-a.ndim, a.ndim - 1))
    keep = data.draw(st.booleans())
    x = md.tensor(a)
    for name, ref in (("sum", np.sum), ("mean", np.mean), ("amax", np.max), ("amin", np.min)):
        expected = ref(a, axis=dim, keepdims=keep)
        torch_style = getattr(x, name)(dim=dim, keepdim=keep)
        numpy_style = getattr(x, name)(axis=dim, keepdims=keep)
        np.testing.assert_allclose(torch_style.numpy(), expected, rtol=1e-12)
        np.testing.assert_allclose(numpy_style.numpy(), expected, rtol=1e-12)
        assert torch_style.shape == expected.shape == numpy_style.shape
    if a.shape[dim] > 1:  # PyTorch's default correction=1 needs two values
        np.testing.assert_allclose(x.var(dim=dim, keepdim=keep).numpy(),
                                   np.var(a, axis=dim, ddof=1, keepdims=keep), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(x.var(axis=dim, keepdims=keep, correction=0).numpy(),
                                   np.var(a, axis=dim, keepdims=keep), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(x.sum(dim=(0, -1)).numpy(), a.sum(axis=(0, -1)), rtol=1e-12)


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "amax", "var", "std", "argmax",
                                  "logsumexp"])
def test_giving_both_dim_and_axis_is_a_type_error(name: str) -> None:
    x = md.ones(2, 3)
    with pytest.raises(TypeError, match="dim"):
        getattr(x, name)(dim=0, axis=0)


def test_max_with_dim_returns_values_and_indices() -> None:
    a = np.array([[1.0, 5.0, 3.0], [7.0, 2.0, 7.5]])
    x = md.tensor(a, requires_grad=True)
    result = x.max(dim=1)
    values, indices = result  # unpacks like PyTorch's (values, indices)
    assert result.values is values and result.indices is indices
    np.testing.assert_array_equal(values.numpy(), [5.0, 7.5])
    np.testing.assert_array_equal(indices.numpy(), [1, 2])
    assert indices.dtype == md.int64 and not indices.requires_grad
    values.sum().backward()
    np.testing.assert_array_equal(grad_of(x), [[0, 1, 0], [0, 0, 1]])
    v_keep, i_keep = x.min(1, keepdim=True)  # positional dim, as x.min(1) in PyTorch
    assert v_keep.shape == (2, 1) and i_keep.shape == (2, 1)
    np.testing.assert_array_equal(i_keep.numpy(), [[0], [1]])


def test_max_without_dim_or_with_axis_returns_values() -> None:
    x = md.tensor(np.array([[1.0, 5.0, 3.0], [7.0, 2.0, 7.5]]))
    full = x.max()
    assert isinstance(full, md.Tensor) and full.shape == () and full.item() == 7.5
    along = x.max(axis=1)
    assert isinstance(along, md.Tensor)
    np.testing.assert_array_equal(along.numpy(), [5.0, 7.5])
    np.testing.assert_array_equal(md.max(x, axis=0).numpy(), [7.0, 5.0, 7.5])


def test_argmax() -> None:
    x = md.tensor(np.array([[1.0, 9.0, 3.0], [8.0, 2.0, 7.5]]), requires_grad=True)
    assert x.argmax().item() == 1  # flattened index
    np.testing.assert_array_equal(x.argmax(dim=1).numpy(), [1, 0])
    np.testing.assert_array_equal(x.argmax(axis=0).numpy(), [1, 0, 1])
    np.testing.assert_array_equal(x.argmin(dim=1).numpy(), [0, 1])
    assert x.argmax(dim=1, keepdim=True).shape == (2, 1)
    r = md.argmax(x, dim=0)
    assert r.dtype == md.int64 and not r.requires_grad and r.grad_fn is None


def test_transpose_swaps_two_axes_and_permute_reorders() -> None:
    a = np.arange(24.0).reshape(2, 3, 4)
    x = md.tensor(a)
    assert x.transpose(0, 2).shape == (4, 3, 2)
    np.testing.assert_array_equal(x.transpose(0, 2).numpy(), np.swapaxes(a, 0, 2))
    np.testing.assert_array_equal(x.transpose(-1, 1).numpy(), np.swapaxes(a, -1, 1))
    np.testing.assert_array_equal(md.transpose(x, 0, 1).numpy(), np.swapaxes(a, 0, 1))
    assert x.permute(2, 0, 1).shape == (4, 2, 3)
    np.testing.assert_array_equal(x.permute(2, 0, 1).numpy(), np.transpose(a, (2, 0, 1)))
    np.testing.assert_array_equal(x.permute((1, 2, 0)).numpy(), np.transpose(a, (1, 2, 0)))
    m = md.tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(m.T.numpy(), np.arange(6.0).reshape(2, 3).T)
    with pytest.raises(ValueError, match="permut"):
        x.permute(0, 1)


# ---------------------------------------------------------------------------------------------
# Comparisons


def test_comparisons_return_bool_tensors_without_grad() -> None:
    x = leaf([1.0, 2.0, 3.0])
    y = leaf([3.0, 2.0, 1.0])
    for result, expected in ((x > y, [False, False, True]), (x >= y, [False, True, True]),
                             (x < 2.0, [True, False, False]), (x <= 2.0, [True, True, False]),
                             (x == y, [False, True, False]), (x != y, [True, False, True])):
        assert isinstance(result, md.Tensor)
        assert result.dtype == md.bool_
        assert not result.requires_grad and result.grad_fn is None
        np.testing.assert_array_equal(result.numpy(), expected)


# ---------------------------------------------------------------------------------------------
# Creating tensors


def test_tensor_copies_its_input() -> None:
    a = np.array([1.0, 2.0])
    t = md.tensor(a)
    a[0] = 100.0
    assert t.numpy()[0] == 1.0
    assert not shares_memory(t.data, a)
    u = md.tensor(t)
    t.data[1] = -1.0
    assert u.numpy()[1] == 2.0
    shared = md.from_numpy(a)  # from_numpy is the sharing one
    a[1] = 7.0
    assert shared.numpy()[1] == 7.0


@pytest.mark.parametrize("data,dtype", [
    (1.5, md.float32), ([1.0, 2.0], md.float32), ([1, 2.5], md.float32), (3, md.int64),
    ([1, 2], md.int64), (True, md.bool_), (np.array([1.0, 2.0]), md.float64),
    (np.array([1, 2], dtype=np.int32), md.int32), (np.array([1.0], dtype=np.float16), md.float16),
])
def test_tensor_dtype_rules(data, dtype) -> None:
    assert md.tensor(data).dtype == dtype


def test_explicit_dtype() -> None:
    assert md.tensor([1, 2], dtype=md.float64).dtype == md.float64
    assert md.tensor(np.array([1.0, 2.0]), dtype="float32").dtype == md.float32


@pytest.mark.parametrize("data", [[1, 2], np.array([1, 2], dtype=np.int32), [True]])
def test_requires_grad_on_a_non_float_tensor_raises(data) -> None:
    with pytest.raises(RuntimeError, match="floating point"):
        md.tensor(data, requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point"):
        md.tensor(data).requires_grad_()


# ---------------------------------------------------------------------------------------------
# Leaving the graph, printing


def test_item_numpy_tolist() -> None:
    x = md.tensor([[1.5, 2.0]], requires_grad=True)
    assert isinstance(x.numpy(), np.ndarray)
    np.testing.assert_array_equal(x.numpy(), [[1.5, 2.0]])
    assert x.tolist() == [[1.5, 2.0]]
    assert md.tensor(3).item() == 3 and isinstance(md.tensor(3).item(), int)
    s = x.sum()
    assert isinstance(s.item(), float) and s.item() == 3.5
    assert md.tensor([[7.0]]).item() == 7.0
    with pytest.raises((ValueError, RuntimeError), match="one element"):
        x.item()


def test_detach_shares_memory_and_leaves_the_graph() -> None:
    x = leaf([1.0, 2.0])
    y = x * 2.0
    d = y.detach()
    assert d.grad_fn is None and not d.requires_grad and d.is_leaf
    assert shares_memory(d.data, y.data)
    np.testing.assert_array_equal(d.numpy(), [2.0, 4.0])


def test_clone_copies_and_stays_in_the_graph() -> None:
    x = leaf([1.0, 2.0])
    c = x.clone()
    assert not shares_memory(c.data, x.data)
    assert c.requires_grad and c.grad_fn is not None
    (c * 3.0).sum().backward()
    np.testing.assert_array_equal(grad_of(x), [3.0, 3.0])


@pytest.mark.numpy_only  # on a GPU backend the repr adds device='gpu'
def test_repr_looks_like_pytorch() -> None:
    assert repr(md.tensor([1.0, 2.0], requires_grad=True)) == "tensor([1., 2.], requires_grad=True)"
    assert repr(md.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(md.tensor([True, False])) == "tensor([ True, False])"
    assert repr(md.tensor([[1.0, 2.0], [3.0, 4.0]])) == "tensor([[1., 2.],\n        [3., 4.]])"
    assert repr(md.tensor(2.0)) == "tensor(2.)"
    y = md.tensor([1.0, 2.0], requires_grad=True) * 2.0
    assert repr(y).startswith("tensor([2., 4.], grad_fn=<Mul")
    r64 = repr(md.tensor(np.array([1.0, 2.0])))
    assert r64.startswith("tensor([1., 2.], dtype=") and "float64" in r64
    p = nn.Parameter(np.array([1.0], dtype=np.float32))
    assert repr(p) == "Parameter containing:\ntensor([1.], requires_grad=True)"
