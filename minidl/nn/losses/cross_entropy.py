"""Cross-entropy and negative log-likelihood, with PyTorch's signatures and reductions.

Cross-entropy in all its variants (class weights, ignored targets, label smoothing,
probability targets) is one formula:

    L = − Σᵢ Σ_c a_ic · log softmax(xᵢ)_c

with constant coefficients ``a`` built from the targets (:func:`target_coefficients`), and
its gradient is

    ∂L/∂xᵢ = softmax(xᵢ) · Σ_c a_ic − aᵢ

which for plain one-hot targets and the mean is the familiar (p − onehot)/N. ``nll_loss`` is
the same sum on log-probabilities the caller computed: L = −Σᵢ Σ_c a_ic · inputᵢc.

Inputs of shape (N, C, d₁, …, d_k) (a class score per pixel) are the same losses over the
N·d₁⋯d_k positions: the class axis is moved last and the positions become rows.
"""

from __future__ import annotations

from typing import Any

from minidl import backend
from minidl.engine.function import Function
from minidl.engine.ops import mul, permute, reshape, softmax, sum, where
from minidl.engine.ops._args import as_tensor
from minidl.engine.tensor import Tensor
from minidl.nn.losses._reduction import check_reduction, values


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
    t = values(target)
    xp = backend.get_array_module(t)
    if weight is not None:
        backend.check_same_device((t, values(weight)), f"{name} (target and weight)")
    w = None if weight is None else values(weight).astype(dtype, copy=False)
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
        # (PyTorch picks the target's entry and never multiplies), not 0·(−∞) = NaN. The mask
        # is built only when some log-probability is −∞ (or NaN): on the 64-128-10 step the
        # check costs 0.9 µs, building the mask every time cost 1.7 µs (issue 15).
        if not shifted.min() > -xp.inf:
            shifted = xp.where(self.a != 0, shifted, 0)
        weighted = self.a * shifted
        return -weighted.sum(axis=1) if self.per_sample else -weighted.sum()

    def backward(self, gy: Any, x: Any) -> Any:
        p = softmax(x, dim=1) if isinstance(x, Tensor) else self.probs
        g = p * self.row_sums - self.a
        if self.per_sample:
            gy = gy.reshape((-1, 1))
        return g * gy


def _positions_as_rows(name: str, input: Tensor, target: Any) -> tuple[Tensor, Any, tuple[int, ...]]:  # noqa: A002
    """(N, C, d₁, …) logits and their targets as (N·d₁⋯, C) rows, and the shape (N, d₁, …)."""
    t = values(target)
    n, c, *spatial = input.shape
    positions = (n, *spatial)
    xp = backend.get_array_module(t)
    if t.dtype.kind == "f" and t.shape == input.shape:  # probabilities per position
        rows_t = xp.moveaxis(t, 1, -1).reshape(-1, c)
    elif t.dtype.kind == "f" and name == "cross_entropy":
        raise ValueError(f"{name}: probability targets must have the input's shape {input.shape} "
                         f"(got {t.shape})")
    elif t.shape != positions:
        raise ValueError(f"{name}: class-index targets must have shape {positions} (the input's shape "
                         f"without the class axis 1) for input of shape {input.shape} (got {t.shape})")
    else:
        rows_t = t.reshape(-1)
    rows = reshape(permute(input, 0, *range(2, input.ndim), 1), -1, c)
    return rows, rows_t, positions


def cross_entropy(input: Tensor, target: Any, weight: Any = None, ignore_index: int = -100,  # noqa: A002
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy of logits ``input`` against class indices or class probabilities.

    Shapes as ``torch.nn.functional.cross_entropy``: logits (N, C) with targets (N,) of class
    indices or (N, C) of probabilities; one unbatched sample (C,); or a score per position
    (N, C, d₁, …) with targets (N, d₁, …) or (N, C, d₁, …), where ``reduction="none"`` returns
    the loss per position (N, d₁, …) and the mean runs over every kept position.
    Same arguments and values as PyTorch's. Works on raw logits: the log-softmax is inside,
    computed stably (finite for logits of ±1e4, and a masked logit of −∞ is fine).
    """
    check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1] (got {label_smoothing})")
    input = as_tensor(input)  # noqa: A001
    if input.ndim == 1:  # one unbatched sample
        t = values(target)
        batched_t = t.reshape(1, -1) if getattr(t, "ndim", 0) == 1 and t.dtype.kind == "f" else (
            backend.get_array_module(t).asarray(t).reshape(1))
        loss = cross_entropy(input.reshape(1, -1), batched_t, weight, ignore_index,
                             "sum" if reduction == "none" else reduction, label_smoothing)
        return loss
    if input.ndim == 0:
        raise ValueError("cross_entropy expects logits of shape (N, C), (C,) or (N, C, d1, ...) (got a 0-d input)")
    if input.dtype.kind != "f":
        raise TypeError(f"cross_entropy: input must be floating point logits (got dtype {input.dtype})")
    backend.check_same_device((input.data, values(target)), "cross_entropy (input and target)")
    if input.ndim > 2:
        rows, rows_t, positions = _positions_as_rows("cross_entropy", input, target)
        loss = cross_entropy(rows, rows_t, weight, ignore_index, reduction, label_smoothing)
        return reshape(loss, positions) if reduction == "none" else loss
    a = target_coefficients(input.shape, target, input.dtype, weight=weight, ignore_index=ignore_index,
                            reduction=reduction, label_smoothing=label_smoothing)
    a, row_sums = a
    return SoftmaxCrossEntropy(a, per_sample=reduction == "none", row_sums=row_sums)(input)


def nll_loss(input: Tensor, target: Any, weight: Any = None, ignore_index: int = -100,  # noqa: A002
             reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities ``input``: L = −Σᵢ Σ_c a_ic · inputᵢc.

    ``a`` as in :func:`target_coefficients` (class weights, ``ignore_index``, PyTorch's
    weighted mean). Shapes as ``torch.nn.functional.nll_loss``: (N, C) with targets (N,),
    one sample (C,) with a 0-d target, or (N, C, d₁, …) with targets (N, d₁, …).
    Pair it with ``log_softmax``: ``nll_loss(log_softmax(x, dim=1), t) == cross_entropy(x, t)``.
    """
    check_reduction(reduction)
    input = as_tensor(input)  # noqa: A001
    t = values(target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"nll_loss: target must hold integer class indices (got dtype {t.dtype})")
    if input.ndim == 1:  # one unbatched sample
        loss = nll_loss(input.reshape(1, -1), backend.get_array_module(t).asarray(t).reshape(1), weight,
                        ignore_index, "sum" if reduction == "none" else reduction)
        return loss
    if input.ndim == 0:
        raise ValueError("nll_loss expects log-probabilities of shape (N, C), (C,) or (N, C, d1, ...) "
                         "(got a 0-d input)")
    if input.ndim > 2:
        rows, rows_t, positions = _positions_as_rows("nll_loss", input, t)
        loss = nll_loss(rows, rows_t, weight, ignore_index, reduction)
        return reshape(loss, positions) if reduction == "none" else loss
    a, _ = target_coefficients(input.shape, target, input.dtype, weight=weight,
                               ignore_index=ignore_index, reduction=reduction, name="nll_loss")
    # Entries with coefficient 0 are left out rather than multiplied by 0: a masked class
    # has log-probability −∞, and 0·(−∞) is NaN. The gradient, −a, is unchanged.
    weighted = mul(where(Tensor._wrap(a != 0), input, 0.0), Tensor._wrap(-a))
    return sum(weighted, dim=1) if reduction == "none" else sum(weighted)
