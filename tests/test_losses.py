"""Losses against plain NumPy formulas, hand-computed values, numerical stability and bad inputs.

The NumPy reference formulas below were checked once against torch.nn.functional (they agree
to 1e-12 for every reduction, with class weights, ignore_index, label smoothing and probability
targets); the tests themselves need only NumPy.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl as md
import minidl.nn.functional as F  # noqa: N812 - PyTorch's customary name
from minidl import nn
from tests.strategies import arrays, shapes

pytestmark = pytest.mark.backends  # also run on the stand-in (no NumPy may leak into GPU code)


def log_softmax_np(x: np.ndarray) -> np.ndarray:
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def cross_entropy_np(x: np.ndarray, t: np.ndarray, weight: np.ndarray | None = None,
                     ignore_index: int = -100, reduction: str = "mean",
                     label_smoothing: float = 0.0) -> np.ndarray:
    """PyTorch's cross-entropy for class-index targets, written out."""
    n, c = x.shape
    lp = log_softmax_np(x)
    w = np.ones(c) if weight is None else weight
    kept = t != ignore_index
    safe = np.where(kept, t, 0)
    nll = -lp[np.arange(n), safe] * w[safe] * kept
    smooth = -(lp * w).sum(axis=1) / c * kept
    per_sample = (1 - label_smoothing) * nll + label_smoothing * smooth
    if reduction == "none":
        return per_sample
    if reduction == "sum":
        return per_sample.sum()
    return per_sample.sum() / (w[safe] * kept).sum()


def soft_cross_entropy_np(x: np.ndarray, q: np.ndarray, weight: np.ndarray | None = None,
                          reduction: str = "mean", label_smoothing: float = 0.0) -> np.ndarray:
    """PyTorch's cross-entropy for probability targets: −Σ_c w_c q_c log p_c, mean over N."""
    c = x.shape[1]
    w = np.ones(c) if weight is None else weight
    q = (1 - label_smoothing) * q + label_smoothing / c
    per_sample = -(log_softmax_np(x) * w * q).sum(axis=1)
    return {"none": per_sample, "sum": per_sample.sum(), "mean": per_sample.mean()}[reduction]


def bce_with_logits_np(x: np.ndarray, y: np.ndarray, weight=None, pos_weight=None) -> np.ndarray:
    """−w [pw·y·log σ(x) + (1 − y)·log(1 − σ(x))], with log σ(x) = −log(1 + e⁻ˣ) (stable)."""
    pw = 1.0 if pos_weight is None else pos_weight
    w = 1.0 if weight is None else weight
    return w * (pw * y * np.logaddexp(0, -x) + (1 - y) * np.logaddexp(0, x))


def leaf(a) -> md.Tensor:
    return md.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


def D(a):
    """Targets, weights and labels are data: made with minidl.tensor they live on the test's
    backend, as the logits do (None stays None)."""
    return None if a is None else md.tensor(np.asarray(a))


RNG = np.random.default_rng(0)
X = RNG.standard_normal((6, 4))
T = np.array([0, 3, 1, 1, 2, 3])
W = np.array([0.5, 2.0, 1.0, 3.0])
Q = RNG.random((6, 4))
Q /= Q.sum(axis=1, keepdims=True)


# ---------------------------------------------------------------------------------------------
# Cross-entropy values


def test_cross_entropy_hand_computed() -> None:
    # logits [0, ln 3] → p = [1/4, 3/4]; target 1: −ln(3/4); target 0: −ln(1/4)
    x = md.tensor(np.array([[0.0, np.log(3.0)], [0.0, np.log(3.0)]]))
    t = D([1, 0])
    np.testing.assert_allclose(F.cross_entropy(x, t, reduction="none").numpy(),
                               [-np.log(0.75), -np.log(0.25)], rtol=1e-12)
    np.testing.assert_allclose(F.cross_entropy(x, t).item(), (np.log(4 / 3) + np.log(4)) / 2, rtol=1e-12)
    # class weights [1, 3]: weighted mean = (3·ln(4/3) + 1·ln 4) / (3 + 1)
    np.testing.assert_allclose(F.cross_entropy(x, t, weight=D([1.0, 3.0])).item(),
                               (3 * np.log(4 / 3) + np.log(4)) / 4, rtol=1e-12)
    # uniform logits over C classes: the loss is ln C whatever the target
    assert F.cross_entropy(md.zeros(3, 10), D([0, 4, 9])).item() == pytest.approx(np.log(10))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weight", [None, W], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
