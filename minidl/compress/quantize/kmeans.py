"""K-means weight sharing (Deep Compression, Han, Mao & Dally 2016): 2^b shared values per tensor.

Uniform quantization (:mod:`.quantize`) puts the 2^b levels on an even grid. Weight
sharing lets the data choose them: the kept weights w₁ … w_n of a tensor are clustered
into k = 2^b clusters C₁ … C_k by minimizing the within-cluster sum of squares

    WCSS = Σ_j Σ_{i ∈ C_j} (w_i − c_j)²

with Lloyd's iterations (assign each weight to its nearest centroid, move each centroid
to the mean of its weights). A weight is then stored as its b-bit cluster index, and the
tensor as those indices plus a codebook of k floats.

The module form trains the codebook. The forward pass computes W = c[index], so by the
chain rule (Han et al., eq. 3)

    ∂L/∂c_j = Σ_{i : index_i = j} ∂L/∂W_i

— a centroid's gradient is the sum of the gradients of the weights in its cluster, and
fine-tuning moves shared values while the assignment stays fixed. Pruned weights carry
the index −1: they are zero, get no gradient, and take no part in the clustering.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from minidl import backend
from minidl.compress.prune.masks import _rename_parameter, get_mask, learnable, remove
from minidl.engine.function import Function
from minidl.engine.tensor import Tensor
from minidl.nn.module import Module, Parameter

INITS = ("linear", "density", "random")
PRUNED = -1
"""The cluster index of a pruned weight: it decodes to exactly 0 and is not clustered."""


def _host(x: Any) -> np.ndarray:
    return backend.to_numpy(x.data if isinstance(x, Tensor) else x)


def _check_bits(bits: Any) -> int:
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 16:
        raise ValueError(f"bits must be an int in [1, 16] (got {bits!r})")
    return bits


def initial_centroids(values: np.ndarray, k: int, init: str = "linear", seed: int = 0) -> np.ndarray:
    """k starting centroids for the 1-D ``values`` (float64).

    - ``"linear"``: evenly spaced over [min, max] (Han et al.'s best: it keeps the rare large
      weights, which matter most, their own centroids);
    - ``"density"``: the quantiles at (j + ½)/k of the values, so dense regions get more
      centroids;
    - ``"random"`` (Forgy): k values drawn without replacement, with ``seed``.
    """
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS} (got {init!r})")
    if values.size == 0:
        return np.zeros(k)  # host: nothing to cluster; the codebook is never read
    if init == "linear":
        return np.linspace(values.min(), values.max(), k)
    if init == "density":
        return np.quantile(values, (np.arange(k) + 0.5) / k)  # host
    rng = np.random.default_rng(seed)  # host
    picks = rng.choice(values.size, size=min(k, values.size), replace=False)
    chosen = np.sort(values[picks])
    return np.concatenate([chosen, np.full(k - chosen.size, chosen[-1])])  # host


def assign(values: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """index_i = argmin_j |w_i − c_j|; halfway between two centroids: the smaller; equal centroids: the lowest j.

    Exact, in O(n log k) time and O(n) memory (no n × k distance matrix): the nearest
    centroid of w is one of its two neighbours in sorted order, and comparing those two
    distances (rather than w with rounded midpoints) gives the true argmin of the float
    distances.
    """
    order = np.argsort(centroids, kind="stable")  # equal values: lowest index first
    s = centroids[order]
    pos = np.searchsorted(s, values, side="left")  # s[pos-1] < w <= s[pos]
    lo = np.clip(pos - 1, 0, s.size - 1)
    hi = np.clip(pos, 0, s.size - 1)
    nearest = np.where(np.abs(values - s[lo]) <= np.abs(values - s[hi]), lo, hi)
    return order[np.searchsorted(s, s[nearest], side="left")]  # first of a run of equal centroids


def update_centroids(values: np.ndarray, index: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """c_j = mean of the values assigned to j; an empty cluster keeps its centroid unchanged."""
    k = centroids.size
    counts = np.bincount(index, minlength=k)
    sums = np.bincount(index, weights=values, minlength=k)
    return np.where(counts > 0, sums / np.maximum(counts, 1), centroids)


def within_cluster_error(values: np.ndarray, index: np.ndarray, centroids: np.ndarray) -> float:
    """WCSS = Σ_i (w_i − c_{index_i})²."""
    return float(((values - centroids[index]) ** 2).sum())


def lloyd(values: np.ndarray, centroids: np.ndarray, max_iter: int = 300,
          tol: float = 1e-7) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """Lloyd's algorithm from ``centroids``: (centroids, index, WCSS after each update).

    Each iteration assigns every value to its nearest centroid and moves every centroid
    to the mean of its values (:func:`assign`, then :func:`update_centroids`); an empty
    cluster keeps its centroid, and of several equal centroids the first takes the values
    (the others stay empty). Neither step can raise the WCSS.

    In one dimension clusters are intervals, so the values are sorted once and each
    iteration only finds the k − 1 boundaries (the midpoints between neighbouring
    centroids, a value on a midpoint going to the smaller centroid) and takes cluster sums
    from prefix sums: O(k log n) per iteration instead of O(n log k). Stops at a fixed point
    (no boundary moved), when an iteration lowers the WCSS by less than ``tol`` times its
    value, or after ``max_iter`` iterations. The returned index comes from :func:`assign`.
    """
    c = np.asarray(centroids, dtype=np.float64).copy()  # host
    v = np.sort(values.astype(np.float64))
    prefix = np.concatenate([[0.0], np.cumsum(v)])
    history: list[float] = []
    previous = None
    for _ in range(max_iter):
        unique, first = np.unique(c, return_index=True)  # equal centroids: the lowest index owns the cluster
        ends = np.searchsorted(v, (unique[:-1] + unique[1:]) / 2, side="right")
        bounds = np.concatenate([[0], ends, [v.size]])
        counts = np.diff(bounds)
        means = np.diff(prefix[bounds]) / np.maximum(counts, 1)
        moved = np.where(counts > 0, means, unique)
        c[first] = moved
        history.append(float(((v - np.repeat(moved, counts)) ** 2).sum()))
        if previous is not None and np.array_equal(bounds, previous):
            break
        if len(history) > 1 and history[-2] - history[-1] <= tol * history[-2]:
            break
        previous = bounds
    return c, assign(values, c), history


@dataclass
class Codebook:
    """A weight tensor as k shared values and one index per weight (−1 = pruned, decodes to 0)."""

    centroids: np.ndarray  # (k,), the weight's dtype
    index: np.ndarray  # the weight's shape, int32, PRUNED where pruned
    bits: int
    history: list[float] = field(default_factory=list)  # WCSS per Lloyd iteration

    @property
    def k(self) -> int:
        return int(self.centroids.size)

    def decode(self) -> np.ndarray:
        """W_i = c[index_i], and 0 where index_i = −1."""
        padded = np.concatenate([self.centroids, np.zeros(1, self.centroids.dtype)])  # host: index −1 → 0
        return padded[self.index]

    def nbytes(self, sparse: bool = False) -> int:
        """Bytes to store it: ⌈n · b / 8⌉ packed indices + k · 4 bytes of float32 codebook.

        Dense: every position gets an index (a pruned one needs a spare code, so pruning
        saves nothing). ``sparse=True`` counts only the kept weights' indices; where they are
        must then be stored too (see :func:`minidl.compress.quantize.coding.sparse_stream`).
        """
        n = int((self.index != PRUNED).sum()) if sparse else self.index.size
        return math.ceil(n * self.bits / 8) + 4 * self.k


def kmeans_quantize(weight: Any, bits: int, init: str = "linear", mask: Any = None, seed: int = 0,
                    max_iter: int = 300, tol: float = 1e-7) -> Codebook:
    """Cluster the kept weights of ``weight`` into 2^bits shared values (Lloyd, from ``init``).

    ``mask`` (True = keep; default: all) marks the pruned weights, which get index −1 and
    stay out of the clustering. Deterministic: ``init="random"`` draws with ``seed``, the
    rest involves no randomness. Empty clusters keep their previous centroid (the rule
    that keeps the error non-increasing); with fewer distinct weights than 2^bits some
    clusters stay empty. The centroids come back in the weight's dtype and the indices
    are reassigned to the rounded centroids, so every weight maps to its nearest stored
    value exactly.
    """
    bits = _check_bits(bits)
    w = _host(weight)
    if w.dtype.kind != "f":
        raise TypeError(f"kmeans_quantize: weight must be floating point (got dtype {w.dtype})")
    keep = np.ones(w.shape, dtype=bool) if mask is None else np.asarray(_host(mask), dtype=bool)  # host
    if keep.shape != w.shape:
        raise ValueError(f"mask has shape {keep.shape} but the weight has shape {w.shape}")
    if not np.isfinite(w[keep]).all():
        raise ValueError("kmeans_quantize: weight contains NaN or inf, which no centroid can represent")
    if not isinstance(max_iter, int) or max_iter < 0:
        raise ValueError(f"max_iter must be a non-negative int (got {max_iter!r})")
    values = w[keep].astype(np.float64)
    k = 2 ** bits
    centroids, _, history = lloyd(values, initial_centroids(values, k, init, seed), max_iter, tol)
    stored = centroids.astype(w.dtype)
    index = np.full(w.shape, PRUNED, dtype=np.int32)  # host
    index[keep] = assign(values, stored.astype(np.float64))
    return Codebook(stored, index, bits, history)


class CodebookLookup(Function):
    """W_i = c[index_i] (0 where index_i = −1);   ∂L/∂c_j = Σ_{i : index_i = j} ∂L/∂W_i."""

    def __init__(self, index: Any) -> None:
        self.index = index

    def forward(self, centroids: Any) -> Any:
        xp = backend.get_array_module(centroids)
        self.index = xp.asarray(self.index)  # a host index meets device centroids on the device
        padded = xp.concatenate([centroids, xp.zeros(1, dtype=centroids.dtype)])
        return padded[self.index]

    def backward(self, gy: Any, centroids: Any) -> Any:
        if isinstance(gy, Tensor):
            raise NotImplementedError("the codebook lookup has no second derivative in minidl "
                                      "(create_graph=True through a weight-shared layer)")
        xp = backend.get_array_module(gy)
        kept = self.index != PRUNED
        grad = xp.bincount(self.index[kept], weights=gy[kept], minlength=centroids.shape[0])
        return grad.astype(centroids.dtype, copy=False)


class SharedWeightHook:
    """Forward pre-hook: ``module.<name> = <name>_centroids[<name>_index]`` before every pass."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, module: Module, args: Any) -> None:
        _refresh(module, self.name)


