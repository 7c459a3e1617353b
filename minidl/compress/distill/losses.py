"""The distillation losses (Hinton, Vinyals & Dean 2015), in the notation of lesson 10.

z_s, z_t   student and teacher logits, shape (B, C)
T          the temperature;  p = softmax(z / T)  ("soft" probabilities)
y          the true class labels

    L = α · CE(y, softmax(z_s))  +  (1 − α) · T² · KL(p_t ‖ p_s)

The soft term's gradient is T·(p_s − p_t)/B: without the T² it would be (p_s − p_t)/(T·B),
shrinking as 1/T (twice: once from the 1/T inside the softmax, once because soft
probabilities differ less), so T² keeps the two terms' balance when T changes.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from minidl import backend
from minidl.engine.function import Function
from minidl.engine.grad_mode import no_grad
from minidl.engine.ops import softmax
from minidl.engine.ops._args import as_tensor
from minidl.engine.ops.softmax import log_softmax
from minidl.engine.tensor import Tensor
from minidl.nn.losses import cross_entropy
from minidl.nn.module import Module

DEFAULT_TEMPERATURE = 4.0
DEFAULT_ALPHA = 0.1


def _check_temperature(temperature: float) -> float:
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not (
            math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a positive, finite number (got {temperature!r})")
    return float(temperature)


def _check_alpha(alpha: float) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha (the weight of the hard-label term) must be in [0, 1] (got {alpha!r})")
    return float(alpha)


def _logit_pair(student_logits: Any, teacher_logits: Any) -> tuple[Tensor, Any]:
    """The student's logits as a Tensor and the teacher's as a constant array of the same dtype."""
    student = as_tensor(student_logits)
    teacher = as_tensor(teacher_logits).data  # host arrays go to the active backend, as for any tensor
    if student.ndim != 2:
        raise ValueError(f"student_logits must have shape (batch, classes) (got {student.shape})")
    if student.dtype.kind != "f":
        raise TypeError(f"student_logits must be floating point (got dtype {student.dtype})")
    if tuple(teacher.shape) != student.shape:
        raise ValueError(f"teacher_logits shape {tuple(teacher.shape)} must equal "
                         f"student_logits shape {student.shape}")
    if student.shape[0] == 0:
        raise ValueError("distillation loss of an empty batch")
    backend.check_same_device((student.data, teacher), "distillation loss")
    if teacher.dtype != student.dtype:
        # the teacher may be float64 or float16; the loss (and the student) stay in the student's dtype
        teacher = teacher.astype(student.dtype)
    return student, teacher


class SoftTargetKLDiv(Function):
    """L = (T²/B) Σᵢ Σ_c p_t,ic · (log p_t,ic − log p_s,ic),   p = softmax(z/T);
    ∂L/∂z_s = (T/B) · (p_s − p_t)

    One fused op for the soft term (the same value as
    ``T**2 * kl_div(log_softmax(z_s/T), softmax(z_t/T), reduction="batchmean")``): the
    teacher's log-probabilities are a constant, so no gradient can reach the teacher.
    """

    def __init__(self, teacher_log_probs: Any, temperature: float) -> None:
        self.log_pt = teacher_log_probs
        self.pt = backend.get_array_module(teacher_log_probs).exp(teacher_log_probs)
        self.temperature = temperature

    def forward(self, z: Any) -> Any:
        T = self.temperature
        log_ps = log_softmax(z * (1.0 / T), axis=1)
        self.ps = backend.get_array_module(z).exp(log_ps)  # reused by an ordinary backward
        kl = (self.pt * (self.log_pt - log_ps)).sum()
        return kl * (T * T / z.shape[0])

    def backward(self, gy: Any, z: Any) -> Any:
        T = self.temperature
        ps = softmax(z * (1.0 / T), dim=1) if isinstance(z, Tensor) else self.ps
        return (ps - self.pt) * (gy * (T / z.shape[0]))


def soft_target_loss(student_logits: Tensor, teacher_logits: Any,
                     temperature: float = DEFAULT_TEMPERATURE) -> Tensor:
    """T² · KL(softmax(z_t/T) ‖ softmax(z_s/T)), summed over classes, averaged over the batch.

    The teacher's logits are used as constants (detached); they may be a Tensor or an array.
    Both log-softmaxes are computed stably, so logits of ±1e4 give finite values.
    """
    T = _check_temperature(temperature)
    student, teacher = _logit_pair(student_logits, teacher_logits)
    return SoftTargetKLDiv(log_softmax(teacher * (1.0 / T), axis=1), T)(student)


def teacher_labels(teacher_logits: Any) -> Any:
    """The teacher's predicted classes, argmax_c z_t,c, as int64 labels (hard-label distillation).

    This is the right way to "round the teacher's outputs": rounding the probabilities
    themselves gives an all-zero row whenever the teacher's top probability is below ½.
    """
    z = teacher_logits.data if isinstance(teacher_logits, Tensor) else teacher_logits
    if getattr(z, "ndim", 0) != 2:
        raise ValueError(f"teacher_logits must have shape (batch, classes) (got {getattr(z, 'shape', ())})")
    return z.argmax(axis=1).astype("int64")


class DistillationTerms(NamedTuple):
    """``loss`` is what to call ``backward`` on; ``hard`` and ``soft`` are its two terms.

    ``hard`` is None when no targets were given. A term whose weight is 0 is still
    reported, computed without a graph.
    """

    loss: Tensor
    hard: Tensor | None
    soft: Tensor


def _weighted(alpha: float, hard_fn: Any, soft_fn: Any, has_targets: bool) -> DistillationTerms:
    """α·hard + (1 − α)·soft, building a graph only for the terms whose weight is not zero."""
    hard = None
    if has_targets:
        if alpha > 0:
            hard = hard_fn()
        else:
            with no_grad():
                hard = hard_fn()
    if alpha < 1:
        soft = soft_fn()
    else:
        with no_grad():
            soft = soft_fn()
    if hard is None or alpha == 0:
        loss = soft
    elif alpha == 1:
        loss = hard
    else:
        loss = hard * alpha + soft * (1.0 - alpha)
    return DistillationTerms(loss, hard, soft)


def _resolve_alpha(alpha: float, targets: Any) -> float:
    alpha = _check_alpha(alpha)
    if targets is None and alpha > 0:
        raise ValueError(f"alpha={alpha} weighs the hard-label term, but targets is None: pass the "
                         "labels, or alpha=0 to distill from the teacher alone (unlabeled data)")
    return alpha


def distillation_terms(student_logits: Tensor, teacher_logits: Any, targets: Any = None,
                       temperature: float = DEFAULT_TEMPERATURE,
                       alpha: float = DEFAULT_ALPHA) -> DistillationTerms:
    """:func:`distillation_loss` and its two terms (for recording them separately)."""
    alpha = _resolve_alpha(alpha, targets)
    student, teacher = _logit_pair(student_logits, teacher_logits)
    return _weighted(alpha, lambda: cross_entropy(student, targets),
                     lambda: soft_target_loss(student, teacher, temperature), targets is not None)


def distillation_loss(student_logits: Tensor, teacher_logits: Any, targets: Any = None,
                      temperature: float = DEFAULT_TEMPERATURE, alpha: float = DEFAULT_ALPHA) -> Tensor:
    """Hinton's distillation loss  L = α·CE(y, softmax(z_s)) + (1 − α)·T²·KL(p_t ‖ p_s),  p = softmax(z/T).

    - ``student_logits`` (B, C) Tensor; ``teacher_logits`` (B, C), used as a constant
      (detached: no gradient ever reaches the teacher);
    - ``targets``: true class indices (B,) (or probabilities (B, C)) for the hard term,
      computed at temperature 1; None for unlabeled data, which needs ``alpha=0``;
    - the KL term is summed over classes and averaged over the batch ("batchmean"),
      and multiplied by T² so that its gradient, T·(p_s − p_t)/B, keeps its size as T
      changes.

    Defaults T = 4, α = 0.1: Hinton et al. report the best results with "a considerably
    lower weight" on the hard term (they used T = 20 on MNIST). In lesson 10's T × α grid
    (a 16-unit student, 50 labelled digits) the temperature matters most — T ≤ 2 gains
    nothing over plain labels, T = 4 to 16 gains 2–3 points — and α = 0.9 is the weakest
    weight; T = 4, α = 0.1 sits in the good region. Tune them for your task.
    """
    return distillation_terms(student_logits, teacher_logits, targets, temperature, alpha).loss


def hard_distillation_terms(student_logits: Tensor, teacher_logits: Any, targets: Any = None,
                            alpha: float = 0.5) -> DistillationTerms:
    """:func:`hard_distillation_loss` and its two terms."""
    alpha = _resolve_alpha(alpha, targets)
    student, teacher = _logit_pair(student_logits, teacher_logits)
    labels = teacher_labels(teacher)
    return _weighted(alpha, lambda: cross_entropy(student, targets),
                     lambda: cross_entropy(student, labels), targets is not None)


def hard_distillation_loss(student_logits: Tensor, teacher_logits: Any, targets: Any = None,
                           alpha: float = 0.5) -> Tensor:
    """Hard-label distillation  L = α·CE(y, softmax(z_s)) + (1 − α)·CE(argmax z_t, softmax(z_s)).

    The student learns the teacher's *decisions* (its argmax) rather than its probabilities;
    with ``alpha=0`` and no ``targets`` this is pseudo-labelling, which works on unlabeled
    or augmented inputs. α = ½ by default, the equal weighting of Touvron et al. (2021, DeiT).
    """
    return hard_distillation_terms(student_logits, teacher_logits, targets, alpha).loss


class DistillationLoss(Module):
    """:func:`distillation_loss` as a module: ``DistillationLoss(T, α)(z_s, z_t, y)``."""

    def __init__(self, temperature: float = DEFAULT_TEMPERATURE, alpha: float = DEFAULT_ALPHA) -> None:
        super().__init__()
        self.temperature = _check_temperature(temperature)
        self.alpha = _check_alpha(alpha)

    def forward(self, student_logits: Tensor, teacher_logits: Any, targets: Any = None) -> Tensor:
        return distillation_loss(student_logits, teacher_logits, targets, self.temperature, self.alpha)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, alpha={self.alpha}"
