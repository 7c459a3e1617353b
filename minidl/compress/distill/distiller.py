"""``Distiller``: train a student on a teacher's outputs, recording both loss terms per epoch."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from minidl import backend
from minidl.compress.distill.hints import FeatureHint
from minidl.compress.distill.losses import (
    DEFAULT_ALPHA,
    DEFAULT_TEMPERATURE,
    DistillationTerms,
    _check_alpha,
    _check_temperature,
    distillation_terms,
    hard_distillation_terms,
    teacher_labels,
)
from minidl.engine.grad_mode import no_grad
from minidl.engine.ops._args import as_tensor
from minidl.engine.tensor import Tensor
from minidl.nn.losses import cross_entropy
from minidl.nn.module import Module
from minidl.train.fit import History, evaluate


@dataclass
class DistillHistory(History):
    """:class:`~minidl.train.History` plus the parts of the distillation loss, per epoch.

    ``train_loss`` is the total that was minimized; ``hard_loss`` the cross-entropy with the
    true labels (recorded even when its weight α is 0, empty when labels are not used);
    ``soft_loss`` the teacher term (T²·KL, or the cross-entropy with the teacher's labels
    for hard-label distillation); ``hint_loss`` the feature-hint term (empty without a
    hint); ``agreement`` the fraction of training samples where the student's top class
    equals the teacher's. All are averages over the epoch's samples.
    """

    hard_loss: list[float] = field(default_factory=list)
    soft_loss: list[float] = field(default_factory=list)
    hint_loss: list[float] = field(default_factory=list)
    agreement: list[float] = field(default_factory=list)


def predict_logits(model: Module, features: Any, batch_size: int = 512) -> Any:
    """``model``'s logits for every row of ``features`` (an array), in eval mode, without a graph.

    The model is put back in the mode it was in.
    """
    if not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive int (got {batch_size!r})")
    data = as_tensor(features).data  # host arrays go to the active backend, as for any tensor
    xp = backend.get_array_module(data)
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            parts = [model(Tensor._wrap(data[i:i + batch_size])).data
                     for i in range(0, len(data), batch_size)]
    finally:
        model.train(was_training)
    if not parts:
        raise ValueError("predict_logits: features is empty")
    return xp.concatenate(parts)


def label_with_teacher(teacher: Module, features: Any, batch_size: int = 512) -> Any:
    """The teacher's predicted class for every row of ``features``: labels for hard-label distillation.

    Use it on unlabeled (or augmented) inputs, then train the student on these labels with
    plain cross-entropy.
    """
    return teacher_labels(predict_logits(teacher, features, batch_size))


class DistillStep(NamedTuple):
    """What one :meth:`Distiller.step` computed (``loss`` includes the hint, ``terms.loss`` not)."""

    loss: Tensor
    terms: DistillationTerms
    hint_loss: Tensor | None
    student_logits: Tensor
    teacher_logits: Tensor


class Distiller:
    """Train ``student`` to imitate ``teacher`` (Hinton's soft targets, or the teacher's labels).

    Each step runs the teacher in eval mode without recording a graph (so no gradient, and
    no memory for one, is spent on it), then minimizes on the student

        soft (default):     α·CE(y, z_s) + (1 − α)·T²·KL(softmax(z_t/T) ‖ softmax(z_s/T))
        hard_labels=True:   α·CE(y, z_s) + (1 − α)·CE(argmax z_t, z_s)

    plus ``hint_weight``·(feature-hint MSE) when a :class:`FeatureHint` is given (its
    regressor's parameters must be in ``optimizer``). With ``use_labels=False`` the batches'
    labels are ignored (unlabeled data) and α must be 0.

    ``optimizer`` must hold the student's parameters and not the teacher's.
    """

    def __init__(self, teacher: Module, student: Module, optimizer: Any, *,
                 temperature: float = DEFAULT_TEMPERATURE, alpha: float = DEFAULT_ALPHA,
                 hard_labels: bool = False, use_labels: bool = True, hint: FeatureHint | None = None,
                 hint_weight: float = 1.0) -> None:
        if teacher is student:
            raise ValueError("teacher and student are the same module")
        self.temperature = _check_temperature(temperature)
        self.alpha = _check_alpha(alpha)
        if not use_labels and self.alpha > 0:
            raise ValueError(f"use_labels=False leaves nothing for the hard-label term to use: set "
                             f"alpha=0 (got alpha={alpha})")
        teacher_ids = {id(p) for p in teacher.parameters()}
        optimized = [p for g in optimizer.param_groups for p in g["params"]]
        if any(id(p) in teacher_ids for p in optimized):
            raise ValueError("the optimizer holds some of the teacher's parameters: the teacher stays "
                             "fixed during distillation; give the optimizer student.parameters()")
        optimized_ids = {id(p) for p in optimized}
        if not any(id(p) in optimized_ids for p in student.parameters()):
            raise ValueError("the optimizer holds none of the student's parameters")
        if hint is not None:
            if not isinstance(hint, FeatureHint):
                raise TypeError(f"hint must be a FeatureHint (got {type(hint).__name__})")
            if not all(id(p) in optimized_ids for p in hint.parameters()):
                raise ValueError("the hint's regressor is not in the optimizer: build the optimizer "
                                 "from list(student.parameters()) + list(hint.parameters())")
        if not (isinstance(hint_weight, (int, float)) and math.isfinite(hint_weight) and hint_weight >= 0):
            raise ValueError(f"hint_weight must be a finite number ≥ 0 (got {hint_weight!r})")
        self.teacher, self.student, self.optimizer = teacher, student, optimizer
        self.hard_labels, self.use_labels = hard_labels, use_labels
        self.hint, self.hint_weight = hint, float(hint_weight)

    def teacher_logits(self, x: Tensor) -> Tensor:
        """The teacher's logits for a batch: eval mode, no graph."""
        if self.teacher.training:  # switching walks every sub-module: only when needed
            self.teacher.eval()
        with no_grad():
            return self.teacher(x)

    def terms(self, student_logits: Tensor, teacher_logits: Tensor, y: Any) -> DistillationTerms:
        """The loss and its two terms for one batch (without the hint)."""
        targets = y if self.use_labels else None
        if self.hard_labels:
            return hard_distillation_terms(student_logits, teacher_logits, targets, self.alpha)
        return distillation_terms(student_logits, teacher_logits, targets, self.temperature, self.alpha)

    def step(self, x: Tensor, y: Any) -> DistillStep:
        """One optimizer step on a batch of inputs ``x`` with labels ``y``."""
        z_t = self.teacher_logits(x)
        if not self.student.training:
            self.student.train()
        self.optimizer.zero_grad()
        z_s = self.student(x)
        terms = self.terms(z_s, z_t, y)
        loss = terms.loss
        hint_loss = None
        if self.hint is not None:
            hint_loss = self.hint()
            loss = loss + hint_loss * self.hint_weight
        loss.backward()
        self.optimizer.step()
        return DistillStep(loss, terms, hint_loss, z_s, z_t)

    def fit(self, train_loader: Iterable[Any], epochs: int = 1, val_loader: Iterable[Any] | None = None, *,
            scheduler: Any = None,
            on_epoch_end: Callable[[int, DistillHistory], bool | None] | None = None) -> DistillHistory:
        """Distill for ``epochs`` passes over ``train_loader`` (batches of ``(x, y)``).

        After each epoch: validation of the student (cross-entropy and accuracy, if
        ``val_loader`` is given), ``scheduler.step()``, then ``on_epoch_end(epoch, history)``,
        which may return True to stop. The teacher is left in the mode it was in.
        """
        if not isinstance(epochs, int) or epochs < 0:
            raise ValueError(f"epochs must be a non-negative int (got {epochs!r})")
        history = DistillHistory()
        teacher_was_training = self.teacher.training
        try:
            for epoch in range(epochs):
                start = time.perf_counter()
                self.teacher.eval()  # every sub-module, once per epoch (step() checks only the root)
                self.student.train()
                sums = {"loss": 0.0, "hard": 0.0, "soft": 0.0, "hint": 0.0}
                correct = agree = count = 0
                for x, y in train_loader:
                    step = self.step(x, y)
                    history.steps += 1
                    value = float(step.loss.data)
                    if not math.isfinite(value):
                        raise FloatingPointError(
                            f"the distillation loss became {value} at epoch {epoch + 1}, step "
                            f"{history.steps}: try a smaller learning rate or temperature")
                    n = len(y)
                    sums["loss"] += value * n
                    sums["soft"] += float(step.terms.soft.data) * n
                    if step.terms.hard is not None:
                        sums["hard"] += float(step.terms.hard.data) * n
                    if step.hint_loss is not None:
                        sums["hint"] += float(step.hint_loss.data) * n
                    predicted = step.student_logits.data.argmax(axis=1)
                    agree += int((predicted == step.teacher_logits.data.argmax(axis=1)).sum())
                    if self.use_labels and getattr(y, "ndim", 0) == 1 and y.dtype.kind in "iu":
                        correct += int((predicted == y.data).sum())
                    count += n
                backend.synchronize()
                count = max(count, 1)
                history.train_loss.append(sums["loss"] / count)
                history.soft_loss.append(sums["soft"] / count)
                if self.use_labels:
                    history.hard_loss.append(sums["hard"] / count)
                    history.train_accuracy.append(correct / count)
                if self.hint is not None:
                    history.hint_loss.append(sums["hint"] / count)
                history.agreement.append(agree / count)
                history.lr.append(float(self.optimizer.param_groups[0]["lr"]))
                if val_loader is not None:
                    result = evaluate(self.student, val_loader, cross_entropy)
                    history.val_loss.append(result["loss"])
                    history.val_accuracy.append(result["accuracy"])
                history.seconds.append(time.perf_counter() - start)
                if scheduler is not None:
                    scheduler.step()
                if on_epoch_end is not None and on_epoch_end(epoch, history):
                    break
        finally:
            self.teacher.train(teacher_was_training)
        return history
