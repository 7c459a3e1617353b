"""How much and which: PyTorch's amount semantics, and the kept set is always the top-k by score."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from minidl.compress.prune import count_to_prune, structured_mask, unstructured_mask, validate_amount

SETTINGS = settings(max_examples=60, deadline=None)


@pytest.mark.parametrize("amount, n, k", [
    (0.4, 17, 7),    # round(6.8)
    (0.5, 5, 2),     # round(2.5): halves go to the even integer
    (0.5, 7, 4),     # round(3.5)
    (0.3, 10, 3),
    (1, 17, 1),      # int 1 prunes one unit
    (1.0, 17, 17),   # float 1.0 prunes all
    (0, 5, 0), (0.0, 5, 0), (5, 5, 5),
])
def test_amount_to_count(amount, n, k):
    assert count_to_prune(amount, n) == k


@pytest.mark.parametrize("amount, error, match", [
    (-1, ValueError, "non-negative"),
    (1.5, ValueError, r"\[0, 1\]"),
    (-0.1, ValueError, r"\[0, 1\]"),
    ("0.5", TypeError, "int .* or a float"),
    (None, TypeError, "int .* or a float"),
    (True, TypeError, "int .* or a float"),
])
def test_bad_amounts(amount, error, match):
    with pytest.raises(error, match=match):
        validate_amount(amount)


def test_int_amount_larger_than_what_is_left():
    with pytest.raises(ValueError, match="amount=6 is more units than are left to prune \\(5\\)"):
        count_to_prune(6, 5)


scores_arrays = hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=6),
                           elements=st.floats(-4, 4, allow_nan=False).map(lambda v: round(v, 1)))


@SETTINGS
@given(scores=scores_arrays, fraction=st.floats(0, 1), data=st.data())
def test_kept_set_is_the_top_k_by_score(scores, fraction, data):
    """Exactly k pruned; every kept score ≥ every pruned score; ties: lower index pruned first."""
    default = data.draw(hnp.arrays(np.bool_, scores.shape))
    alive = np.flatnonzero(default)
    k = count_to_prune(fraction, alive.size)
    keep = unstructured_mask(scores, fraction, default)
    assert keep.dtype == np.bool_ and keep.shape == scores.shape
    assert not np.any(keep & ~default), "a pruned unit came back"
    pruned_now = np.flatnonzero(default.ravel() & ~keep.ravel())
    assert pruned_now.size == k
    kept = np.flatnonzero(keep.ravel())
    flat = scores.ravel()
    if k and kept.size:
        worst_kept = flat[kept].min()
        best_pruned = flat[pruned_now].max()
        assert best_pruned <= worst_kept
        # among equal scores at the boundary, the pruned ones have the lower indices
        ties_kept = kept[flat[kept] == best_pruned]
        ties_pruned = pruned_now[flat[pruned_now] == best_pruned]
        if ties_kept.size:
            assert ties_pruned.max() < ties_kept.min()
    assert np.array_equal(keep.ravel(), _reference_keep(flat, default.ravel(), k))


def _reference_keep(flat: np.ndarray, alive: np.ndarray, k: int) -> np.ndarray:
    """Prune k alive units by sorting (score, index) pairs: the definition, slowly."""
    order = sorted(np.flatnonzero(alive), key=lambda i: (flat[i], i))
    keep = alive.copy()
    keep[order[:k]] = False
    return keep


@SETTINGS
@given(shape=hnp.array_shapes(min_dims=2, max_dims=3, max_side=5), data=st.data())
def test_structured_mask_prunes_whole_alive_slices(shape, data):
    dim = data.draw(st.integers(0, len(shape) - 1))
    slice_scores = data.draw(hnp.arrays(np.float64, (shape[dim],), elements=st.floats(0, 3)))
    amount = data.draw(st.integers(0, shape[dim]))
    keep = structured_mask(slice_scores, amount, dim, np.ones(shape, dtype=bool))  # host
    other = tuple(d for d in range(len(shape)) if d != dim)
    full = keep.all(axis=other)
    empty = ~keep.any(axis=other)
    assert np.all(full | empty), "a slice was pruned only partly"
    assert int(empty.sum()) == amount
    if 0 < amount < shape[dim]:
        assert slice_scores[empty].max() <= slice_scores[full].min()


def test_structured_mask_checks_its_scores():
    with pytest.raises(ValueError, match="one score per slice"):
        structured_mask(np.ones(3), 1, 0, np.ones((4, 2), dtype=bool))  # host
