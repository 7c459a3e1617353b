"""The losses PyTorch has and minidl added for conformance (issue 14 §7): binary_cross_entropy,
smooth_l1_loss, huber_loss, softplus, and cross-entropy / NLL on (N, C, d₁, …) inputs.

Hand-computed vectors follow PyTorch's documented formulas (and its CPU kernels in
aten/src/ATen/native/Loss.cpp for the clamps); the tests need only NumPy.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minidl as md
import minidl.nn.functional as F  # noqa: N812 - PyTorch's customary name
from minidl import nn
from tests.test_losses import cross_entropy_np, log_softmax_np

pytestmark = pytest.mark.backends


def leaf(a) -> md.Tensor:
    return md.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


def D(a):
    return None if a is None else md.tensor(np.asarray(a))


def floats(shape, low, high):
    return hnp.arrays(np.float64, shape, elements=st.floats(low, high, allow_nan=False, width=64))


# ---------------------------------------------------------------------------------------------
# binary_cross_entropy / BCELoss


def bce_np(x, y, w=1.0):
    return -w * (y * np.maximum(np.log(x), -100) + (1 - y) * np.maximum(np.log1p(-x), -100))


def test_bce_hand_computed() -> None:
    x = leaf([0.25, 0.5, 0.9])
    y = D([0.0, 1.0, 1.0])
    expected = [-np.log(0.75), -np.log(0.5), -np.log(0.9)]
    np.testing.assert_allclose(F.binary_cross_entropy(x, y, reduction="none").numpy(), expected, rtol=1e-12)
    assert F.binary_cross_entropy(x, y).item() == pytest.approx(np.mean(expected), rel=1e-12)
    assert nn.BCELoss(reduction="sum")(x, y).item() == pytest.approx(np.sum(expected), rel=1e-12)
    # weight [1, 2, 4]: ℓ·w, then the mean over the 3 elements (not over Σw, unlike cross_entropy)
    got = nn.BCELoss(weight=D([1.0, 2.0, 4.0]))(x, y).item()
    assert got == pytest.approx((expected[0] + 2 * expected[1] + 4 * expected[2]) / 3, rel=1e-12)
    F.binary_cross_entropy(x, y, reduction="sum").backward()
    # ∂ℓ/∂x = (x − y)/(x(1 − x)):  0.25/0.1875, −0.5/0.25, −0.1/0.09
    np.testing.assert_allclose(x.grad.numpy(), [4 / 3, -2.0, -10 / 9], rtol=1e-12)


def test_bce_clamps_the_log_at_minus_100_and_the_gradient_at_1e_12_as_pytorch() -> None:
    # PyTorch: binary_cross_entropy([0, 1, 0, 1], [0, 0, 1, 1], reduction='none') = [0, 100, 100, 0];
    # its backward is (x − y)/max(x(1 − x), 1e-12) = [0, 1e12, −1e12, 0]
    for dtype in (np.float32, np.float64):
        x = md.tensor(np.array([0.0, 1.0, 0.0, 1.0], dtype=dtype), requires_grad=True)
        y = D(np.array([0.0, 0.0, 1.0, 1.0], dtype=dtype))
        loss = F.binary_cross_entropy(x, y, reduction="none")
        np.testing.assert_array_equal(loss.numpy(), [0.0, 100.0, 100.0, 0.0])
        loss.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), [0.0, 1e12, -1e12, 0.0], rtol=1e-6)
        assert x.grad.dtype == dtype and loss.dtype == dtype


def test_bce_soft_label_has_zero_gradient_where_x_equals_y() -> None:
    x = leaf([0.3, 0.7])
    F.binary_cross_entropy(x, D([0.3, 0.7]), reduction="sum").backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.0], atol=1e-15)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_matches_formula_with_broadcast_weight(reduction: str) -> None:
    rng = np.random.default_rng(1)
    x = rng.uniform(0.01, 0.99, (5, 3))
    y = rng.uniform(0, 1, (5, 3))
    w = rng.uniform(0, 2, (3,))
    per = bce_np(x, y, w)
    expected = {"none": per, "sum": per.sum(), "mean": per.mean()}[reduction]
    np.testing.assert_allclose(F.binary_cross_entropy(md.tensor(x), D(y), D(w), reduction).numpy(), expected,
                               rtol=1e-12)


def test_bce_gradient_check() -> None:
    rng = np.random.default_rng(2)
    y, w = D(rng.uniform(0, 1, (4, 3))), D(rng.uniform(0.5, 2, (4, 1)))
    md.gradcheck(lambda x: F.binary_cross_entropy(x, y, weight=w), [leaf(rng.uniform(0.05, 0.95, (4, 3)))])
    md.gradgradcheck(lambda x: F.binary_cross_entropy(x, y), [leaf(rng.uniform(0.05, 0.95, (4, 3)))])


@settings(max_examples=40, deadline=None)
@given(p=floats((6,), 0.01, 0.99), y=floats((6,), 0.0, 1.0))
def test_bce_is_bce_with_logits_of_the_logit_and_is_smallest_at_x_equal_y(p, y) -> None:
    logits = np.log(p) - np.log1p(-p)
    np.testing.assert_allclose(F.binary_cross_entropy(md.tensor(p), D(y), reduction="none").numpy(),
                               F.binary_cross_entropy_with_logits(md.tensor(logits), D(y), reduction="none").numpy(),
                               rtol=1e-9, atol=1e-12)
    # Gibbs' inequality: the cross-entropy of y against p is at least y's own entropy
    yc = np.clip(y, 0.01, 0.99)
    assert (F.binary_cross_entropy(md.tensor(p), D(yc), reduction="none").numpy()
            >= F.binary_cross_entropy(md.tensor(yc), D(yc), reduction="none").numpy() - 1e-12).all()


@pytest.mark.parametrize("x,y,match", [
    ([0.5, 1.5], [0.0, 1.0], r"input must be in \[0, 1\] \(got 1\.5\)"),
    ([0.5, -0.1], [0.0, 1.0], r"input must be in \[0, 1\] \(got -0\.1\)"),
    ([0.5, np.nan], [0.0, 1.0], r"input must be in \[0, 1\] \(got nan\)"),
    ([0.5, 0.5], [0.0, 2.0], r"target must be in \[0, 1\] \(got 2\)"),
], ids=["above", "below", "nan", "target"])
def test_bce_out_of_range_names_the_argument_and_value(x, y, match) -> None:
    with pytest.raises(ValueError, match=match):
        F.binary_cross_entropy(md.tensor(np.array(x)), D(y))


def test_bce_shape_and_weight_errors() -> None:
    with pytest.raises(ValueError, match=r"target shape \(4,\) must equal input shape \(4, 1\)"):
        F.binary_cross_entropy(md.zeros(4, 1), md.zeros(4))
    with pytest.raises(ValueError, match=r"weight of shape \(3,\) does not broadcast .* \(4, 2\)"):
        F.binary_cross_entropy(md.zeros(4, 2), md.zeros(4, 2), weight=md.ones(3))
    with pytest.raises(ValueError, match="reduction"):
        nn.BCELoss(reduction="average")(md.zeros(2), md.zeros(2))


# ---------------------------------------------------------------------------------------------
# smooth_l1_loss and huber_loss


D_VALUES = [-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0]


def test_smooth_l1_hand_computed_including_the_boundary() -> None:
    x = leaf(D_VALUES)
    zero = D(np.zeros(7))
    # β = 1: ½d² inside |d| < 1, |d| − ½ outside; at |d| = 1 both give ½
    expected = [2.5, 0.5, 0.125, 0.0, 0.125, 0.5, 2.5]
    np.testing.assert_allclose(F.smooth_l1_loss(x, zero, reduction="none").numpy(), expected, rtol=1e-15)
    assert nn.SmoothL1Loss()(x, zero).item() == pytest.approx(sum(expected) / 7, rel=1e-15)
    F.smooth_l1_loss(x, zero, reduction="sum").backward()
    np.testing.assert_array_equal(x.grad.numpy(), [-1.0, -1.0, -0.5, 0.0, 0.5, 1.0, 1.0])
    # β = 2 at d = 2 exactly: the linear branch, 2 − 1 = 1 = ½·2²/2, slope 1 = d/β
    x2 = leaf([2.0, -2.0, 1.0])
    loss = F.smooth_l1_loss(x2, D(np.zeros(3)), reduction="none", beta=2.0)
    np.testing.assert_array_equal(loss.numpy(), [1.0, 1.0, 0.25])
    loss.sum().backward()
    np.testing.assert_array_equal(x2.grad.numpy(), [1.0, -1.0, 0.5])


def test_smooth_l1_with_beta_zero_is_l1_and_its_gradient_at_zero_is_zero() -> None:
    x = leaf(D_VALUES)
    zero = D(np.zeros(7))
    loss = F.smooth_l1_loss(x, zero, reduction="sum", beta=0.0)
    assert loss.item() == pytest.approx(9.0)
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.sign(D_VALUES))  # sign(0) = 0, as PyTorch's l1


def test_huber_hand_computed_including_the_boundary() -> None:
    x = leaf([-3.0, 2.0, 1.0, 0.0])
    zero = D(np.zeros(4))
    # δ = 2: ½d² inside |d| < 2, 2·(|d| − 1) outside; at |d| = 2 both give 2
    loss = F.huber_loss(x, zero, reduction="none", delta=2.0)
    np.testing.assert_array_equal(loss.numpy(), [4.0, 2.0, 0.5, 0.0])
    assert nn.HuberLoss(delta=2.0, reduction="sum")(x, zero).item() == 6.5
    loss.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [-2.0, 2.0, 1.0, 0.0])


@settings(max_examples=40, deadline=None)
@given(x=floats((5,), -5, 5), y=floats((5,), -5, 5), delta=st.floats(0.1, 4.0))
def test_huber_is_delta_times_smooth_l1(x, y, delta) -> None:
    huber = F.huber_loss(md.tensor(x), D(y), reduction="none", delta=delta).numpy()
    smooth = F.smooth_l1_loss(md.tensor(x), D(y), reduction="none", beta=delta).numpy()
    np.testing.assert_allclose(huber, delta * smooth, rtol=1e-12, atol=1e-15)
    # between the quadratic ½d² and the linear δ|d| − ½δ² bounds; never negative
    d = np.abs(x - y)
    assert (huber >= 0).all() and (huber <= 0.5 * d * d + 1e-12).all()
    assert (huber >= delta * d - 0.5 * delta * delta - 1e-12).all()


@pytest.mark.parametrize("loss", [lambda x, y: F.smooth_l1_loss(x, y, beta=0.7),
                                  lambda x, y: F.huber_loss(x, y, delta=0.7)], ids=["smooth_l1", "huber"])
def test_smooth_l1_and_huber_gradient_check(loss) -> None:
    rng = np.random.default_rng(3)
    x, y = leaf(rng.uniform(-2, 2, (3, 4))), leaf(rng.uniform(-2, 2, (3, 4)))
    md.gradcheck(loss, [x, y])  # the gradient reaches the target too


def test_smooth_l1_and_huber_errors() -> None:
    with pytest.raises(ValueError, match=r"beta must be >= 0 \(got -1"):
        F.smooth_l1_loss(md.zeros(2), md.zeros(2), beta=-1.0)
    with pytest.raises(ValueError, match=r"delta must be > 0 \(got 0"):
        F.huber_loss(md.zeros(2), md.zeros(2), delta=0.0)
    with pytest.raises(ValueError, match=r"delta must be > 0"):
        nn.HuberLoss(delta=-1.0)
    with pytest.raises(ValueError) as info:
        F.huber_loss(md.zeros(8, 1), md.zeros(8))
    assert "(8, 1)" in str(info.value) and "(8,)" in str(info.value)


# ---------------------------------------------------------------------------------------------
# softplus


def test_softplus_hand_computed_and_its_threshold() -> None:
    x = leaf([0.0, -40.0, 1.0, 20.0, 20.5, 30.0])
    y = F.softplus(x)
    expected = [np.log(2), np.exp(-40.0), np.log1p(np.e), np.log1p(np.exp(20.0)), 20.5, 30.0]
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-15)
    assert y.numpy()[1] > 0  # log1p: not log(1 + 4e-18) = 0
    assert y.numpy()[3] != 20.0  # βx = threshold exactly: still the log branch (PyTorch's ">")
    y.sum().backward()
    s = 1 / (1 + np.exp(-np.array([0.0, -40.0, 1.0, 20.0])))
    np.testing.assert_allclose(x.grad.numpy(), [*s, 1.0, 1.0], rtol=1e-15)
    # β = 2: log(1 + e^{2x})/2, and the linear branch starts at x > threshold/β
    z = F.softplus(leaf([0.0, 5.0, 10.5]), beta=2.0, threshold=20.0).numpy()
    np.testing.assert_allclose(z, [np.log(2) / 2, np.log1p(np.exp(10.0)) / 2, 10.5], rtol=1e-15)
    m = nn.Softplus(beta=2.0, threshold=10.0)
    assert repr(m) == "Softplus(beta=2.0, threshold=10.0)"
    np.testing.assert_allclose(m(leaf([5.0, 6.0])).numpy(), [np.log1p(np.exp(10.0)) / 2, 6.0], rtol=1e-15)


def test_softplus_float32_at_huge_inputs_is_finite_without_overflow_warnings() -> None:
    # e^{1e4} overflows; the log branch is evaluated at 0 where the linear branch is taken, so
    # no RuntimeWarning (an error in this suite) and no inf·0 in the gradient
    x = md.tensor(np.array([-1e4, 0.0, 1e4], dtype=np.float32), requires_grad=True)
    y = F.softplus(x)
    assert y.dtype == md.float32
    np.testing.assert_array_equal(y.numpy(), np.array([0.0, np.log(2), 1e4], dtype=np.float32))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.5, 1.0])


@settings(max_examples=40, deadline=None)
@given(x=floats((6,), -15, 15), beta=st.sampled_from([0.5, 1.0, 3.0]))
def test_softplus_properties(x, beta) -> None:
    y = F.softplus(md.tensor(x), beta=beta).numpy()
    assert (y > 0).all() and (y >= np.maximum(x, 0)).all()
    # softplus(x) − softplus(−x) = x, exactly where both sides use the log branch
    inside = np.abs(beta * x) <= 20
    np.testing.assert_allclose((y - F.softplus(md.tensor(-x), beta=beta).numpy())[inside], x[inside], atol=1e-12)
    t = leaf(x)
    F.softplus(t, beta=beta).sum().backward()
    # σ(βx), and exactly 1 on the linear branch (PyTorch's threshold 20)
    np.testing.assert_allclose(t.grad.numpy(), np.where(beta * x > 20, 1.0, 1 / (1 + np.exp(-beta * x))),
                               rtol=1e-12)


def test_softplus_gradient_checks() -> None:
    x = np.array([-3.0, -0.5, 0.0, 0.4, 2.0, 25.0])
    md.gradcheck(lambda t: F.softplus(t, beta=1.5), [leaf(x)])
    md.gradgradcheck(lambda t: F.softplus(t, beta=1.5), [leaf(x)])


# ---------------------------------------------------------------------------------------------
# cross_entropy / nll_loss on (N, C, d₁, …)


RNG = np.random.default_rng(4)
X4 = RNG.standard_normal((2, 3, 4, 5))
T4 = RNG.integers(0, 3, (2, 4, 5))
W3 = np.array([0.5, 2.0, 1.5])


def rows(x):
    return np.moveaxis(x, 1, -1).reshape(-1, x.shape[1])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("extras", [{}, {"weight": W3}, {"ignore_index": 1}, {"label_smoothing": 0.2},
                                    {"weight": W3, "ignore_index": 0, "label_smoothing": 0.1}],
                         ids=["plain", "weight", "ignore", "smoothing", "all"])
def test_cross_entropy_per_position_is_the_loss_of_every_position(reduction, extras) -> None:
    expected = cross_entropy_np(rows(X4), T4.reshape(-1), reduction=reduction, **extras)
    if reduction == "none":
        expected = expected.reshape(2, 4, 5)
    kw = {k: D(v) if k == "weight" else v for k, v in extras.items()}
    got = F.cross_entropy(md.tensor(X4), D(T4), reduction=reduction, **kw)
    assert got.shape == np.shape(expected)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(nn.CrossEntropyLoss(reduction=reduction, **kw)(md.tensor(X4), D(T4)).numpy(),
                               expected, rtol=1e-12, atol=1e-15)
    if "label_smoothing" not in extras:  # nll_loss of log_softmax over the class axis: the same
        nll = F.nll_loss(F.log_softmax(md.tensor(X4), dim=1), D(T4), reduction=reduction, **kw)
        np.testing.assert_allclose(nll.numpy(), expected, rtol=1e-12, atol=1e-15)


def test_cross_entropy_per_position_one_spatial_axis_and_probability_targets() -> None:
    x = RNG.standard_normal((3, 4, 6))  # (N, C, L): a sequence
    q = RNG.random((3, 4, 6))
    q /= q.sum(axis=1, keepdims=True)
    lp = log_softmax_np(rows(x))
    expected = -(lp * rows(q)).sum(axis=1)
    got = F.cross_entropy(md.tensor(x), D(q), reduction="none")
    np.testing.assert_allclose(got.numpy(), expected.reshape(3, 6), rtol=1e-12)
    assert F.cross_entropy(md.tensor(x), D(q)).item() == pytest.approx(expected.mean(), rel=1e-12)


def test_cross_entropy_per_position_gradients() -> None:
    x = RNG.standard_normal((2, 3, 2, 2))
    t = D(RNG.integers(0, 3, (2, 2, 2)))
    md.gradcheck(lambda z: F.cross_entropy(z, t, weight=D(W3), label_smoothing=0.1), [leaf(x)])
    md.gradcheck(lambda z: F.nll_loss(F.log_softmax(z, dim=1), t, reduction="none"), [leaf(x)])
    # the gradient is softmax − one-hot over the class axis, per position, divided by N·H·W
    z = leaf(x)
    F.cross_entropy(z, t).backward()
    p = np.exp(x - x.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    onehot = np.moveaxis(np.eye(3)[t.numpy()], -1, 1)
    np.testing.assert_allclose(z.grad.numpy(), (p - onehot) / 8, rtol=1e-10, atol=1e-15)


def test_cross_entropy_per_position_bad_target_shapes() -> None:
    with pytest.raises(ValueError) as info:
        F.cross_entropy(md.zeros(2, 3, 4), md.zeros(2, 3, dtype=md.int64))
    msg = str(info.value)
    assert "(2, 4)" in msg and "(2, 3)" in msg and "(2, 3, 4)" in msg
    with pytest.raises(ValueError, match=r"^nll_loss: .*\(2, 4\)"):
        F.nll_loss(md.zeros(2, 3, 4), md.zeros(2, 5, dtype=md.int64))
    with pytest.raises(ValueError, match="probability targets"):
        F.cross_entropy(md.zeros(2, 3, 4), md.zeros(2, 4, 3))
    with pytest.raises(IndexError, match=r"^nll_loss: target holds class 3"):
        F.nll_loss(md.zeros(2, 3, 4), md.full((2, 4), 3, dtype=md.int64))


def test_nll_loss_unbatched() -> None:
    lp = F.log_softmax(md.tensor(X4[0, :, 0, 0]), dim=0)
    ce = F.cross_entropy(md.tensor(X4[0, :, 0, 0]), D(np.int64(2)))
    assert F.nll_loss(lp, D(np.int64(2))).item() == pytest.approx(ce.item(), rel=1e-12)


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_per_position_cross_entropy_is_the_row_loss_of_the_moved_class_axis(data):
    n, c = data.draw(st.integers(1, 3)), data.draw(st.integers(2, 4))
    spatial = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=2))
    x = data.draw(floats((n, c, *spatial), -20, 20))
    t = data.draw(hnp.arrays(np.int64, (n, *spatial), elements=st.integers(-1, c - 1)))  # −1: ignored
    if (t == -1).all():
        t.reshape(-1)[0] = 0
    reduction = data.draw(st.sampled_from(["mean", "sum", "none"]))
    smoothing = data.draw(st.sampled_from([0.0, 0.1]))
    got = F.cross_entropy(md.tensor(x), D(t), ignore_index=-1, reduction=reduction, label_smoothing=smoothing)
    flat = F.cross_entropy(md.tensor(rows(x)), D(t.reshape(-1)), ignore_index=-1, reduction=reduction,
                           label_smoothing=smoothing)
    expected = flat.numpy().reshape(n, *spatial) if reduction == "none" else flat.numpy()
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-14)
    if reduction == "none":  # each position's loss is ≥ 0 and 0 where ignored
        assert (got.numpy() >= 0).all() and (got.numpy()[t == -1] == 0).all()
