"""Every op's gradient against central differences in float64, over hypothesis-drawn shapes,
broadcasting and strided (non-contiguous) inputs; and second derivatives for the smooth ones."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl as md
import minidl.nn.functional as F
from minidl.engine.gradcheck import gradcheck, gradgradcheck
from tests.strategies import arrays, broadcastable_pair, shapes

pytestmark = pytest.mark.backends  # also on the stand-in by default: no NumPy may leak into GPU code

SETTINGS = settings(max_examples=25, deadline=None)


def T(a: np.ndarray) -> md.Tensor:
    return md.Tensor(a, requires_grad=True)


# -- elementwise, one input: (function, array options) --------------------------------------
UNARY = {
    "neg": (lambda x: -x, {}),
    "exp": (md.exp, {}),
    "log": (md.log, {"low": 0.2, "high": 4.0}),
    "sqrt": (md.sqrt, {"low": 0.2, "high": 4.0}),
    "abs": (md.abs, {"away_from": (0.0,)}),
    "tanh": (md.tanh, {}),
    "sigmoid": (md.sigmoid, {}),
    "relu": (md.relu, {"away_from": (0.0,)}),
    "leaky_relu": (lambda x: md.leaky_relu(x, 0.2), {"away_from": (0.0,)}),
    "clamp": (lambda x: md.clamp(x, -1.0, 1.5), {"away_from": (-1.0, 1.5)}),
    "pow_scalar": (lambda x: x ** 3, {}),
    "rpow": (lambda x: 2.0 ** x, {}),
    "scalar_arith": (lambda x: (3.0 - x) * 2.0 / 4.0 + 1.0, {}),
    "rdiv": (lambda x: 1.5 / x, {"low": 0.5, "high": 3.0}),
    "softmax_last": (lambda x: md.softmax(x, -1), {}),
    "softmax_first": (lambda x: md.softmax(x, 0), {}),
    "log_softmax": (lambda x: md.log_softmax(x, -1), {}),
    "sum_all": (lambda x: x.sum(), {}),
    "sum_dim0_keep": (lambda x: x.sum(0, keepdim=True), {}),
    "sum_axis_last": (lambda x: x.sum(axis=-1), {}),
    "mean_all": (lambda x: x.mean(), {}),
    "mean_dim": (lambda x: x.mean(dim=0), {}),
    "amax_all": (lambda x: x.max(), {"distinct": True}),
    "amax_axis": (lambda x: x.max(axis=-1), {"distinct": True}),
    "max_dim_values": (lambda x: x.max(dim=0).values, {"distinct": True}),
    "min_dim_keep": (lambda x: x.min(dim=-1, keepdim=True).values, {"distinct": True}),
    "amin_all": (lambda x: md.amin(x), {"distinct": True}),
    "logsumexp": (lambda x: md.logsumexp(x, dim=-1), {}),
    "reshape": (lambda x: x.reshape(-1), {}),
    "view_2d": (lambda x: x.view(1, -1), {}),
    "T": (lambda x: x.T, {}),
    "flatten": (lambda x: x.flatten(), {}),
    "unsqueeze_squeeze": (lambda x: x.unsqueeze(0).squeeze(0) * 2, {}),
    "getitem_slice": (lambda x: x[..., ::2], {}),
    "getitem_int_array": (lambda x: x[np.array([0, 0, -1])], {}),
    "getitem_bool_mask": (lambda x: x[x.data > 0], {"away_from": (0.0,)}),
    "cat_self": (lambda x: md.cat([x, x * 2], dim=0), {}),
    "stack_self": (lambda x: md.stack([x, x], dim=-1), {}),
    "broadcast_to": (lambda x: md.broadcast_to(x, (2,) + x.shape), {}),
    "clone": (lambda x: x.clone() * 1.5, {}),
    "diamond": (lambda x: x * x + md.exp(x) * x, {}),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@SETTINGS
@given(data=st.data())
def test_unary_gradients(name: str, data: st.DataObject) -> None:
    fn, opts = UNARY[name]
    a = data.draw(arrays(data.draw(shapes()), **opts))
    assert gradcheck(fn, [T(a)])


# -- two inputs with broadcasting -------------------------------------------------------------
BINARY = {
    "add": (lambda x, y: x + y, {}, {}),
    "sub": (lambda x, y: x - y, {}, {}),
    "mul": (lambda x, y: x * y, {}, {}),
    "div": (lambda x, y: x / y, {}, {"low": 0.5, "high": 3.0}),
    "pow": (lambda x, y: x ** y, {"low": 0.5, "high": 2.0}, {}),
    "maximum": (md.maximum, {"low": -3, "high": -0.2}, {"low": 0.2, "high": 3}),
    "minimum": (md.minimum, {"low": -3, "high": -0.2}, {"low": 0.2, "high": 3}),
    "where": (lambda x, y: md.where(x.data > 0, x, y), {"away_from": (0.0,)}, {}),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@SETTINGS
@given(data=st.data())
def test_binary_gradients_with_broadcasting(name: str, data: st.DataObject) -> None:
    fn, opts_x, opts_y = BINARY[name]
    sx, sy = data.draw(broadcastable_pair())
    if name in ("maximum", "minimum"):  # mix the two ranges so both branches are taken
        x = data.draw(arrays(sx, **opts_x))
        y = data.draw(arrays(sy, **opts_y))
        x, y = (x, y) if data.draw(st.booleans()) else (-y[...], -x[...]) if sx == sy else (x, y)
    else:
        x, y = data.draw(arrays(sx, **opts_x)), data.draw(arrays(sy, **opts_y))
    assert gradcheck(fn, [T(x), T(y)])


@SETTINGS
@given(data=st.data())
def test_matmul_gradients_batched_and_broadcast(data: st.DataObject) -> None:
    n, k, m = (data.draw(st.integers(1, 4)) for _ in range(3))
    batch_a = data.draw(st.sampled_from([(), (2,), (1,), (3, 1)]))
    batch_b = data.draw(st.sampled_from([(), (2,), (1,)]))
    if batch_a == (3, 1) and batch_b == (2,):
        batch_b = (2,)
    a = data.draw(arrays(batch_a + (n, k)))
    b = data.draw(arrays(batch_b + (k, m)))
    assert gradcheck(lambda x, y: x @ y, [T(a), T(b)])


@pytest.mark.parametrize("shapes_", [((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((4, 2, 3), (3,))])
def test_matmul_gradients_with_vectors(shapes_: tuple[tuple[int, ...], tuple[int, ...]]) -> None:
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal(s) for s in shapes_)
    assert gradcheck(md.matmul, [T(a), T(b)])


@SETTINGS
@given(data=st.data())
def test_linear_gradients(data: st.DataObject) -> None:
    batch = data.draw(st.sampled_from([(3,), (2, 3), ()]))
    n_in, n_out = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    x = data.draw(arrays(batch + (n_in,)))
    w = data.draw(arrays((n_out, n_in)))
    b = data.draw(arrays((n_out,)))
    assert gradcheck(F.linear, [T(x), T(w), T(b)])
    assert gradcheck(lambda x_, w_: F.linear(x_, w_), [T(x), T(w)])


@SETTINGS
@given(data=st.data())
def test_var_std_gradients(data: st.DataObject) -> None:
    a = data.draw(arrays((3, 4), distinct=True))  # distinct: std at zero spread has no gradient
    assert gradcheck(lambda x: x.var(), [T(a)])
    assert gradcheck(lambda x: x.var(dim=0, correction=0), [T(a)])
    assert gradcheck(lambda x: x.std(dim=1), [T(a)])


def test_gather_and_permute_gradients() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4, 2))
    idx = np.array([[[0, 1], [3, 3]], [[2, 2], [1, 0]], [[0, 0], [0, 3]]])
    assert gradcheck(lambda x: md.gather(x, 1, idx), [T(a)])
    assert gradcheck(lambda x: x.permute(2, 0, 1), [T(a)])
    assert gradcheck(lambda x: x.transpose(0, 2), [T(a)])


# -- losses -----------------------------------------------------------------------------------
@SETTINGS
@given(data=st.data())
def test_loss_gradients(data: st.DataObject) -> None:
    n, c = data.draw(st.integers(1, 4)), data.draw(st.integers(2, 5))
    x = data.draw(arrays((n, c)))
    # targets and weights are data: created with minidl.tensor, they live on the test's backend
    t = md.tensor(np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n))))
    w = md.tensor(data.draw(arrays((c,), low=0.1, high=2.0, non_contiguous=False)))
    eps = data.draw(st.sampled_from([0.0, 0.1]))
    assert gradcheck(lambda z: F.cross_entropy(z, t, weight=w, label_smoothing=eps), [T(x)])
    assert gradcheck(lambda z: F.cross_entropy(z, t, reduction="none"), [T(x)])
    assert gradcheck(lambda z: F.nll_loss(F.log_softmax(z, 1), t), [T(x)])
    q = md.tensor(data.draw(arrays((n, c), low=0.0, high=1.0)))
    assert gradcheck(lambda z: F.cross_entropy(z, q), [T(x)])
    y = md.tensor((data.draw(arrays((n, c), low=0.0, high=1.0)) > 0.5).astype(float))
    pw = md.tensor(data.draw(arrays((c,), low=0.5, high=3.0, non_contiguous=False)))
    assert gradcheck(lambda z: F.binary_cross_entropy_with_logits(z, y, pos_weight=pw), [T(x)])
    target = data.draw(arrays((n, c)))
    assert gradcheck(lambda z, u: F.mse_loss(z, u), [T(x), T(target)])


# -- second derivatives -----------------------------------------------------------------------
SECOND_ORDER = ["exp", "log", "sqrt", "tanh", "sigmoid", "pow_scalar", "rpow", "softmax_last",
                "log_softmax", "logsumexp", "diamond", "mean_dim", "getitem_int_array", "rdiv"]


@pytest.mark.parametrize("name", SECOND_ORDER)
@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_second_derivatives(name: str, data: st.DataObject) -> None:
    fn, opts = UNARY[name]
    a = data.draw(arrays(data.draw(shapes(max_dims=2)), **opts))
    assert gradgradcheck(fn, [T(a)])


@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_second_derivatives_of_binary_ops_and_losses(data: st.DataObject) -> None:
    x = data.draw(arrays((2, 3), low=0.5, high=2.0))
    y = data.draw(arrays((3,), low=0.5, high=2.0))
    assert gradgradcheck(lambda a, b: a * b / (a + b) + a ** b, [T(x), T(y)])
    assert gradgradcheck(lambda a, b: a @ b.reshape(3, 1), [T(x), T(y)])
    t = md.tensor([0, 2])
    assert gradgradcheck(lambda a: F.cross_entropy(a, t, label_smoothing=0.1), [T(x)])
    labels = md.tensor((x > 1).astype(float))  # fixed before the check perturbs x
    assert gradgradcheck(lambda a: F.binary_cross_entropy_with_logits(a, labels), [T(x)])
    w = data.draw(arrays((4, 3)))
    assert gradgradcheck(lambda a, b: F.linear(a, b).tanh(), [T(x), T(w)])
