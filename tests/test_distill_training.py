"""Distiller, hard-label distillation and feature hints: the teacher stays fixed, both loss
terms are recorded, and a student really learns digits from a teacher."""

from __future__ import annotations

import numpy as np
import pytest

import minidl as md
from minidl import nn, optim
from minidl.compress.distill import (
    Distiller,
    FeatureHint,
    label_with_teacher,
    predict_logits,
    soft_target_loss,
)
from minidl.data import ArrayDataset, DataLoader, load_digits
from minidl.train import evaluate, fit

to_numpy = md.backend.to_numpy


_BUILT: dict[tuple[str, str], object] = {}  # one teacher per backend, trained once per session


@pytest.fixture
def digits(array_backend):
    key = ("digits", array_backend)
    if key not in _BUILT:
        _BUILT[key] = load_digits("train"), load_digits("test")
    return _BUILT[key]


@pytest.fixture
def teacher(digits, array_backend):
    key = ("teacher", array_backend)
    if key not in _BUILT:
        train, _ = digits
        md.manual_seed(0)
        t = nn.MLP([64, 96, 10], dropout=0.2)  # dropout: eval mode must switch it off
        fit(t, nn.functional.cross_entropy, optim.Adam(t.parameters(), lr=3e-3),
            DataLoader(train, 32, shuffle=True, seed=0), epochs=8, progress=False)
        _BUILT[key] = t
    t = _BUILT[key]
    t.zero_grad()  # so that any gradient found on it later came from distillation
    return t


def snapshot(model: nn.Module) -> list[np.ndarray]:
    return [p.numpy().copy() for p in model.parameters()]


def test_distiller_learns_digits_and_leaves_the_teacher_untouched(digits, teacher) -> None:
    train, test = digits
    before = snapshot(teacher)
    teacher.train()  # the Distiller must evaluate it in eval mode anyway, then restore this
    md.manual_seed(1)
    student = nn.MLP([64, 16, 10])
    distiller = Distiller(teacher, student, optim.Adam(student.parameters(), lr=3e-3),
                          temperature=4.0, alpha=0.1)
    history = distiller.fit(DataLoader(train, 32, shuffle=True, seed=1), epochs=6,
                            val_loader=DataLoader(test, 512))
    assert teacher.training  # restored
    for a, b in zip(before, snapshot(teacher)):
        np.testing.assert_array_equal(a, b)
    assert all(p.grad is None for p in teacher.parameters())
    # both terms recorded every epoch, and the total is their α-weighted sum
    for name in ("train_loss", "hard_loss", "soft_loss", "agreement", "val_accuracy", "train_accuracy"):
        assert len(getattr(history, name)) == 6, name
    total = 0.1 * np.array(history.hard_loss) + 0.9 * np.array(history.soft_loss)
    np.testing.assert_allclose(history.train_loss, total, rtol=1e-5)
    assert history.soft_loss[-1] < history.soft_loss[0] / 3
    assert history.hard_loss[-1] < history.hard_loss[0]
    assert history.agreement[-1] > 0.85
    assert evaluate(student, DataLoader(test, 512))["accuracy"] > 0.88


def test_teacher_runs_in_eval_mode_without_a_graph(teacher) -> None:
    teacher.train()
    md.manual_seed(2)
    student = nn.MLP([64, 8, 10])
    distiller = Distiller(teacher, student, optim.SGD(student.parameters(), lr=0.1))
    x = md.rand(5, 64)
    z1, z2 = distiller.teacher_logits(x), distiller.teacher_logits(x)
    assert not z1.requires_grad and z1.grad_fn is None
    np.testing.assert_array_equal(z1.numpy(), z2.numpy())  # dropout is off
    np.testing.assert_array_equal(z1.numpy(), to_numpy(predict_logits(teacher, x.numpy())))


def test_soft_only_distillation_on_unlabeled_data(digits, teacher) -> None:
    train, test = digits
    unlabeled = ArrayDataset(train.features, md.full((len(train),), -1).data, name="no labels")
    md.manual_seed(3)
    student = nn.MLP([64, 16, 10])
    history = Distiller(teacher, student, optim.Adam(student.parameters(), lr=3e-3), alpha=0.0,
                        use_labels=False).fit(DataLoader(unlabeled, 32, shuffle=True, seed=3), epochs=12)
    assert history.hard_loss == [] and history.train_accuracy == []
    np.testing.assert_allclose(history.train_loss, history.soft_loss)
    assert evaluate(student, DataLoader(test, 512))["accuracy"] > 0.9