@pytest.mark.parametrize("ignore", [False, True], ids=["all_kept", "ignore_index"])
def test_cross_entropy_matches_formula(reduction: str, weight, label_smoothing: float, ignore: bool) -> None:
    t = T.copy()
    if ignore:
        t[[2, 4]] = -100
    expected = cross_entropy_np(X, t, weight, reduction=reduction, label_smoothing=label_smoothing)
    got = F.cross_entropy(md.tensor(X), D(t), weight=D(weight), reduction=reduction,
                          label_smoothing=label_smoothing)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=1e-15)
    module = nn.CrossEntropyLoss(weight=D(weight), reduction=reduction, label_smoothing=label_smoothing)
    np.testing.assert_allclose(module(md.tensor(X), D(t)).numpy(), expected, rtol=1e-12, atol=1e-15)


def test_cross_entropy_custom_ignore_index_inside_the_class_range() -> None:
    t = np.array([0, 1, 2, 1, 0, 3])
    expected = cross_entropy_np(X, t, ignore_index=1)
    assert F.cross_entropy(md.tensor(X), D(t), ignore_index=1).item() == pytest.approx(expected, rel=1e-12)


def test_ignored_samples_get_zero_gradient() -> None:
    x = leaf(X)
    t = T.copy()
    t[[1, 5]] = -100
    F.cross_entropy(x, D(t), label_smoothing=0.1).backward()
    assert not x.grad.numpy()[[1, 5]].any()
    assert x.grad.numpy()[[0, 2, 3, 4]].any()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.3])
def test_cross_entropy_with_probability_targets(reduction: str, label_smoothing: float) -> None:
    expected = soft_cross_entropy_np(X, Q, W, reduction, label_smoothing)
    got = F.cross_entropy(md.tensor(X), D(Q), weight=D(W), reduction=reduction,
                          label_smoothing=label_smoothing)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)


def test_one_hot_probability_targets_equal_class_targets() -> None:
    one_hot = np.eye(4)[T]
    np.testing.assert_allclose(F.cross_entropy(md.tensor(X), D(one_hot)).item(),
                               F.cross_entropy(md.tensor(X), D(T)).item(), rtol=1e-12)


def test_cross_entropy_gradient_is_softmax_minus_one_hot_over_n() -> None:
    x = leaf(X)
    F.cross_entropy(x, D(T)).backward()
    p = np.exp(log_softmax_np(X))
    np.testing.assert_allclose(x.grad.numpy(), (p - np.eye(4)[T]) / len(T), rtol=1e-10, atol=1e-15)


def test_cross_entropy_accepts_target_tensors_and_int32() -> None:
    ref = cross_entropy_np(X, T)
    assert F.cross_entropy(md.tensor(X), md.tensor(T)).item() == pytest.approx(ref, rel=1e-12)
    assert F.cross_entropy(md.tensor(X), D(T.astype(np.int32))).item() == pytest.approx(ref, rel=1e-12)
    assert F.cross_entropy(md.tensor(X), D(T.astype(np.uint8))).item() == pytest.approx(ref, rel=1e-12)