def _refresh(module: Module, name: str) -> None:
    index = module._buffers[name + "_index"].data
    object.__setattr__(module, name, CodebookLookup(index)(module._parameters[name + "_centroids"]))


def share_weights(module: Module, name: str = "weight", bits: int = 4, init: str = "linear",
                  seed: int = 0, max_iter: int = 300) -> Codebook:
    """Replace ``module.<name>`` by 2^bits trainable shared values (Deep Compression's stage 2).

    The parameter ``<name>`` becomes a Parameter ``<name>_centroids`` (k values, trained by
    any optimizer) and a buffer ``<name>_index`` (int32, −1 where pruned); a forward pre-hook
    recomputes ``module.<name>`` through :class:`CodebookLookup`. A pruned tensor (masks from
    :mod:`minidl.compress.prune`) has its mask baked in first; its pruned weights stay zero
    for good. Build the optimizer after this call: the old weight Parameter is gone.
    Returns the :class:`Codebook` it started from.
    """
    if not isinstance(module, Module):
        raise TypeError(f"share_weights needs a Module (got {type(module).__name__})")
    keep = get_mask(module, name)
    if name + "_orig" in module._parameters:  # pruned: bake the mask in, the zeros stay out
        remove(module, name)
    param = learnable(module, name)
    book = kmeans_quantize(param, bits, init, keep, seed, max_iter)
    xp = backend.get_array_module(param.data)
    _rename_parameter(module, name, name + "_centroids")  # same place in the state_dict's order
    centroids = Parameter(xp.asarray(book.centroids))
    module._parameters[name + "_centroids"] = centroids
    object.__setattr__(module, name + "_centroids", centroids)
    module.register_buffer(name + "_index", Tensor._wrap(xp.asarray(book.index)))
    module.register_forward_pre_hook(SharedWeightHook(name))
    _refresh(module, name)
    return book


