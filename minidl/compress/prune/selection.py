"""From importance scores to a mask: keep the highest scores, prune exactly k of the rest.

A mask is a boolean array, True where a weight is kept. Pruning is count-based, not
threshold-based: exactly k units go even when scores tie. Ties are broken by position —
a stable sort puts the lowest (flattened) index first, so among equal scores the
earliest unit is pruned first. (PyTorch's ``topk`` leaves the order of ties unspecified;
a stable rule makes results reproducible and testable.)

Units already pruned by ``default_mask`` stay pruned and are not counted again: the
new amount applies to the survivors, which is why two 50% prunings leave 25%.
"""

from __future__ import annotations

from typing import Any

from minidl import backend
from minidl.compress.prune.amount import Amount, count_to_prune


def _check_scores(scores: Any, what: str) -> Any:
    xp = backend.get_array_module(scores)
    if bool(xp.isnan(scores).any()):
        raise ValueError(f"{what} contain NaN: a score must be a number to be ranked")
    return xp


def _default(default_mask: Any, shape: tuple[int, ...], xp: Any) -> Any:
    if default_mask is None:
        return xp.ones(shape, dtype=bool)
    if tuple(default_mask.shape) != tuple(shape):
        raise ValueError(f"default_mask has shape {tuple(default_mask.shape)} but the scores "
                         f"have shape {tuple(shape)}")
    return default_mask.astype(bool, copy=False)


def lowest_first(scores: Any) -> Any:
    """Indices that sort a 1-D array of scores from lowest to highest, ties lowest index first."""
    xp = backend.get_array_module(scores)
    return xp.argsort(scores, kind="stable")


def unstructured_mask(scores: Any, amount: Amount, default_mask: Any = None) -> Any:
    """Keep-mask of ``scores``' shape: the k lowest-scoring survivors of ``default_mask`` pruned.

    k = ``count_to_prune(amount, number of survivors)``.
    """
    xp = _check_scores(scores, "importance scores")
    mask = _default(default_mask, scores.shape, xp).copy()
    flat = mask.reshape(-1)  # a view: writing into it writes into mask
    alive = xp.flatnonzero(flat)
    k = count_to_prune(amount, int(alive.size))
    if k:
        order = lowest_first(scores.reshape(-1)[alive])
        flat[alive[order[:k]]] = False
    return mask


def alive_slices(mask: Any, dim: int) -> Any:
    """Which slices along ``dim`` still hold a kept entry (PyTorch: channels not entirely zeroed)."""
    other = tuple(d for d in range(mask.ndim) if d != dim)
    return mask.any(axis=other)


def structured_mask(slice_scores: Any, amount: Amount, dim: int, default_mask: Any) -> Any:
    """Keep-mask that prunes whole slices along ``dim``: the k lowest-scoring alive slices.

    ``slice_scores`` has one score per slice (length ``default_mask.shape[dim]``);
    k = ``count_to_prune(amount, number of alive slices)``.
    """
    xp = _check_scores(slice_scores, "slice scores")
    mask = default_mask.astype(bool, copy=True)
    if slice_scores.shape != (mask.shape[dim],):
        raise ValueError(f"need one score per slice along dim {dim}: shape ({mask.shape[dim]},) "
                         f"(got {tuple(slice_scores.shape)})")
    alive = xp.flatnonzero(alive_slices(mask, dim))
    k = count_to_prune(amount, int(alive.size))
    if k:
        pruned = alive[lowest_first(slice_scores[alive])[:k]]
        index = [slice(None)] * mask.ndim
        index[dim] = pruned
        mask[tuple(index)] = False
    return mask