@pytest.mark.numpy_only  # on the CPU, plain NumPy arrays are fine as targets and weights
def test_numpy_arrays_as_targets_and_weights() -> None:
    for t in (T, T.astype(np.int32)):
        np.testing.assert_allclose(F.cross_entropy(md.tensor(X), t, weight=W, label_smoothing=0.1).item(),
                                   cross_entropy_np(X, T, W, label_smoothing=0.1), rtol=1e-12)
    np.testing.assert_allclose(F.cross_entropy(md.tensor(X), Q).item(), soft_cross_entropy_np(X, Q),
                               rtol=1e-12)
    y = (Q > 0.25).astype(np.float32)  # float32 labels for float64 logits
    np.testing.assert_allclose(F.binary_cross_entropy_with_logits(md.tensor(X), y, pos_weight=W).item(),
                               bce_with_logits_np(X, y.astype(np.float64), pos_weight=W).mean(), rtol=1e-12)


def test_unbatched_cross_entropy() -> None:
    got = F.cross_entropy(md.tensor(X[0]), D(T[0]))
    assert got.item() == pytest.approx(cross_entropy_np(X[:1], T[:1]), rel=1e-12)


# ---------------------------------------------------------------------------------------------
# nll_loss and log_softmax


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_of_log_softmax_equals_cross_entropy(reduction: str) -> None:
    t = T.copy()
    t[3] = -100
    for weight in (None, W):
        nll = F.nll_loss(F.log_softmax(md.tensor(X), dim=1), D(t), weight=D(weight), reduction=reduction)
        ce = F.cross_entropy(md.tensor(X), D(t), weight=D(weight), reduction=reduction)
        np.testing.assert_allclose(nll.numpy(), ce.numpy(), rtol=1e-12)
        np.testing.assert_allclose(nn.NLLLoss(weight=D(weight), reduction=reduction)(
            nn.LogSoftmax(dim=1)(md.tensor(X)), D(t)).numpy(), ce.numpy(), rtol=1e-12)


def test_nll_and_cross_entropy_gradients_agree() -> None:
    a, b = leaf(X), leaf(X)
    F.nll_loss(F.log_softmax(a, dim=1), D(T), weight=D(W)).backward()
    F.cross_entropy(b, D(T), weight=D(W)).backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-15)


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_log_softmax_is_idempotent(data) -> None:
    # feeding log_softmax outputs into cross_entropy (a common slip) gives the same loss
    a = data.draw(arrays(data.draw(shapes(min_dims=2, max_dims=2)), low=-50, high=50))
    once = F.log_softmax(md.tensor(a), dim=1)
    twice = F.log_softmax(once, dim=1)
    np.testing.assert_allclose(twice.numpy(), once.numpy(), rtol=1e-10, atol=1e-10)
    t = md.zeros(a.shape[0], dtype=md.int64)
    np.testing.assert_allclose(F.cross_entropy(once, t).item(), F.cross_entropy(md.tensor(a), t).item(),
                               rtol=1e-10)


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_softmax_is_a_distribution(data) -> None:
    a = data.draw(arrays(data.draw(shapes(min_dims=1, max_dims=3)), low=-1e4, high=1e4))
    dim = data.draw(st.integers(-a.ndim, a.ndim - 1))
    p = md.softmax(md.tensor(a), dim=dim).numpy()
    assert np.isfinite(p).all() and (p >= 0).all() and (p <= 1).all()
    np.testing.assert_allclose(p.sum(axis=dim), 1.0, rtol=1e-12)
    lp = md.log_softmax(md.tensor(a), dim=dim).numpy()
    assert np.isfinite(lp).all() and (lp <= 0).all()
    np.testing.assert_allclose(np.exp(lp), p, rtol=1e-9, atol=1e-300)


def test_softmax_rows_sum_to_one_in_float32() -> None:
    x = md.randn(64, 10) * 20.0
    p = md.softmax(x, dim=1)
    assert p.dtype == md.float32
    np.testing.assert_allclose(p.numpy().sum(axis=1), 1.0, rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# Numerical stability at ±1e4


BIG = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]], dtype=np.float32)


