"""Distillation losses and kl_div: formulas, invariants, the T² gradient scaling, the batchmean
bug, central-difference gradient checks, and errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minidl as md
import minidl.nn.functional as F
from minidl import nn
from minidl.compress.distill import (
    DistillationLoss,
    distillation_loss,
    distillation_terms,
    hard_distillation_loss,
    soft_target_loss,
    teacher_labels,
)
from minidl.engine.gradcheck import gradcheck, gradgradcheck

pytestmark = pytest.mark.backends  # also on the stand-in: no NumPy array may leak into the losses

SETTINGS = settings(max_examples=30, deadline=None)
temperatures = st.sampled_from([0.5, 1.0, 2.0, 4.0, 10.0, 20.0])


@st.composite
def logit_pairs(draw: st.DrawFn, scale: float = 8.0) -> tuple[np.ndarray, np.ndarray]:
    b, c = draw(st.integers(1, 5)), draw(st.integers(2, 6))
    elements = st.floats(-scale, scale, allow_nan=False, width=64)
    return (draw(hnp.arrays(np.float64, (b, c), elements=elements)),
            draw(hnp.arrays(np.float64, (b, c), elements=elements)))


def softmax_np(z: np.ndarray, T: float = 1.0) -> np.ndarray:
    e = np.exp(z / T - (z / T).max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def student(z: np.ndarray) -> md.Tensor:
    return md.tensor(z, requires_grad=True)


# -- the soft term -------------------------------------------------------------------------------


@SETTINGS
@given(pair=logit_pairs(), T=temperatures)
def test_soft_term_is_t_squared_batchmean_kl_of_softened_distributions(pair, T) -> None:
    zs, zt = pair
    ps, pt = softmax_np(zs, T), softmax_np(zt, T)
    by_hand = T * T * np.sum(pt * (np.log(pt) - np.log(ps))) / len(zs)
    got = soft_target_loss(md.tensor(zs), zt, T).item()
    assert got == pytest.approx(by_hand, rel=1e-9, abs=1e-9)
    via_kl_div = T * T * F.kl_div(md.log_softmax(md.tensor(zs / T), dim=1), pt, reduction="batchmean")
    assert got == pytest.approx(via_kl_div.item(), rel=1e-9, abs=1e-9)


@SETTINGS
@given(pair=logit_pairs(), T=temperatures, alpha=st.floats(0.0, 1.0))
def test_loss_is_never_negative(pair, T, alpha) -> None:
    zs, zt = pair
    y = md.tensor(np.argmax(zt, axis=1))
    assert distillation_loss(md.tensor(zs), zt, y, T, alpha).item() >= -1e-12


@SETTINGS
@given(pair=logit_pairs(), T=temperatures,
       shifts=hnp.arrays(np.float64, (2, 5), elements=st.floats(-50, 50, width=64)))
def test_adding_a_constant_to_a_logit_vector_changes_nothing(pair, T, shifts) -> None:
    zs, zt = pair
    y = md.tensor(np.argmax(zs, axis=1))
    b = len(zs)
    s_shift, t_shift = shifts[0, :b, None], shifts[1, :b, None]  # one constant per row
    a, b_ = student(zs), student(zs + s_shift)
    la = distillation_loss(a, zt, y, T, 0.3)
    lb = distillation_loss(b_, zt + t_shift, y, T, 0.3)
    assert lb.item() == pytest.approx(la.item(), rel=1e-9, abs=1e-9)
    la.backward()
    lb.backward()
    np.testing.assert_allclose(b_.grad.numpy(), a.grad.numpy(), atol=1e-10)


@SETTINGS
@given(pair=logit_pairs(), T=temperatures)
def test_zero_loss_and_zero_gradient_when_student_equals_teacher(pair, T) -> None:
    z, _ = pair
    s = student(z.copy())
    loss = distillation_loss(s, z, temperature=T, alpha=0.0)
    loss.backward()
    assert loss.item() == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(s.grad.numpy(), 0.0, atol=1e-12)


@SETTINGS
@given(pair=logit_pairs(), T=temperatures)
def test_soft_gradient_is_T_times_probability_difference_over_batch(pair, T) -> None:
    """∂/∂z_s of T²·KL = T·(p_s − p_t)/B: the (1/T)(p_s − p_t) of the plain KL, times T²."""
    zs, zt = pair
    s = student(zs)
    distillation_loss(s, zt, temperature=T, alpha=0.0).backward()
    expected = T * (softmax_np(zs, T) - softmax_np(zt, T)) / len(zs)
    np.testing.assert_allclose(s.grad.numpy(), expected, atol=1e-12)
    # without the T² factor the gradient shrinks as 1/T: that is what T² compensates
    plain = student(zs)
    F.kl_div(md.log_softmax(plain / T, dim=1), softmax_np(zt, T), reduction="batchmean").backward()
    np.testing.assert_allclose(plain.grad.numpy() * T * T, expected, atol=1e-12)


@SETTINGS
@given(pair=logit_pairs(), T=temperatures)
def test_soft_cross_entropy_differs_from_kl_by_the_teachers_entropy_only(pair, T) -> None:
    """T²·CE(p_t, softmax(z_s/T)) = T²·KL + T²·H(p_t): a constant, so the gradients are equal."""
    zs, zt = pair
    pt = softmax_np(zt, T)
    entropy = -np.sum(pt * np.log(pt)) / len(zs)
    a, b = student(zs), student(zs)
    kl = soft_target_loss(a, zt, T)
    ce = F.cross_entropy(b / T, md.tensor(pt)) * (T * T)  # cross-entropy with probability targets
    assert ce.item() == pytest.approx(kl.item() + T * T * entropy, rel=1e-9, abs=1e-9)
    kl.backward()
    ce.backward()
    np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("T", [0.5, 1.0, 3.0, 20.0])
def test_gradcheck_at_several_temperatures(T: float) -> None:
    rng = np.random.default_rng(int(T * 10))
    zs, zt = rng.normal(0, 3, (4, 5)), rng.normal(0, 3, (4, 5))
    y = md.tensor(rng.integers(0, 5, 4))
    assert gradcheck(lambda s: distillation_loss(s, zt, y, T, 0.3), [student(zs)])
    assert gradcheck(lambda s: soft_target_loss(s, zt, T), [student(zs)])
    assert gradgradcheck(lambda s: soft_target_loss(s, zt, T), [student(zs)])
    assert gradcheck(lambda s: hard_distillation_loss(s, zt, y), [student(zs)])


def test_alpha_weighs_the_hard_term_at_temperature_one() -> None:
    rng = np.random.default_rng(0)
    zs, zt, y = rng.normal(0, 2, (6, 4)), rng.normal(0, 2, (6, 4)), rng.integers(0, 4, 6)
    T, alpha = 3.0, 0.25
    ce = -np.mean(np.log(softmax_np(zs))[np.arange(6), y])
    y = md.tensor(y)
    soft = soft_target_loss(md.tensor(zs), zt, T).item()
    terms = distillation_terms(md.tensor(zs), zt, y, T, alpha)
    assert terms.hard.item() == pytest.approx(ce, rel=1e-12)
    assert terms.soft.item() == pytest.approx(soft, rel=1e-12)
    assert terms.loss.item() == pytest.approx(alpha * ce + (1 - alpha) * soft, rel=1e-12)
    assert DistillationLoss(T, alpha)(md.tensor(zs), zt, y).item() == pytest.approx(terms.loss.item())
    assert distillation_loss(md.tensor(zs), zt, y, T, 1.0).item() == pytest.approx(ce, rel=1e-12)


def test_no_gradient_reaches_the_teacher() -> None:
    md.manual_seed(0)
    teacher, stud = nn.MLP([5, 7, 3]), nn.MLP([5, 4, 3])
    x = md.randn(8, 5)
    y = md.tensor(np.arange(8) % 3)
    for loss in (distillation_loss(stud(x), teacher(x), y),  # the teacher's graph is recorded here
                 hard_distillation_loss(stud(x), teacher(x), y)):
        loss.backward()
        assert all(p.grad is None for p in teacher.parameters())
        assert all(p.grad is not None for p in stud.parameters())


def test_float32_stays_float32_and_extreme_logits_stay_finite() -> None:
    zs = np.array([[1e4, -1e4, 0.0], [-3e3, 2e3, 5e3]], dtype=np.float32)
    zt = np.array([[-1e4, 1e4, 0.0], [1.0, 2.0, 3.0]], dtype=np.float64)  # a float64 teacher
    s = md.tensor(zs, requires_grad=True)
    loss = distillation_loss(s, zt, md.tensor([0, 2]), temperature=2.0, alpha=0.5)
    loss.backward()
    assert loss.dtype == np.float32 and s.grad.dtype == np.float32
    assert np.isfinite(loss.item()) and np.isfinite(s.grad.numpy()).all()


# -- kl_div --------------------------------------------------------------------------------------


def test_batchmean_and_mean_differ_by_the_number_of_classes() -> None:
    """The classic bug: reduction="mean" divides by B·C, so the soft term is C times too small."""
    rng = np.random.default_rng(1)
    for c in (2, 10, 37):
        log_q = md.log_softmax(md.tensor(rng.normal(size=(8, c))), dim=1)
        p = softmax_np(rng.normal(size=(8, c)))
        batchmean = F.kl_div(log_q, p, reduction="batchmean").item()
        with pytest.warns(UserWarning, match="batchmean"):
            mean = F.kl_div(log_q, p, reduction="mean").item()
        total = F.kl_div(log_q, p, reduction="sum").item()
        assert batchmean == pytest.approx(c * mean, rel=1e-12)
        assert batchmean == pytest.approx(total / 8, rel=1e-12)
        # and batchmean is the KL divergence per sample, averaged
        kl_rows = np.sum(p * (np.log(p) - log_q.numpy()), axis=1)
        assert batchmean == pytest.approx(kl_rows.mean(), rel=1e-12)


def test_kl_div_hand_computed_vector() -> None:
    # target (½, ½, 0) against q = (¼, ½, ¼): KL = ½ log 2 + ½·0 + 0 = 0.34657...
    log_q = md.tensor(np.log([[0.25, 0.5, 0.25]]))
    p = np.array([[0.5, 0.5, 0.0]])
    none = F.kl_div(log_q, p, reduction="none").numpy()
    np.testing.assert_allclose(none, [[0.5 * np.log(2), 0.0, 0.0]], atol=1e-15)
    assert F.kl_div(log_q, p, reduction="batchmean").item() == pytest.approx(0.5 * np.log(2))
    # log_target gives the same value, without ever taking log 0
    log_p = np.log(np.array([[0.5, 0.5, 1e-300]]))
    assert F.kl_div(log_q, log_p, reduction="sum", log_target=True).item() == pytest.approx(0.5 * np.log(2))


def test_kl_div_1d_input_batchmean_divides_by_its_length_as_pytorch() -> None:
    log_q = md.tensor(np.log([0.25, 0.5, 0.25]))
    p = np.array([0.5, 0.5, 0.0])
    assert F.kl_div(log_q, p, reduction="batchmean").item() == pytest.approx(0.5 * np.log(2) / 3)


@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_gradcheck_both_arguments(log_target: bool) -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 4))
    p = softmax_np(rng.normal(size=(3, 4)))
    t = np.log(p) if log_target else p

    def f(a, b):
        return F.kl_div(md.log_softmax(a, dim=1), b, reduction="batchmean", log_target=log_target)

    assert gradcheck(f, [student(x), student(t)])


def test_kl_div_module_and_errors() -> None:
    log_q = md.log_softmax(md.randn(2, 3), dim=1)
    p = md.softmax(md.randn(2, 3), dim=1)
    assert nn.KLDivLoss(reduction="sum")(log_q, p).item() == pytest.approx(
        F.kl_div(log_q, p, reduction="sum").item())
    with pytest.raises(ValueError, match="reduction"):
        F.kl_div(log_q, p, reduction="avg")
    with pytest.raises(ValueError, match="shape"):
        F.kl_div(log_q, p.numpy()[0], reduction="sum")
    with pytest.raises(ValueError, match="negative"):
        F.kl_div(log_q, -p.numpy(), reduction="sum")
    with pytest.raises(TypeError, match="floating"):
        F.kl_div(log_q, np.ones((2, 3), dtype=np.int64), reduction="sum")
    with pytest.raises(ValueError, match="reduction"):
        nn.KLDivLoss(reduction="batch")


# -- hard labels and errors ----------------------------------------------------------------------


def test_teacher_labels_are_the_argmax_where_rounding_fails() -> None:
    z = np.array([[2.0, 1.9, 1.8, -1.0], [0.0, 5.0, 0.0, 0.0]])
    np.testing.assert_array_equal(md.backend.to_numpy(teacher_labels(md.tensor(z))), [0, 1])
    # "rounding the teacher's outputs": the unsure first row rounds to no label at all
    np.testing.assert_array_equal(np.round(softmax_np(z))[0], [0, 0, 0, 0])


def test_hard_distillation_is_cross_entropy_with_the_teachers_argmax() -> None:
    rng = np.random.default_rng(3)
    zs, zt, y = rng.normal(size=(5, 4)), rng.normal(size=(5, 4)), md.tensor(rng.integers(0, 4, 5))
    ce_y = F.cross_entropy(md.tensor(zs), y).item()
    ce_t = F.cross_entropy(md.tensor(zs), md.tensor(zt.argmax(1))).item()
    assert hard_distillation_loss(md.tensor(zs), zt, alpha=0.0).item() == pytest.approx(ce_t)
    assert hard_distillation_loss(md.tensor(zs), zt, y, alpha=0.3).item() == pytest.approx(
        0.3 * ce_y + 0.7 * ce_t)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"temperature": 0.0}, ValueError, "temperature"),
    ({"temperature": -2.0}, ValueError, "temperature"),
    ({"temperature": float("inf")}, ValueError, "temperature"),
    ({"alpha": 1.5}, ValueError, "alpha"),
    ({"alpha": 0.5, "targets": None}, ValueError, "targets is None"),
])
def test_bad_arguments_are_clear_errors(kwargs, error, match) -> None:
    kwargs = {"targets": md.tensor([0, 1]), **kwargs}
    with pytest.raises(error, match=match):
        distillation_loss(md.randn(2, 3), np.zeros((2, 3)), **kwargs)


def test_shape_errors_name_both_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(2, 4\).*\(2, 3\)"):
        distillation_loss(md.randn(2, 3), np.zeros((2, 4)), alpha=0.0)
    with pytest.raises(ValueError, match="batch, classes"):
        distillation_loss(md.randn(6), np.zeros(6), alpha=0.0)
    with pytest.raises(ValueError, match="alpha"):
        DistillationLoss(alpha=-0.1)
