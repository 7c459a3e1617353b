"""What every loss shares: PyTorch's three reductions, and the array behind a target."""

from __future__ import annotations

from typing import Any

import numpy as np

from minidl.engine.ops import mean, sum
from minidl.engine.tensor import Tensor

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS} (got {reduction!r})")


def reduce(loss: Tensor, reduction: str) -> Tensor:
    """``"mean"``: the mean over every element; ``"sum"``: the sum; ``"none"``: ``loss`` itself."""
    if reduction == "mean":
        return mean(loss)
    if reduction == "sum":
        return sum(loss)
    return loss


def values(x: Any) -> Any:
    """The array behind a Tensor; lists and numbers become arrays of the active backend."""
    if isinstance(x, Tensor):
        return x.data
    if not hasattr(x, "shape") or isinstance(x, np.generic):
        return Tensor(x).data
    return x


def check_same_shape(name: str, input: Tensor, target: Any) -> None:  # noqa: A002
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"{name}: input shape {tuple(input.shape)} and target shape "
                         f"{tuple(target.shape)} differ (PyTorch would broadcast with a warning; "
                         "reshape one of them)")