def test_softmax_and_log_softmax_at_huge_logits() -> None:
    x = md.tensor(BIG, requires_grad=True)
    p = md.softmax(x, dim=1)
    np.testing.assert_allclose(p.numpy(), [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0]], rtol=1e-6)
    lp = md.log_softmax(x, dim=1)
    np.testing.assert_allclose(lp.numpy(), [[0, -2e4, -1e4], [-np.log(3)] * 3,
                                            [-np.log(2), -np.log(2), -2e4 - np.log(2)]], rtol=1e-6)
    (p[:, 0].sum() + lp[:, 1].sum()).backward()
    assert np.isfinite(x.grad.numpy()).all()


def test_cross_entropy_at_huge_logits() -> None:
    x = md.tensor(BIG, requires_grad=True)
    t = np.array([1, 0, 2])
    loss = F.cross_entropy(x, D(t), reduction="none")
    np.testing.assert_allclose(loss.numpy(), [2e4, np.log(3), 2e4 + np.log(2)], rtol=1e-6)
    F.cross_entropy(x, D(t)).backward()
    p = np.array([[1, 0, 0], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0]])
    np.testing.assert_allclose(x.grad.numpy(), (p - np.eye(3)[t]) / 3, rtol=1e-5, atol=1e-7)
    smooth = F.cross_entropy(md.tensor(BIG), D(t), label_smoothing=0.1)
    assert np.isfinite(smooth.item())


def test_bce_with_logits_at_huge_logits() -> None:
    x = md.tensor(np.array([1e4, -1e4, 1e4, -1e4], dtype=np.float32), requires_grad=True)
    y = D(np.array([0.0, 1.0, 1.0, 0.0], dtype=np.float32))
    loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    np.testing.assert_array_equal(loss.numpy(), [1e4, 1e4, 0.0, 0.0])
    F.binary_cross_entropy_with_logits(x, y, reduction="sum", pos_weight=D(np.float32(3.0))).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, -3.0, 0.0, 0.0])


# ---------------------------------------------------------------------------------------------
# Binary cross-entropy with logits


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits_matches_formula(reduction: str) -> None:
    y = (RNG.random((6, 4)) > 0.5).astype(np.float64)
    y[0] = [0.2, 0.5, 0.9, 0.0]  # soft labels too
    pw = np.array([1.0, 2.0, 0.5, 3.0])
    w = RNG.random((6, 4))
    for weight, pos_weight in ((None, None), (w, None), (None, pw), (w, pw)):
        per = bce_with_logits_np(X, y, weight, pos_weight)
        expected = {"none": per, "sum": per.sum(), "mean": per.mean()}[reduction]
        got = F.binary_cross_entropy_with_logits(md.tensor(X), D(y), weight=D(weight), reduction=reduction,
                                                 pos_weight=D(pos_weight))
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
        module = nn.BCEWithLogitsLoss(weight=D(weight), reduction=reduction, pos_weight=D(pos_weight))
        np.testing.assert_allclose(module(md.tensor(X), D(y)).numpy(), expected, rtol=1e-12)


def test_bce_with_logits_gradient_at_zero_is_exactly_sigmoid_minus_target() -> None:
    for dtype in (np.float32, np.float64):
        x = md.tensor(np.zeros(4, dtype=dtype), requires_grad=True)
        y = np.array([0.0, 1.0, 0.3, 0.5], dtype=dtype)
        F.binary_cross_entropy_with_logits(x, D(y), reduction="sum").backward()
        np.testing.assert_array_equal(x.grad.numpy(), np.asarray(0.5, dtype) - y)
        assert x.grad.dtype == dtype


def test_bce_with_logits_gradient_matches_formula() -> None:
    y = (RNG.random((6, 4)) > 0.5).astype(np.float64)
    pw = np.array([1.0, 2.0, 0.5, 3.0])
    x = leaf(X)
    F.binary_cross_entropy_with_logits(x, D(y), pos_weight=D(pw)).backward()
    s = 1 / (1 + np.exp(-X))
    expected = ((1 + (pw - 1) * y) * s - pw * y) / X.size
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-10)


def test_bce_with_logits_shape_mismatch() -> None:
    with pytest.raises(ValueError) as info:
        F.binary_cross_entropy_with_logits(md.zeros(4, 1), md.zeros(4))
    assert "(4,)" in str(info.value) and "(4, 1)" in str(info.value)


