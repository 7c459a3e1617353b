"""Feature ("hint") distillation: match an intermediate layer, not only the outputs.

FitNets (Romero et al. 2015) let the student's hidden layer predict the teacher's hidden
layer through a small learned regressor r:

    L_hint = ‖ r(h_s) − h_t ‖² / (B · D_t)       (the mean squared error over the batch)

``FeatureHint`` captures h_s and h_t with forward hooks, so neither network changes.
"""

from __future__ import annotations

from typing import Any

from minidl.engine.tensor import Tensor
from minidl.nn.linear import Linear
from minidl.nn.losses import mse_loss
from minidl.nn.module import Module


class FeatureHint(Module):
    """Mean squared error between ``regressor(student_layer output)`` and ``teacher_layer`` output.

    ``student_layer`` and ``teacher_layer`` are sub-modules (e.g. ``student[1]``, the
    student's first ReLU); their outputs, of widths ``student_features`` and
    ``teacher_features``, are recorded by forward hooks at every forward pass. The
    regressor is a ``Linear(student_features, teacher_features)`` with its own parameters:
    give ``hint.parameters()`` to the optimizer along with the student's. The teacher's
    features are used as constants. ``remove()`` takes the hooks away again.

    Call ``hint()`` after a forward pass of both networks on the same batch.
    """

    def __init__(self, student_layer: Module, teacher_layer: Module, student_features: int,
                 teacher_features: int) -> None:
        super().__init__()
        for name, m in (("student_layer", student_layer), ("teacher_layer", teacher_layer)):
            if not isinstance(m, Module):
                raise TypeError(f"{name} must be a Module, e.g. student[1] (got {type(m).__name__})")
        self.regressor = Linear(student_features, teacher_features)
        self.__dict__["_captured"] = {}
        self.__dict__["_handles"] = [
            student_layer.register_forward_hook(self._capture("student")),
            teacher_layer.register_forward_hook(self._capture("teacher")),
        ]

    def _capture(self, which: str) -> Any:
        def hook(module: Module, args: Any, output: Tensor) -> None:
            self._captured[which] = output

        return hook

    def forward(self) -> Tensor:
        missing = [w for w in ("student", "teacher") if w not in self._captured]
        if missing:
            raise RuntimeError(f"FeatureHint: no {' or '.join(missing)} features recorded yet; run both "
                               "networks on the batch first (or the hooks were removed)")
        h_s, h_t = self._captured["student"], self._captured["teacher"]
        if h_s.ndim != 2 or h_t.ndim != 2:
            raise ValueError(f"FeatureHint expects (batch, features) outputs "
                             f"(got {h_s.shape} and {h_t.shape})")
        if h_s.shape[0] != h_t.shape[0]:
            raise ValueError(f"FeatureHint: the student saw {h_s.shape[0]} samples, the teacher "
                             f"{h_t.shape[0]}: run them on the same batch")
        r = self.regressor
        if h_s.shape[1] != r.in_features or h_t.shape[1] != r.out_features:
            raise ValueError(f"FeatureHint was built for {r.in_features} student and {r.out_features} "
                             f"teacher features (got {h_s.shape[1]} and {h_t.shape[1]})")
        return mse_loss(r(h_s), Tensor._wrap(h_t.data))

    def remove(self) -> None:
        """Unhook from both networks."""
        for handle in self._handles:
            handle.remove()
        self._captured.clear()
