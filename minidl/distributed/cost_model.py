"""The α–β cost model of an all-reduce: a message of n bytes costs α + n·β.

α is the latency of one message (seconds), β the time per byte (1 / bandwidth). Counting the
messages each algorithm sends on its critical path, for P workers and n bytes:

    ring:  T = 2(P−1)·α + 2(P−1)/P · n·β     (reduce-scatter then all-gather, chunks of n/P)
    tree:  T = 2·⌈log₂P⌉ · (α + n·β)          (reduce up a binary tree, broadcast back down)

The ring's bandwidth term stays under 2nβ for any P but its latency grows linearly; the tree's
latency grows only as log P but it moves the whole message at every level. So small messages
(latency-bound) prefer the tree and large ones the ring; MPI libraries switch between them by
message size. This is a **model**: real networks add contention, topology and the time of the
additions themselves.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def ring_allreduce_time(nbytes: float, world_size: int, alpha: float, beta: float) -> float:
    """T_ring = 2(P−1)·α + 2(P−1)/P · n·β (seconds)."""
    n = world_size
    return 2 * (n - 1) * alpha + 2 * (n - 1) / n * nbytes * beta


def tree_allreduce_time(nbytes: float, world_size: int, alpha: float, beta: float) -> float:
    """T_tree = 2·⌈log₂P⌉·(α + n·β) (seconds)."""
    return 2 * math.ceil(math.log2(world_size)) * (alpha + nbytes * beta) if world_size > 1 else 0.0


def fit_alpha_beta(nbytes: Sequence[float], seconds: Sequence[float], world_size: int) -> tuple[float, float]:
    """α and β that make :func:`ring_allreduce_time` fit measured ring times best (least squares).

    Each time is 2(P−1)·α + 2(P−1)/P·n·β, linear in (α, β); both are clipped at 0.
    """
    n = world_size
    if n < 2:
        raise ValueError(f"fitting α and β needs measurements on >= 2 workers (got world_size={n})")
    x = np.asarray(nbytes, dtype=np.float64)  # host: a handful of measurements
    t = np.asarray(seconds, dtype=np.float64)  # host
    design = np.stack([np.full_like(x, 2 * (n - 1)), 2 * (n - 1) / n * x], axis=1)
    # relative errors: weight each row by 1/t so 4 KB counts as much as 16 MB
    (alpha, beta), *_ = np.linalg.lstsq(design / t[:, None], np.ones_like(t), rcond=None)
    return max(float(alpha), 0.0), max(float(beta), 0.0)
