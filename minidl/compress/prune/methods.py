"""Pruning functions with ``torch.nn.utils.prune``'s names: score → mask → reparametrize.

Each function computes importance scores (a criterion from :mod:`.criteria`, or the
``importance_scores`` you pass), turns them into a mask that prunes exactly k of the
units still alive (:mod:`.selection`; amounts as in :mod:`.amount`), and installs it
(:mod:`.masks`). Every function returns the module, as PyTorch's do.

Where minidl differs from PyTorch, on purpose:
- ties are broken by position (lowest index pruned first), so results are reproducible;
- structured pruning of output rows (``dim=0``) can also mask the matching bias entries
  (``prune_bias=True``, off by default as PyTorch has no such option): a neuron with zero
  weights but a bias still outputs a constant, so it is not dead and compaction keeps it;
- importance scores default to the current weight ``orig ⊙ mask`` even between a
  step and the next forward pass (PyTorch reads the possibly stale ``module.weight``);
- ``global_unstructured`` given a model instead of ``(module, name)`` pairs says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from numpy.random import Generator

from minidl import backend
from minidl.compress.prune import criteria
from minidl.compress.prune.amount import Amount, validate_amount
from minidl.compress.prune.masks import current_weight, get_mask, learnable, set_mask
from minidl.compress.prune.selection import alive_slices, structured_mask, unstructured_mask
from minidl.engine.tensor import Tensor
from minidl.nn.module import Module

Target = tuple[Module, str]


def _scores_or_weight(module: Module, name: str, importance_scores: Any) -> Any:
    if importance_scores is None:
        return current_weight(module, name)
    s = importance_scores.data if isinstance(importance_scores, Tensor) else importance_scores
    param = learnable(module, name)
    shape = tuple(param.shape)
    if tuple(s.shape) != shape:
        raise ValueError(f"importance_scores must have the shape of {type(module).__name__}.{name} "
                         f"{shape} (got {tuple(s.shape)})")
    # scores computed on the host (NumPy) move to where the weight lives, as masks do
    return backend.get_array_module(param.data).asarray(s)


def l1_unstructured(module: Module, name: str, amount: Amount, importance_scores: Any = None) -> Module:
    """Prune the ``amount`` alive entries of ``module.<name>`` with the smallest |score| (default |w|)."""
    validate_amount(amount)
    scores = criteria.magnitude(_scores_or_weight(module, name, importance_scores))
    keep = unstructured_mask(scores, amount, get_mask(module, name))
    return set_mask(module, name, keep, f"l1_unstructured(amount={amount})")


def random_unstructured(module: Module, name: str, amount: Amount,
                        generator: Generator | None = None) -> Module:
    """Prune ``amount`` alive entries of ``module.<name>`` chosen at random (minidl's seeded generator)."""
    validate_amount(amount)
    scores = criteria.random_scores(learnable(module, name), generator)
    keep = unstructured_mask(scores, amount, get_mask(module, name))
    return set_mask(module, name, keep, f"random_unstructured(amount={amount})")


def _mask_bias_with_rows(module: Module, weight_name: str, keep: Any, method: str) -> None:
    bias = module._parameters.get("bias", module._parameters.get("bias_orig"))
    if weight_name != "weight" or bias is None or tuple(bias.shape) != (keep.shape[0],):
        return
    rows = alive_slices(keep, 0)
    set_mask(module, "bias", rows & get_mask(module, "bias"), method)


def _structured(module: Module, name: str, amount: Amount, dim: int, slice_scores: Any,
                prune_bias: bool, method: str) -> Module:
    keep = structured_mask(slice_scores, amount, dim % len(learnable(module, name).shape),
                           get_mask(module, name))
    set_mask(module, name, keep, method)
    if prune_bias and dim % keep.ndim == 0:
        _mask_bias_with_rows(module, name, keep, method + " on the weight's rows")
    return module


def ln_structured(module: Module, name: str, amount: Amount, n: float | str, dim: int,
                  importance_scores: Any = None, prune_bias: bool = False) -> Module:
    """Prune whole slices of ``module.<name>`` along ``dim``: the ``amount`` alive ones of smallest Ln norm.

    ``dim=0`` on a Linear or Conv2d weight removes output neurons / filters. By default only
    the weight is masked, as in PyTorch (state-dict keys ``weight_orig, weight_mask, bias``):
    each removed neuron then still outputs its bias, a constant (after the activation).
    ``prune_bias=True`` masks those bias entries too (``bias_orig, bias_mask``), so the
    neurons output exactly 0 and are truly dead: use it when you will :func:`~minidl.compress.prune.compact` the
    model (compaction removes dead neurons, but must keep a constant one) or when the point
    is to remove the neuron, not just its inputs.
    """
    validate_amount(amount)
    scores = criteria.ln_norm(_scores_or_weight(module, name, importance_scores), n, dim)
    return _structured(module, name, amount, dim, scores, prune_bias,
                       f"ln_structured(amount={amount}, n={n}, dim={dim})")


def random_structured(module: Module, name: str, amount: Amount, dim: int,
                      generator: Generator | None = None, prune_bias: bool = False) -> Module:
    """Prune ``amount`` alive slices of ``module.<name>`` along ``dim`` chosen at random.

    ``prune_bias`` as in :func:`ln_structured` (off by default, as in PyTorch).
    """
    validate_amount(amount)
    w = learnable(module, name)
    if w.ndim < 2:
        raise ValueError("structured pruning needs a weight with at least 2 dims "
                         f"(got shape {tuple(w.shape)})")
    if not -w.ndim <= dim < w.ndim:
        raise IndexError(f"dim={dim} is out of range for a weight with {w.ndim} dims")
    xp = backend.get_array_module(w.data)
    scores = criteria.random_scores(xp.empty((w.shape[dim],), dtype="float32"), generator)
    return _structured(module, name, amount, dim, scores, prune_bias,
                       f"random_structured(amount={amount}, dim={dim})")


_GLOBAL_METHODS: dict[Callable[..., Any], str] = {l1_unstructured: "l1", random_unstructured: "random"}

_PAIRS_HINT = ("pass (module, name) pairs, e.g. [(model.fc1, 'weight'), (model.fc2, 'weight')], or "
               "minidl.compress.prune.parameters_to_prune(model) for every weight matrix")


def _targets(parameters: Any, caller: str) -> list[Target]:
    if isinstance(parameters, Module):
        raise TypeError(f"{caller} got a {type(parameters).__name__} (a model), but it needs the "
                        f"parameters to prune: {_PAIRS_HINT}")
    if isinstance(parameters, (str, Tensor)) or not isinstance(parameters, Iterable):
        raise TypeError(f"{caller}: parameters must be an iterable of (module, name) pairs "
                        f"(got {type(parameters).__name__}); {_PAIRS_HINT}")
    targets = []
    for i, item in enumerate(parameters):
        if (not isinstance(item, (tuple, list)) or len(item) != 2 or not isinstance(item[0], Module)
                or not isinstance(item[1], str)):
            raise TypeError(f"{caller}: parameters[{i}] is {item!r}, not a (module, name) pair; "
                            f"{_PAIRS_HINT}")
        learnable(item[0], item[1])  # checks the name
        targets.append((item[0], item[1]))
    keys = [(id(m), n) for m, n in targets]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{caller}: the same (module, name) pair appears twice")
    if not targets:
        raise ValueError(f"{caller}: no parameters given")
    return targets


def global_unstructured(parameters: Iterable[Target], pruning_method: Callable[..., Any] = l1_unstructured,
                        importance_scores: dict[Target, Any] | None = None, *, amount: Amount,
                        generator: Generator | None = None) -> None:
    """Prune ``amount`` alive entries across several tensors at once: one ranking for all of them.

    ``parameters`` is an iterable of ``(module, name)`` pairs. ``pruning_method`` is
    :func:`l1_unstructured` (smallest |score| goes; scores default to the weights) or
    :func:`random_unstructured`. ``importance_scores`` maps some pairs to score arrays
    of their tensor's shape (gradients, saliencies…). A float ``amount`` is a fraction of
    all alive entries together, so small layers can lose more than big ones.
    """
    validate_amount(amount)
    targets = _targets(parameters, "global_unstructured")
    if pruning_method not in _GLOBAL_METHODS:
        raise TypeError(f"global_unstructured: pruning_method must be l1_unstructured or "
                        f"random_unstructured (got {pruning_method!r}); for other criteria pass "
                        "importance_scores")
    importance_scores = {} if importance_scores is None else importance_scores
    if not isinstance(importance_scores, dict):
        raise TypeError("global_unstructured: importance_scores must be a dict {(module, name): scores}")
    flat_scores, flat_masks, sizes = [], [], []
    for module, name in targets:
        if _GLOBAL_METHODS[pruning_method] == "l1":
            s = criteria.magnitude(_scores_or_weight(module, name, importance_scores.get((module, name))))
        else:
            s = criteria.random_scores(learnable(module, name), generator)
        flat_scores.append(s.reshape(-1).astype("float64"))
        m = get_mask(module, name)
        flat_masks.append(m.reshape(-1))
        sizes.append(m.size)
    xp = backend.get_array_module(flat_masks[0])
    keep = unstructured_mask(xp.concatenate(flat_scores), amount, xp.concatenate(flat_masks))
    method = f"global_unstructured({pruning_method.__name__}, amount={amount})"
    start = 0
    for (module, name), size in zip(targets, sizes):
        shape = learnable(module, name).shape
        set_mask(module, name, keep[start:start + size].reshape(shape), method)
        start += size


def parameters_to_prune(model: Module, names: Sequence[str] = ("weight",), min_dims: int = 2) -> list[Target]:
    """``(module, name)`` for every parameter called one of ``names`` with ≥ ``min_dims`` dims.

    The usual argument to :func:`global_unstructured`: all weight matrices and
    convolution kernels of a model, no biases.
    """
    if not isinstance(model, Module):
        raise TypeError(f"parameters_to_prune needs a Module (got {type(model).__name__})")
    found = []
    for module in model.modules():
        for name in names:
            p = module._parameters.get(name, module._parameters.get(name + "_orig"))
            if p is not None and p.ndim >= min_dims:
                found.append((module, name))
    return found


def sparsity(parameters: Iterable[Target]) -> float:
    """The fraction of pruned entries (False in the masks) over all the given tensors together."""
    targets = _targets(parameters, "sparsity")
    pruned = sum(int((~get_mask(m, n)).sum()) for m, n in targets)
    return pruned / sum(learnable(m, n).numel() for m, n in targets)


def prune_to_sparsity(parameters: Iterable[Target], target: float,
                      pruning_method: Callable[..., Any] = l1_unstructured,
                      importance_scores: dict[Target, Any] | None = None,
                      generator: Generator | None = None) -> float:
    """Prune globally until round(target · N) of the N entries are pruned; returns the sparsity reached.

    Entries already pruned count towards the target (nothing is ever un-pruned, so a
    target below the current sparsity changes nothing). Gradual and iterative
    schedules call this at each of their steps.
    """
    if isinstance(target, bool) or not isinstance(target, (int, float)) or not 0.0 <= target <= 1.0:
        raise ValueError(f"target sparsity must be a number in [0, 1] (got {target!r})")
    targets = _targets(parameters, "prune_to_sparsity")
    total = sum(learnable(m, n).numel() for m, n in targets)
    pruned = sum(int((~get_mask(m, n)).sum()) for m, n in targets)
    k = max(int(round(target * total)) - pruned, 0)
    if k:
        global_unstructured(targets, pruning_method, importance_scores, amount=k, generator=generator)
    return sparsity(targets)