def shared_weight_modules(model: Module) -> list[tuple[Module, str]]:
    """Every ``(module, name)`` in ``model`` whose ``name`` is weight-shared."""
    return [(m, h.name) for m in model.modules() for h in m._forward_pre_hooks.values()
            if isinstance(h, SharedWeightHook)]


def codebook_of(module: Module, name: str = "weight") -> Codebook:
    """The current :class:`Codebook` of a weight-shared ``module.<name>`` (after fine-tuning too)."""
    c = module._parameters.get(name + "_centroids")
    if c is None:
        raise ValueError(f"{type(module).__name__}.{name} is not weight-shared (call share_weights first)")
    index = _host(module._buffers[name + "_index"])
    k = int(c.shape[0])
    return Codebook(_host(c).copy(), index.copy(), max(1, int(math.log2(k))))


def share_model_weights(model: Module, bits: int | dict[str, int] = 4, init: str = "linear",
                        seed: int = 0) -> dict[str, Codebook]:
    """:func:`share_weights` on every Linear / Conv2d weight of ``model`` (2-D and 4-D weights).

    ``bits`` is one width for all, or a dict {module name: bits} (Han et al. used 8 bits
    for conv layers and 5 for fully connected ones). Returns {module name: codebook}.
    """
    books = {}
    for mname, m in list(model.named_modules()):
        w = m._parameters.get("weight", m._parameters.get("weight_orig"))
        if w is None or w.ndim not in (2, 4):
            continue
        b = bits.get(mname) if isinstance(bits, dict) else bits
        if b is None:
            continue
        books[mname] = share_weights(m, "weight", b, init, seed)
    if not books:
        raise ValueError("share_model_weights: the model has no Linear or Conv2d weight to share")
    return books