# ---------------------------------------------------------------------------------------------
# Regression losses


def test_mse_and_l1_hand_computed() -> None:
    x = leaf([[1.0, 2.0], [3.0, -1.0]])
    y = D([[0.0, 2.0], [1.0, 1.0]])
    # differences 1, 0, 2, −2 → squares 1, 0, 4, 4; absolute values 1, 0, 2, 2
    assert F.mse_loss(x, y).item() == pytest.approx(9 / 4)
    assert F.mse_loss(x, y, reduction="sum").item() == pytest.approx(9.0)
    np.testing.assert_array_equal(F.mse_loss(x, y, reduction="none").numpy(), [[1, 0], [4, 4]])
    assert F.l1_loss(x, y).item() == pytest.approx(5 / 4)
    assert F.l1_loss(x, y, reduction="sum").item() == pytest.approx(5.0)
    assert nn.MSELoss()(x, y).item() == pytest.approx(9 / 4)
    assert nn.L1Loss(reduction="sum")(x, y).item() == pytest.approx(5.0)
    F.mse_loss(x, y).backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * (x.numpy() - y.numpy()) / 4)
    x.grad = None
    F.l1_loss(x, y).backward()
    np.testing.assert_allclose(x.grad.numpy(), np.sign(x.numpy() - y.numpy()) / 4)  # sign(0) = 0


@pytest.mark.parametrize("loss", [F.mse_loss, F.l1_loss])
def test_regression_loss_shape_mismatch_names_both_shapes(loss) -> None:
    with pytest.raises(ValueError) as info:
        loss(md.zeros(8, 1), md.zeros(8))
    assert "(8, 1)" in str(info.value) and "(8,)" in str(info.value)


# ---------------------------------------------------------------------------------------------
# Bad inputs give clear errors


def test_float_targets_of_the_wrong_shape() -> None:
    with pytest.raises(ValueError, match="shape") as info:
        F.cross_entropy(md.zeros(4, 3), md.zeros(4, 2))
    assert "(4, 3)" in str(info.value) and "(4, 2)" in str(info.value)


@pytest.mark.parametrize("target_shape", [(4, 1), (3,), (2, 2)])
def test_int_targets_of_the_wrong_shape(target_shape) -> None:
    with pytest.raises(ValueError, match="shape") as info:
        F.cross_entropy(md.zeros(4, 3), md.zeros(target_shape, dtype=md.int64))
    assert str(target_shape) in str(info.value)


@pytest.mark.parametrize("bad", [10, -5, 11])
@pytest.mark.parametrize("extras", [{}, {"weight": "ones"}, {"label_smoothing": 0.1}],
                         ids=["plain", "weighted", "smoothed"])
def test_out_of_range_class_index(bad: int, extras) -> None:
    t = D([0, 3, bad, 9])
    if extras.get("weight") == "ones":
        extras = {"weight": md.ones(10)}
    with pytest.raises((IndexError, ValueError)) as info:
        F.cross_entropy(md.zeros(4, 10), t, **extras)
    msg = str(info.value)
    assert f"class {bad}" in msg and "10 classes" in msg
    with pytest.raises((IndexError, ValueError), match=f"class {bad}"):
        F.nll_loss(md.zeros(4, 10), t)


@pytest.mark.parametrize("target", [[True, False, True], [0.0, 1.0, 2.0]], ids=["bool", "float_1d"])
def test_wrong_target_dtype(target) -> None:
    with pytest.raises((TypeError, ValueError)) as info:
        F.cross_entropy(md.zeros(3, 4), D(target))
    msg = str(info.value)
    assert "target" in msg and ("dtype" in msg or "shape" in msg)


def test_nll_loss_rejects_float_targets() -> None:
    with pytest.raises(TypeError, match="integer"):
        F.nll_loss(md.zeros(3, 4), md.zeros(3))


