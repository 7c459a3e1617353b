"""Seeded, stratified splits of sample indices (host-side bookkeeping: plain NumPy int arrays)."""

from __future__ import annotations

from typing import Any

import numpy as np

from minidl import backend


def host_labels(labels: Any) -> np.ndarray:
    """Labels as a 1-D NumPy array, whatever array module holds them."""
    labels = backend.to_numpy(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D class indices (got shape {labels.shape})")
    return labels


def seeded_generator(seed: int | None) -> Any:
    """A NumPy ``Generator`` for index bookkeeping: fresh from ``seed``, or minidl's default one.

    ``seed=None`` draws from :func:`minidl.random.default_generator`, so
    ``minidl.manual_seed`` makes it reproducible too (as ``torch.manual_seed`` does for
    PyTorch's samplers).
    """
    if seed is None:
        from minidl.random import default_generator

        return default_generator()
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int or None (got {seed!r})")
    return np.random.default_rng(int(seed))  # host: index bookkeeping


def apportion(weights: Any, total: int) -> np.ndarray:
    """Split the integer ``total`` in proportion to ``weights`` (largest-remainder method).

    Each share is ⌊total·wᵢ/Σw⌋, and the units left over go to the largest fractional
    parts (ties to the lower index), so the shares are ints summing exactly to ``total``.
    """
    w = np.asarray(weights, dtype=np.float64)  # host: a handful of counts
    if w.ndim != 1 or len(w) == 0 or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"weights must be non-negative with a positive sum (got {w.tolist()})")
    exact = total * w / w.sum()
    shares = np.floor(exact).astype(np.int64)
    left = int(total - shares.sum())
    order = np.argsort(-(exact - shares), kind="stable")
    shares[order[:left]] += 1
    return shares


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
    labels = host_labels(labels)
    rng = seeded_generator(seed)
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


def stratified_sample(labels: Any, size: int, seed: int | None = 0, balanced: bool = False) -> np.ndarray:
    """Sorted indices of exactly ``size`` samples, drawn class by class without replacement.

    ``balanced=False`` keeps each class's share of the data (stratified); ``balanced=True``
    takes the same number from every class (±1 when ``size`` is not a multiple of the
    number of classes), which needs every class to have that many samples.
    """
    labels = host_labels(labels)
    if not isinstance(size, (int, np.integer)) or not 0 <= size <= len(labels):
        raise ValueError(f"size must be an int in [0, {len(labels)}] (got {size!r})")
    classes, counts = np.unique(labels, return_counts=True)
    quota = apportion([1] * len(classes) if balanced else counts, int(size))
    short = quota > counts
    if short.any():
        c = int(np.flatnonzero(short)[0])
        raise ValueError(f"a class-balanced sample of {size} needs {quota[c]} samples of class "
                         f"{classes[c]}, which has only {counts[c]}")
    rng = seeded_generator(seed)
    picked = [rng.permutation(np.flatnonzero(labels == c))[:q] for c, q in zip(classes, quota)]
    return np.sort(np.concatenate(picked))


def stratified_holdout(labels: Any, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(rest, held out): exactly ``size`` samples held out, stratified by class and seeded."""
    held = stratified_sample(labels, size, seed)
    mask = np.ones(len(host_labels(labels)), dtype=bool)  # host: index bookkeeping
    mask[held] = False
    return np.flatnonzero(mask), held


def random_split(dataset: Any, lengths: list[float] | list[int], seed: int | None = 0,
                 stratify: bool = False) -> list[Any]:
    """Split ``dataset`` into disjoint random subsets (PyTorch's ``random_split``).

    ``lengths`` are sizes summing to ``len(dataset)``, or fractions summing to 1 (the
    units left by flooring go round-robin to the first subsets, as in PyTorch).
    ``stratify=True`` keeps every class's share the same in every subset. Each subset
    is ``dataset.subset(indices)``.
    """
    n = len(dataset)
    if all(isinstance(v, (int, np.integer)) for v in lengths):
        sizes = [int(v) for v in lengths]
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise ValueError(f"lengths must be non-negative sizes summing to {n} (got {lengths})")
    else:
        if abs(sum(lengths) - 1.0) > 1e-9 or any(f < 0 for f in lengths):
            raise ValueError(f"fractions must be >= 0 and sum to 1 (got {lengths})")
        sizes = [int(np.floor(n * f)) for f in lengths]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
    if not stratify:
        order = seeded_generator(seed).permutation(n)
        bounds = np.cumsum([0] + sizes)
        return [dataset.subset(np.sort(order[a:b])) for a, b in zip(bounds[:-1], bounds[1:])]
    remaining = np.arange(n)  # host: index bookkeeping
    rng_seed = seed
    subsets = []
    for size in sizes[:-1]:
        picked = stratified_sample(host_labels(dataset.labels)[remaining], size, rng_seed)
        subsets.append(dataset.subset(remaining[picked]))
        remaining = np.delete(remaining, picked)
        rng_seed = None if seed is None else rng_seed + 1
    subsets.append(dataset.subset(remaining))
    return subsets