def test_hard_label_distillation_learns_the_teachers_decisions(digits, teacher) -> None:
    train, test = digits
    labels = label_with_teacher(teacher, train.features)
    np.testing.assert_array_equal(to_numpy(labels), to_numpy(predict_logits(teacher, train.features)).argmax(1))
    assert labels.dtype == np.int64
    md.manual_seed(4)
    student = nn.MLP([64, 16, 10])
    history = Distiller(teacher, student, optim.Adam(student.parameters(), lr=3e-3), hard_labels=True,
                        alpha=0.0, use_labels=False).fit(DataLoader(train, 32, shuffle=True, seed=4), epochs=12)
    assert history.agreement[-1] > 0.85
    assert evaluate(student, DataLoader(test, 512))["accuracy"] > 0.9


def test_feature_hint_trains_the_student_layer_and_the_regressor(digits, teacher) -> None:
    train, _ = digits
    md.manual_seed(5)
    student = nn.MLP([64, 16, 10])
    hint = FeatureHint(student[1], teacher[1], student_features=16, teacher_features=96)
    opt = optim.Adam(list(student.parameters()) + list(hint.parameters()), lr=3e-3)
    distiller = Distiller(teacher, student, opt, alpha=0.1, hint=hint, hint_weight=0.5)
    x, y = next(iter(DataLoader(train, 64)))
    step = distiller.step(x, y)
    assert step.hint_loss is not None
    assert step.loss.item() == pytest.approx(step.terms.loss.item() + 0.5 * step.hint_loss.item(), rel=1e-5)
    assert all(p.grad is not None for p in hint.parameters())
    assert all(p.grad is None for p in teacher.parameters())
    history = distiller.fit(DataLoader(train, 32, shuffle=True, seed=5), epochs=4)
    assert len(history.hint_loss) == 4 and history.hint_loss[-1] < history.hint_loss[0]
    hint.remove()
    assert not student[1]._forward_hooks and not teacher[1]._forward_hooks


def test_feature_hint_errors() -> None:
    md.manual_seed(6)
    s, t = nn.MLP([4, 3, 2]), nn.MLP([4, 5, 2])
    hint = FeatureHint(s[1], t[1], 3, 5)
    with pytest.raises(RuntimeError, match="no student or teacher features"):
        hint()
    s(md.randn(2, 4))
    t(md.randn(3, 4))
    with pytest.raises(ValueError, match="same batch"):
        hint()
    wrong = FeatureHint(s[1], t[1], 3, 7)
    s(md.randn(2, 4))
    t(md.randn(2, 4))
    with pytest.raises(ValueError, match="built for 3 student and 7 teacher"):
        wrong()
    with pytest.raises(TypeError, match="Module"):
        FeatureHint("0", t[1], 3, 5)


def test_distiller_refuses_to_train_the_teacher_and_other_mistakes() -> None:
    md.manual_seed(7)
    s, t = nn.MLP([4, 3, 2]), nn.MLP([4, 5, 2])
    with pytest.raises(ValueError, match="teacher's parameters"):
        Distiller(t, s, optim.SGD(list(s.parameters()) + list(t.parameters()), lr=0.1))
    with pytest.raises(ValueError, match="none of the student's"):
        Distiller(t, s, optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1))
    with pytest.raises(ValueError, match="same module"):
        Distiller(s, s, optim.SGD(s.parameters(), lr=0.1))
    with pytest.raises(ValueError, match="alpha=0"):
        Distiller(t, s, optim.SGD(s.parameters(), lr=0.1), alpha=0.5, use_labels=False)
    with pytest.raises(ValueError, match="temperature"):
        Distiller(t, s, optim.SGD(s.parameters(), lr=0.1), temperature=0)
    hint = FeatureHint(s[1], t[1], 3, 5)
    with pytest.raises(ValueError, match="regressor is not in the optimizer"):
        Distiller(t, s, optim.SGD(s.parameters(), lr=0.1), hint=hint)
    with pytest.raises(ValueError, match="epochs"):
        Distiller(t, s, optim.SGD(s.parameters(), lr=0.1)).fit([], epochs=-1)


def test_soft_loss_is_the_same_on_precomputed_teacher_logits(teacher) -> None:
    x = md.rand(6, 64)
    logits = predict_logits(teacher, x.numpy(), batch_size=4)
    md.manual_seed(8)
    s = nn.MLP([64, 8, 10])
    teacher.eval()
    with md.no_grad():
        live = teacher(x)
    assert soft_target_loss(s(x), logits).item() == pytest.approx(soft_target_loss(s(x), live).item())
    with pytest.raises(ValueError, match="batch_size"):
        predict_logits(teacher, x.numpy(), batch_size=0)
