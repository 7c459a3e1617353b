"""Knowledge distillation: train a small student on what a large teacher outputs.

- ``distillation_loss`` / ``DistillationLoss``  Hinton's soft targets:
  α·CE(y, z_s) + (1 − α)·T²·KL(softmax(z_t/T) ‖ softmax(z_s/T))
- ``soft_target_loss``      the T²·KL term alone (one fused op)
- ``hard_distillation_loss`` the teacher's argmax as labels; ``label_with_teacher`` for unlabeled data
- ``Distiller``             the training loop (teacher in eval mode, no graph; both terms recorded)
- ``FeatureHint``           FitNets-style matching of an intermediate layer
"""

from minidl.compress.distill.distiller import (
    Distiller,
    DistillHistory,
    DistillStep,
    label_with_teacher,
    predict_logits,
)
from minidl.compress.distill.hints import FeatureHint
from minidl.compress.distill.losses import (
    DEFAULT_ALPHA,
    DEFAULT_TEMPERATURE,
    DistillationLoss,
    DistillationTerms,
    SoftTargetKLDiv,
    distillation_loss,
    distillation_terms,
    hard_distillation_loss,
    hard_distillation_terms,
    soft_target_loss,
    teacher_labels,
)

__all__ = [
    "DEFAULT_ALPHA", "DEFAULT_TEMPERATURE", "DistillHistory", "DistillStep", "DistillationLoss",
    "DistillationTerms", "Distiller", "FeatureHint", "SoftTargetKLDiv", "distillation_loss",
    "distillation_terms", "hard_distillation_loss", "hard_distillation_terms", "label_with_teacher",
    "predict_logits", "soft_target_loss", "teacher_labels",
]
