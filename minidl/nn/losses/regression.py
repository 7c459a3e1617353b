"""Regression losses, with PyTorch's arguments and reductions."""

from __future__ import annotations

from typing import Any

from minidl.engine.ops import where
from minidl.engine.ops._args import as_tensor
from minidl.engine.tensor import Tensor
from minidl.nn.losses._reduction import check_reduction, check_same_shape, reduce


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Mean squared error (1/n) Σ (input − target)²."""
    check_reduction(reduction)
    input, target = as_tensor(input), as_tensor(target)  # noqa: A001
    check_same_shape("mse_loss", input, target)
    diff = input - target
    return reduce(diff * diff, reduction)


def l1_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Mean absolute error (1/n) Σ |input − target|."""
    check_reduction(reduction)
    input, target = as_tensor(input), as_tensor(target)  # noqa: A001
    check_same_shape("l1_loss", input, target)
    return reduce(abs(input - target), reduction)


def smooth_l1_loss(input: Tensor, target: Any, reduction: str = "mean",  # noqa: A002
                   beta: float = 1.0) -> Tensor:
    """Smooth L1: with z = |input − target|,  ℓ = ½ z²/β if z < β, else z − ½β.

    Quadratic near 0, linear (slope 1) beyond β; value and slope are continuous at z = β.
    ``beta=0`` is :func:`l1_loss` (as in PyTorch). As ``torch.nn.functional.smooth_l1_loss``.
    """
    check_reduction(reduction)
    if not beta >= 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0 (got {beta})")
    input, target = as_tensor(input), as_tensor(target)  # noqa: A001
    check_same_shape("smooth_l1_loss", input, target)
    if beta == 0:
        return l1_loss(input, target, reduction)
    d = input - target
    z = abs(d)
    return reduce(where(z.data < beta, d * d * 0.5 / beta, z - 0.5 * beta), reduction)


def huber_loss(input: Tensor, target: Any, reduction: str = "mean", delta: float = 1.0) -> Tensor:  # noqa: A002
    """Huber: with z = |input − target|,  ℓ = ½ z² if z < δ, else δ·(z − ½δ).

    Equal to δ·``smooth_l1_loss(beta=δ)``: the same curve with slope δ (not 1) beyond δ.
    ``delta`` must be positive. As ``torch.nn.functional.huber_loss``.
    """
    check_reduction(reduction)
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be > 0 (got {delta})")
    input, target = as_tensor(input), as_tensor(target)  # noqa: A001
    check_same_shape("huber_loss", input, target)
    d = input - target
    z = abs(d)
    return reduce(where(z.data < delta, d * d * 0.5, (z - 0.5 * delta) * delta), reduction)
