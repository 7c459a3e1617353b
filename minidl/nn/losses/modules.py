"""Losses as Modules (``nn.CrossEntropyLoss()``…), each a thin wrapper of its function.

The formula is in the function's docstring, one hop away.
"""

from __future__ import annotations

from typing import Any

from minidl.engine.tensor import Tensor
from minidl.nn.losses.binary import binary_cross_entropy, binary_cross_entropy_with_logits
from minidl.nn.losses.cross_entropy import cross_entropy, nll_loss
from minidl.nn.losses.divergence import KL_REDUCTIONS, kl_div
from minidl.nn.losses.regression import huber_loss, l1_loss, mse_loss, smooth_l1_loss
from minidl.nn.module import Module


# The classes below share one shape on purpose: each is PyTorch's Module of that name, holding its
# arguments and calling its function (one hop to the formula); a generic wrapper would hide both.
class CrossEntropyLoss(Module):
    """See :func:`minidl.nn.functional.cross_entropy`."""

    def __init__(self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.weight, self.ignore_index = weight, ignore_index
        self.reduction, self.label_smoothing = reduction, label_smoothing

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return cross_entropy(input, target, self.weight, self.ignore_index, self.reduction,
                             self.label_smoothing)


class NLLLoss(Module):
    """See :func:`minidl.nn.functional.nll_loss`."""

    def __init__(self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean") -> None:
        super().__init__()
        self.weight, self.ignore_index, self.reduction = weight, ignore_index, reduction

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return nll_loss(input, target, self.weight, self.ignore_index, self.reduction)


class BCELoss(Module):
    """See :func:`minidl.nn.functional.binary_cross_entropy`."""

    def __init__(self, weight: Any = None, reduction: str = "mean") -> None:
        super().__init__()
        self.weight, self.reduction = weight, reduction

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return binary_cross_entropy(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(Module):
    """See :func:`minidl.nn.functional.binary_cross_entropy_with_logits`."""

    def __init__(self, weight: Any = None, reduction: str = "mean", pos_weight: Any = None) -> None:
        super().__init__()
        self.weight, self.reduction, self.pos_weight = weight, reduction, pos_weight

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return binary_cross_entropy_with_logits(input, target, self.weight, self.reduction, self.pos_weight)


class MSELoss(Module):
    """See :func:`minidl.nn.functional.mse_loss`."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return mse_loss(input, target, self.reduction)


class L1Loss(MSELoss):
    """See :func:`minidl.nn.functional.l1_loss`."""

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return l1_loss(input, target, self.reduction)


class SmoothL1Loss(Module):
    """See :func:`minidl.nn.functional.smooth_l1_loss`."""

    def __init__(self, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__()
        if not beta >= 0:
            raise ValueError(f"SmoothL1Loss: beta must be >= 0 (got {beta})")
        self.reduction, self.beta = reduction, beta

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return smooth_l1_loss(input, target, self.reduction, self.beta)

    def extra_repr(self) -> str:
        return f"beta={self.beta}"


class HuberLoss(Module):
    """See :func:`minidl.nn.functional.huber_loss`."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__()
        if not delta > 0:
            raise ValueError(f"HuberLoss: delta must be > 0 (got {delta})")
        self.reduction, self.delta = reduction, delta

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return huber_loss(input, target, self.reduction, self.delta)

    def extra_repr(self) -> str:
        return f"delta={self.delta}"


class KLDivLoss(Module):
    """See :func:`minidl.nn.functional.kl_div` (as ``torch.nn.KLDivLoss``: ``input`` is log-probabilities)."""

    def __init__(self, reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__()
        if reduction not in KL_REDUCTIONS:
            raise ValueError(f"KLDivLoss: reduction must be one of {KL_REDUCTIONS} (got {reduction!r})")
        self.reduction, self.log_target = reduction, log_target

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002
        return kl_div(input, target, reduction=self.reduction, log_target=self.log_target)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, log_target={self.log_target}"