def test_all_ignored_batch_with_mean_raises() -> None:
    t = D([-100, -100, -100])
    with pytest.raises(ValueError, match="ignore_index"):
        F.cross_entropy(md.zeros(3, 4), t)
    with pytest.raises(ValueError, match="ignore_index"):
        F.nll_loss(md.zeros(3, 4), t)
    assert F.cross_entropy(md.zeros(3, 4), t, reduction="sum").item() == 0.0


@pytest.mark.parametrize("loss,args", [
    (F.cross_entropy, (md.zeros(2, 3), [0, 1])),
    (F.nll_loss, (md.zeros(2, 3), [0, 1])),
    (F.binary_cross_entropy_with_logits, (md.zeros(2), md.zeros(2))),
    (F.mse_loss, (md.zeros(2), md.zeros(2))),
    (F.l1_loss, (md.zeros(2), md.zeros(2))),
], ids=["cross_entropy", "nll", "bce", "mse", "l1"])
def test_bad_reduction_string(loss, args) -> None:
    args = [md.tensor(a) if isinstance(a, list) else a for a in args]
    with pytest.raises(ValueError, match="reduction") as info:
        loss(*args, reduction="average")
    assert "'average'" in str(info.value)


def test_bad_label_smoothing_and_weight_shape() -> None:
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(md.zeros(2, 3), D([0, 1]), label_smoothing=1.5)
    with pytest.raises(ValueError, match="weight") as info:
        F.cross_entropy(md.zeros(2, 3), D([0, 1]), weight=md.ones(4))
    assert "(3,)" in str(info.value) and "(4,)" in str(info.value)


def test_cross_entropy_rejects_integer_logits() -> None:
    with pytest.raises(TypeError, match="float"):
        F.cross_entropy(md.tensor([[1, 2], [3, 4]]), D([0, 1]))


@pytest.mark.parametrize("call,reference", [
    (lambda: F.cross_entropy(md.tensor(X[:2]), [0, 3]), lambda: F.cross_entropy(md.tensor(X[:2]), D(T[:2]))),
    (lambda: F.nll_loss(md.tensor(X[:2]), [0, 3]), lambda: F.nll_loss(md.tensor(X[:2]), D(T[:2]))),
    (lambda: F.binary_cross_entropy_with_logits(md.tensor(X[0]), [0.0, 1.0, 1.0, 0.0]),
     lambda: F.binary_cross_entropy_with_logits(md.tensor(X[0]), D([0.0, 1.0, 1.0, 0.0]))),
    (lambda: F.binary_cross_entropy_with_logits(md.tensor(X[0]), md.ones(4, dtype=md.float64),
                                                pos_weight=3.0),
     lambda: F.binary_cross_entropy_with_logits(md.tensor(X[0]), md.ones(4, dtype=md.float64),
                                                 pos_weight=D(np.full(4, 3.0)))),
    (lambda: F.binary_cross_entropy_with_logits(md.tensor(X[0]), md.ones(4, dtype=md.float64), weight=0.5),
     lambda: F.binary_cross_entropy_with_logits(md.tensor(X[0]), md.ones(4, dtype=md.float64),
                                                 weight=D(np.full(4, 0.5)))),
], ids=["ce_list_target", "nll_list_target", "bce_list_target", "bce_float_pos_weight",
        "bce_float_weight"])
