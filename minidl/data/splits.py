"""Seeded, stratified train / validation / test splits."""

from __future__ import annotations

from typing import Any

import numpy as np


def stratified_split(labels: Any, fractions: dict[str, float], seed: int = 0) -> dict[str, np.ndarray]:
    """Indices for each named split, keeping every class's share the same in every split.

    ``fractions`` gives each split's share of the data, e.g. ``{"train": 0.6, "val": 0.2,
    "test": 0.2}``; they must sum to 1. Within each class the samples are shuffled with
    ``seed`` and cut by cumulative rounding, so the splits are disjoint, cover every sample,
    and are the same on every call with the same seed.
    """
    total = sum(fractions.values())
    if abs(total - 1.0) > 1e-9 or any(f < 0 for f in fractions.values()):
        raise ValueError(f"split fractions must be >= 0 and sum to 1 (got {fractions})")
    labels = np.asarray(labels)  # host: index bookkeeping
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in fractions}
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(len(idx))]
        start, acc = 0, 0.0
        for name, f in fractions.items():
            acc += f
            stop = int(round(acc * len(idx)))
            parts[name].append(idx[start:stop])
            start = stop
    return {name: np.sort(np.concatenate(p)) for name, p in parts.items()}
