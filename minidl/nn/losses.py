"""Loss functions, with PyTorch's signatures and reductions (``torch.nn.functional``).

Cross-entropy in all its variants (class weights, ignored targets, label smoothing,
probability targets) is one formula:

    L = − Σᵢ Σ_c a_ic · log softmax(xᵢ)_c

with constant coefficients ``a`` built from the targets, and its gradient is

    ∂L/∂xᵢ = softmax(xᵢ) · Σ_c a_ic − aᵢ

which for plain one-hot targets and the mean is the familiar (p − onehot)/N.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minidl import backend
from minidl.engine.function import Function
from minidl.engine.ops import mean, mul, softmax, sum, where
from minidl.engine.ops._args import as_tensor
from minidl.engine.ops.elementwise import sigmoid
from minidl.engine.tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS} (got {reduction!r})")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return mean(loss)
    if reduction == "sum":
        return sum(loss)
    return loss


def _values(x: Any) -> Any:
    """The array behind a Tensor; lists and numbers become arrays of the active backend."""
    if isinstance(x, Tensor):
        return x.data
    if not hasattr(x, "shape") or isinstance(x, np.generic):
        return Tensor(x).data
    return x


# ------------------------------------------------------------------------------------------
# Cross-entropy


def target_coefficients(input_shape: tuple[int, ...], target: Any, dtype: Any, *,
                        weight: Any = None, ignore_index: int = -100, reduction: str = "mean",
                        label_smoothing: float = 0.0,
                        name: str = "cross_entropy") -> tuple[Any, float | None]:
    """The coefficients ``a`` (shape (N, C)) of L = −Σ a · log softmax(x), reduction included.

    Returns ``(a, row_sum)``: ``row_sum`` is Σ_c a_ic when it is the same number for every
    row (plain class targets), else None.

    Class-index targets t, class weights w (default 1), label smoothing ε:
    a_ic = (1−ε)·w_{tᵢ}·[c = tᵢ] + ε·w_c/C for kept samples, 0 where tᵢ = ``ignore_index``;
    with ``reduction="mean"`` all of it is divided by Σᵢ w_{tᵢ} over kept samples
    (PyTorch's weighted mean). Probability targets q: a_ic = w_c·((1−ε)·q_ic + ε/C), mean over N.
    """
    n, c = input_shape
    t = _values(target)
    xp = backend.get_array_module(t)
    if weight is not None:
        backend.check_same_device((t, _values(weight)), f"{name} (target and weight)")
    w = None if weight is None else _values(weight).astype(dtype, copy=False)
    if w is not None and w.shape != (c,):
        raise ValueError(f"{name}: weight must have shape ({c},) (got {w.shape})")

    if t.dtype.kind == "f":  # class probabilities
        if t.shape != (n, c):
            raise ValueError(f"{name}: probability targets must have the input's shape {(n, c)} "
                             f"(got {t.shape})")
        a = t.astype(dtype, copy=False)
        if label_smoothing:
            a = a * (1 - label_smoothing) + label_smoothing / c
        if w is not None:
            a = a * w
        return (a / n if reduction == "mean" else a), None

    if t.dtype.kind not in "iu":
        raise TypeError(f"{name}: target must hold integer class indices (int64) or float "
                        f"probabilities (got dtype {t.dtype})")
    if t.shape != (n,):
        raise ValueError(f"{name}: class-index targets must have shape ({n},) for input of "
                         f"shape {input_shape} (got {t.shape})")
    if n == 0:
        raise ValueError(f"{name}: empty batch")
    lowest = int(t.min())
    plain = w is None and not label_smoothing and lowest >= 0 and not 0 <= ignore_index < c
    if plain:  # the common case, kept lean: a one-hot matrix scaled by the reduction
        highest = int(t.max())  # checked here: CuPy's fancy indexing does not bounds-check
        if highest >= c:
            raise _class_error(name, highest, c, ignore_index)
        scale = 1.0 / n if reduction == "mean" else 1.0
        a = xp.zeros((n, c), dtype=dtype)
        a[xp.arange(n), t] = scale
        return a, scale

    kept = t != ignore_index
    safe_t = xp.where(kept, t, 0)
    if int(safe_t.min()) < 0 or int(safe_t.max()) >= c:
        raise _class_error(name, int(safe_t.min()) if int(safe_t.min()) < 0 else int(safe_t.max()), c,
                           ignore_index)
    w_t = (kept.astype(dtype) if w is None else w[safe_t] * kept)
    a = xp.zeros((n, c), dtype=dtype)
    a[xp.arange(n), safe_t] = w_t * (1 - label_smoothing)
    if label_smoothing:
        spread = (xp.ones(c, dtype=dtype) if w is None else w) * (label_smoothing / c)
        a += spread * kept[:, None]
    if reduction == "mean":
        total = float(w_t.sum())
        if total == 0:
            raise ValueError(f"{name}: every target is ignore_index (or has weight 0), so the "
                             "mean over kept samples is undefined; use reduction='sum'")
        a /= total
    return a, None


def _class_error(name: str, bad: int, c: int, ignore_index: int) -> IndexError:
    return IndexError(f"{name}: target holds class {bad}, but the input has {c} classes "
                      f"(valid: 0..{c - 1}, or ignore_index={ignore_index})")


class SoftmaxCrossEntropy(Function):
    """L = −Σᵢ Σ_c a_ic · log softmax(x)ᵢc;   ∂L/∂x = softmax(x) · Σ_c a_ic − a

    ``a`` is a constant (see :func:`target_coefficients`). With ``per_sample=True`` the
    output is the vector of per-sample losses (``reduction="none"``).
    """

    def __init__(self, a: Any, per_sample: bool, row_sums: Any = None) -> None:
        self.a = a
        # Σ_c a_ic, a constant like a (a number when every row has the same sum)
        self.row_sums = a.sum(axis=1, keepdims=True) if row_sums is None else row_sums
        self.per_sample = per_sample

    def forward(self, x: Any) -> Any:
        xp = backend.get_array_module(x)
        shifted = x - x.max(axis=1, keepdims=True)
        e = xp.exp(shifted)
        s = e.sum(axis=1, keepdims=True)
        e /= s
        self.probs = e  # softmax(x), reused by an ordinary backward
        shifted -= xp.log(s)  # now log softmax(x), never log(0)
        # A masked logit (−∞) has log softmax −∞; where its coefficient is 0 the term is 0
        # (PyTorch picks the target's entry and never multiplies), not 0·(−∞) = NaN.
        weighted = self.a * xp.where(self.a != 0, shifted, 0)
        return -weighted.sum(axis=1) if self.per_sample else -weighted.sum()

    def backward(self, gy: Any, x: Any) -> Any:
        p = softmax(x, dim=1) if isinstance(x, Tensor) else self.probs
        g = p * self.row_sums - self.a
        if self.per_sample:
            gy = gy.reshape((-1, 1))
        return g * gy


def cross_entropy(input: Tensor, target: Any, weight: Any = None, ignore_index: int = -100,  # noqa: A002
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy of logits ``input`` (N, C) against class indices (N,) or probabilities (N, C).

    Same arguments and values as ``torch.nn.functional.cross_entropy``. Works on raw
    logits: the log-softmax is inside, computed stably (finite for logits of ±1e4).
    """
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1] (got {label_smoothing})")
    input = as_tensor(input)  # noqa: A001
    if input.ndim == 1:  # one unbatched sample
        t = _values(target)
        batched_t = t.reshape(1, -1) if getattr(t, "ndim", 0) == 1 and t.dtype.kind == "f" else (
            backend.get_array_module(t).asarray(t).reshape(1))
        loss = cross_entropy(input.reshape(1, -1), batched_t, weight, ignore_index,
                             "sum" if reduction == "none" else reduction, label_smoothing)
        return loss
    if input.ndim != 2:
        raise ValueError(f"cross_entropy expects logits of shape (N, C) or (C,) (got {input.shape})")
    if input.dtype.kind != "f":
        raise TypeError(f"cross_entropy: input must be floating point logits (got dtype {input.dtype})")
    backend.check_same_device((input.data, _values(target)), "cross_entropy (input and target)")
    a = target_coefficients(input.shape, target, input.dtype, weight=weight, ignore_index=ignore_index,
                            reduction=reduction, label_smoothing=label_smoothing)
    a, row_sums = a
    return SoftmaxCrossEntropy(a, per_sample=reduction == "none", row_sums=row_sums)(input)


