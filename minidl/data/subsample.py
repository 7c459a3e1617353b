"""Subsampling: train on a fraction of the data ("data sparsification" in the source articles)."""

from __future__ import annotations

from typing import Any

from minidl.data.splits import seeded_generator, stratified_sample

STRATEGIES = ("random", "stratified", "balanced")


def subsample(dataset: Any, fraction: float | None = None, *, size: int | None = None,
              strategy: str = "random", seed: int | None = 0) -> Any:
    """A seeded subset of ``dataset`` with ``size`` samples, or round(``fraction`` · N).

    ``strategy``:

    - ``"random"``: every subset of that size is equally likely (small subsets may miss
      a class entirely, or over-represent one);
    - ``"stratified"``: each class keeps its share of the data;
    - ``"balanced"``: the same number of samples from every class (±1).

    The indices are sorted, so the subset keeps the dataset's order. Fewer samples make
    each epoch proportionally cheaper, and (lesson 06 measures it) the model worse:
    subsampling trades accuracy for time; it does not make a model easier to learn.
    """
    n = len(dataset)
    if (fraction is None) == (size is None):
        raise ValueError("give exactly one of fraction and size")
    if fraction is not None:
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1] (got {fraction})")
        size = round(fraction * n)
        if size == 0:
            raise ValueError(f"fraction {fraction} of {n} samples rounds to 0 samples")
    if not isinstance(size, int) or not 0 < size <= n:
        raise ValueError(f"size must be an int in [1, {n}] (got {size!r})")
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES} (got {strategy!r})")
    if strategy == "random":
        index = seeded_generator(seed).choice(n, size=size, replace=False)
        index.sort()
    else:
        index = stratified_sample(dataset.labels, size, seed, balanced=strategy == "balanced")
    name = getattr(dataset, "name", "")
    return dataset.subset(index, name=f"{name}[{size}/{n} {strategy}]" if name else None)