def test_python_lists_and_numbers_work_or_raise_a_type_error(call, reference) -> None:
    # PyTorch wants Tensors here and says so with a TypeError; mse_loss in minidl takes lists.
    # Either behaviour is fine; an AttributeError from inside the loss (or a wrong shape in the
    # message) is not.
    try:
        got = call()
    except TypeError as e:
        assert "target" in str(e) or "weight" in str(e)
        return
    np.testing.assert_allclose(got.numpy(), reference().numpy(), rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# Masked logits (−∞): the term of a class with coefficient 0 is 0, never 0·(−∞) = NaN


MASKED = np.array([[0.0, -np.inf, 1.0], [2.0, 0.5, -np.inf]])


def test_cross_entropy_with_a_masked_logit_matches_pytorch() -> None:
    # PyTorch: F.cross_entropy(tensor([[0., -inf, 1.]]), tensor([2])) = 0.3133 = ln(1 + e⁻¹)
    x = leaf(MASKED[:1])
    loss = F.cross_entropy(x, D([2]))
    assert loss.item() == pytest.approx(np.log1p(np.exp(-1.0)), rel=1e-12)
    assert loss.item() == pytest.approx(0.3133, abs=5e-5)
    loss.backward()
    # softmax − one-hot: [1/(1+e), 0, e/(1+e) − 1]; the masked class gets exactly 0
    e = np.e
    np.testing.assert_allclose(x.grad.numpy(), [[1 / (1 + e), 0.0, e / (1 + e) - 1]], rtol=1e-12)
    assert x.grad.numpy()[0, 1] == 0.0


@pytest.mark.parametrize("extras", [{}, {"weight": W[:3]}, {"ignore_index": 0}],
                         ids=["plain", "weighted", "ignore_index"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_masked_logits_in_every_path(extras, reduction) -> None:
    t = np.array([2, 0])
    extras = {k: D(v) if k == "weight" else v for k, v in extras.items()}
    finite = np.where(np.isinf(MASKED), -1e300, MASKED)  # the same loss, written with finite logits
    for loss in (lambda x: F.cross_entropy(x, D(t), reduction=reduction, **extras),
                 lambda x: F.nll_loss(F.log_softmax(x, dim=1), D(t), reduction=reduction, **extras)):
        got = loss(md.tensor(MASKED)).numpy()
        assert np.isfinite(got).all()
        np.testing.assert_allclose(got, loss(md.tensor(finite)).numpy(), rtol=1e-12)
        x = leaf(MASKED)
        loss(x).sum().backward()
        assert np.isfinite(x.grad.numpy()).all() and x.grad.numpy()[np.isinf(MASKED)].tolist() == [0.0, 0.0]
        md.gradcheck(loss, [leaf(MASKED)])  # −∞ ± ε = −∞: that coordinate's slope is 0


def test_masked_logit_of_the_target_class_is_an_infinite_loss() -> None:
    # the target itself masked: −log 0 = +∞ (PyTorch gives inf); label smoothing spreads mass onto
    # the masked class, so the smoothed loss is +∞ too, as in PyTorch
    assert F.cross_entropy(md.tensor(MASKED[:1]), D([1])).item() == np.inf
    assert F.cross_entropy(md.tensor(MASKED[:1]), D([2]), label_smoothing=0.1).item() == np.inf


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_a_nan_logit_gives_nan_only_in_its_own_sample(reduction) -> None:
    # PyTorch: a NaN logit makes its sample's loss NaN and leaves the others alone; the fused op
    # takes its masked path here (its check sees the NaN), and raises no warning
    x = np.array([[0.0, np.nan, 1.0], [2.0, 0.5, -1.0]])
    got = F.cross_entropy(md.tensor(x), D([2, 0]), reduction=reduction).numpy()
    alone = F.cross_entropy(md.tensor(x[1:]), D([0]), reduction="none").numpy()
    if reduction == "none":
        assert np.isnan(got[0]) and got[1] == alone[0]
    else:
        assert np.isnan(got)


def test_masked_logits_second_derivative() -> None:
    md.gradgradcheck(lambda x: F.cross_entropy(x, D([2, 0]), weight=D(W[:3])), [leaf(MASKED)])


def test_nll_loss_error_names_nll_loss_the_bad_class_and_the_range() -> None:
    with pytest.raises(IndexError) as info:
        F.nll_loss(md.zeros(2, 3), D([0, 7]))
    msg = str(info.value)
    assert msg.startswith("nll_loss:") and "class 7" in msg and "0..2" in msg and "cross_entropy" not in msg
    with pytest.raises(IndexError, match=r"^nll_loss: .*class -3"):
        F.nll_loss(md.zeros(2, 3), D([0, -3]), weight=md.ones(3))