def nll_loss(input: Tensor, target: Any, weight: Any = None, ignore_index: int = -100,  # noqa: A002
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities ``input`` (N, C): −Σ a · input.

    Pair it with ``log_softmax``: ``nll_loss(log_softmax(x), t) == cross_entropy(x, t)``.
    """
    _check_reduction(reduction)
    input = as_tensor(input)  # noqa: A001
    if input.ndim != 2:
        raise ValueError(f"nll_loss expects log-probabilities of shape (N, C) (got {input.shape})")
    t = _values(target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"nll_loss: target must hold integer class indices (got dtype {t.dtype})")
    a, _ = target_coefficients(input.shape, target, input.dtype, weight=weight,
                               ignore_index=ignore_index, reduction=reduction, name="nll_loss")
    # Entries with coefficient 0 are left out rather than multiplied by 0: a masked class
    # has log-probability −∞, and 0·(−∞) is NaN. The gradient, −a, is unchanged.
    weighted = mul(where(Tensor._wrap(a != 0), input, 0.0), Tensor._wrap(-a))
    return sum(weighted, dim=1) if reduction == "none" else sum(weighted)


# ------------------------------------------------------------------------------------------
# Binary cross-entropy on logits


class BinaryCrossEntropyWithLogits(Function):
    """ℓ = (1 − y)·x + c·softplus(−x),  c = 1 + (pos_weight − 1)·y;   ∂ℓ/∂x = c·σ(x) − pos_weight·y

    softplus(−x) = log(1 + e⁻ˣ) is computed as max(−x, 0) + log1p(e^{−|x|}): no overflow
    for logits of ±1e4, and the gradient is exact at x = 0 (σ(0) − y), where a composition
    of relu and abs would give a wrong subgradient.
    """

    def __init__(self, y: Any, pos_weight: Any) -> None:
        self.y, self.pos_weight = y, pos_weight

    def forward(self, x: Any) -> Any:
        xp = backend.get_array_module(x)
        softplus_neg = xp.maximum(-x, 0) + xp.log1p(xp.exp(-xp.abs(x)))
        c = 1 if self.pos_weight is None else 1 + (self.pos_weight - 1) * self.y
        return (1 - self.y) * x + c * softplus_neg

    def backward(self, gl: Any, x: Any) -> Any:
        y, pw = self.y, self.pos_weight
        if pw is None:
            return gl * (sigmoid(x) - y)
        return gl * ((1 + (pw - 1) * y) * sigmoid(x) - pw * y)


def binary_cross_entropy_with_logits(input: Tensor, target: Any, weight: Any = None,  # noqa: A002
                                     reduction: str = "mean", pos_weight: Any = None) -> Tensor:
    """Binary cross-entropy of logits against targets in [0, 1], as PyTorch's (stable, fused)."""
    _check_reduction(reduction)
    input = as_tensor(input)  # noqa: A001
    y = _values(target)
    backend.check_same_device((input.data, y), "binary_cross_entropy_with_logits (input and target)")
    if tuple(getattr(y, "shape", ())) != input.shape:
        raise ValueError(f"binary_cross_entropy_with_logits: target shape {getattr(y, 'shape', ())} "
                         f"must equal input shape {input.shape}")
    y = y.astype(input.dtype, copy=False)
    pw = None if pos_weight is None else _values(pos_weight).astype(input.dtype, copy=False)
    loss = BinaryCrossEntropyWithLogits(y, pw)(input)
    if weight is not None:
        loss = loss * Tensor._wrap(_values(weight).astype(input.dtype, copy=False))
    return _reduce(loss, reduction)


# ------------------------------------------------------------------------------------------
# Regression


def _check_same_shape(name: str, input: Tensor, target: Any) -> None:  # noqa: A002
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"{name}: input shape {tuple(input.shape)} and target shape "
                         f"{tuple(target.shape)} differ (PyTorch would broadcast with a warning; "
                         "reshape one of them)")


def mse_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Mean squared error (1/n) Σ (input − target)²."""
    _check_reduction(reduction)
    input, target = as_tensor(input), as_tensor(target)  # noqa: A001
    _check_same_shape("mse_loss", input, target)
    diff = input - target
    return _reduce(diff * diff, reduction)


def l1_loss(input: Tensor, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Mean absolute error (1/n) Σ |input − target|."""
    _check_reduction(reduction)
    input, target = as_tensor(input), as_tensor(target)  # noqa: A001
    _check_same_shape("l1_loss", input, target)
    return _reduce(abs(input - target), reduction)
