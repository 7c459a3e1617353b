"""Losses as Modules (``nn.CrossEntropyLoss()``…), each a thin wrapper of its function."""

from __future__ import annotations

from typing import Any

from minidl.engine.tensor import Tensor
from minidl.nn import losses
from minidl.nn.module import Module


class CrossEntropyLoss(Module):
    """See :func:`minidl.nn.functional.cross_entropy`."""

    def __init__(self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.weight, self.ignore_index = weight, ignore_index
        self.reduction, self.label_smoothing = reduction, label_smoothing

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return losses.cross_entropy(input, target, self.weight, self.ignore_index, self.reduction,
                                    self.label_smoothing)


class NLLLoss(Module):
    """See :func:`minidl.nn.functional.nll_loss`."""

    def __init__(self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean") -> None:
        super().__init__()
        self.weight, self.ignore_index, self.reduction = weight, ignore_index, reduction

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return losses.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class BCEWithLogitsLoss(Module):
    """See :func:`minidl.nn.functional.binary_cross_entropy_with_logits`."""

    def __init__(self, weight: Any = None, reduction: str = "mean", pos_weight: Any = None) -> None:
        super().__init__()
        self.weight, self.reduction, self.pos_weight = weight, reduction, pos_weight

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return losses.binary_cross_entropy_with_logits(input, target, self.weight, self.reduction,
                                                       self.pos_weight)


class MSELoss(Module):
    """See :func:`minidl.nn.functional.mse_loss`."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return losses.mse_loss(input, target, self.reduction)


class L1Loss(MSELoss):
    """See :func:`minidl.nn.functional.l1_loss`."""

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return losses.l1_loss(input, target, self.reduction)
