"""Toy 2-D datasets for decision-boundary demos: moons, circles, spirals, XOR, blobs.

Each generator is seeded, balances the classes (n_samples split as evenly as possible),
shuffles the samples, and returns an :class:`~minidl.data.ArrayDataset` with float32
features of shape (n_samples, 2) and int64 labels, so ``ds.features, ds.labels`` is the
familiar ``(X, y)`` pair. Points are drawn on the host with NumPy's generator (the same
seed gives the same points on every array backend) and then moved to the active module.
``noise`` is the standard deviation of Gaussian noise added to every coordinate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from minidl import backend
from minidl.data.dataset import ArrayDataset
from minidl.data.splits import apportion, seeded_generator


def _check(n_samples: int, noise: float, min_samples: int = 2) -> None:
    if not isinstance(n_samples, (int, np.integer)) or n_samples < min_samples:
        raise ValueError(f"n_samples must be an int >= {min_samples} (got {n_samples!r})")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0 (got {noise!r})")


def _finish(parts: list[np.ndarray], rng: Any, noise: float, class_names: Sequence[str],
            name: str) -> ArrayDataset:
    """Stack the per-class point sets, add noise, shuffle, and move to the active module."""
    x = np.concatenate(parts)
    y = np.concatenate([np.full(len(p), k, dtype=np.int64) for k, p in enumerate(parts)])  # host
    if noise > 0:
        x = x + rng.normal(0.0, noise, size=x.shape)
    order = rng.permutation(len(y))
    xp = backend.xp
    return ArrayDataset(xp.asarray(x[order].astype("float32")), xp.asarray(y[order]),
                        class_names=list(class_names), name=name)


def make_moons(n_samples: int = 200, noise: float = 0.1, seed: int = 0) -> ArrayDataset:
    """Two interleaving half circles (scikit-learn's ``make_moons`` shape).

    Upper moon (class 0): (cos t, sin t); lower moon (class 1): (1 − cos t, ½ − sin t),
    with t ~ U(0, π).
    """
    _check(n_samples, noise)
    rng = seeded_generator(seed)
    n0, n1 = apportion([1, 1], n_samples)
    t0, t1 = rng.uniform(0, np.pi, n0), rng.uniform(0, np.pi, n1)
    upper = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    lower = np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)
    return _finish([upper, lower], rng, noise, ["upper moon", "lower moon"], "moons")


def make_circles(n_samples: int = 200, noise: float = 0.05, factor: float = 0.5,
                 seed: int = 0) -> ArrayDataset:
    """A circle of radius 1 (class 0) around a circle of radius ``factor`` (class 1).

    Points: r·(cos t, sin t), t ~ U(0, 2π), r = 1 or ``factor``.
    """
    _check(n_samples, noise)
    if not 0 < factor < 1:
        raise ValueError(f"factor must be in (0, 1) (got {factor!r})")
    rng = seeded_generator(seed)
    parts = []
    for radius, n in zip((1.0, factor), apportion([1, 1], n_samples)):
        t = rng.uniform(0, 2 * np.pi, n)
        parts.append(radius * np.stack([np.cos(t), np.sin(t)], axis=1))
    return _finish(parts, rng, noise, ["outer circle", "inner circle"], "circles")


def make_spirals(n_samples: int = 300, n_classes: int = 2, noise: float = 0.05, turns: float = 1.0,
                 seed: int = 0) -> ArrayDataset:
    """``n_classes`` interleaved arms of a spiral, the classic "hard for a linear model" set.

    Arm k: radius r ~ U(0, 1) and angle θ = 2π·(turns·r + k/n_classes); point r·(cos θ, sin θ).
    """
    _check(n_samples, noise, min_samples=n_classes if isinstance(n_classes, int) else 2)
    if not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
        raise ValueError(f"n_classes must be an int >= 2 (got {n_classes!r})")
    if not turns > 0:
        raise ValueError(f"turns must be > 0 (got {turns!r})")
    rng = seeded_generator(seed)
    parts = []
    for k, n in enumerate(apportion([1] * n_classes, n_samples)):
        r = rng.uniform(0, 1, n)
        theta = 2 * np.pi * (turns * r + k / n_classes)
        parts.append(r[:, None] * np.stack([np.cos(theta), np.sin(theta)], axis=1))
    return _finish(parts, rng, noise, [f"arm {k}" for k in range(n_classes)], "spirals")


def make_xor(n_samples: int = 200, noise: float = 0.0, margin: float = 0.1, seed: int = 0) -> ArrayDataset:
    """The XOR problem: points in the square [−1, 1]², class 1 where x₁ and x₂ differ in sign.

    Each point is drawn in its quadrant at least ``margin`` from both axes (so the
    classes are separable when ``noise`` is 0): |xᵢ| ~ U(margin, 1).
    """
    _check(n_samples, noise, min_samples=4)
    if not 0 <= margin < 1:
        raise ValueError(f"margin must be in [0, 1) (got {margin!r})")
    rng = seeded_generator(seed)
    parts: list[list[np.ndarray]] = [[], []]
    quadrants = [(1, 1), (-1, -1), (1, -1), (-1, 1)]  # first two: same sign (class 0)
    for (sx, sy), n in zip(quadrants, apportion([1] * 4, n_samples)):
        magnitude = rng.uniform(margin, 1, size=(n, 2))
        parts[int(sx != sy)].append(magnitude * np.array([sx, sy], dtype=np.float64))  # host
    return _finish([np.concatenate(p) for p in parts], rng, noise, ["same sign", "opposite sign"], "xor")


def make_blobs(n_samples: int = 300, centers: int | Sequence[Sequence[float]] = 3,
               cluster_std: float = 1.0, n_features: int = 2,
               center_box: tuple[float, float] = (-10.0, 10.0), seed: int = 0) -> ArrayDataset:
    """Isotropic Gaussian blobs, one class each (scikit-learn's ``make_blobs``).

    Class k: N(cₖ, cluster_std²·I). ``centers`` is a number of blobs (centres drawn
    uniformly in ``center_box`` per coordinate) or their coordinates, shape (k, n_features).
    """
    if not cluster_std >= 0:
        raise ValueError(f"cluster_std must be >= 0 (got {cluster_std!r})")
    rng = seeded_generator(seed)
    if isinstance(centers, (int, np.integer)):
        if centers < 1:
            raise ValueError(f"centers must be >= 1 (got {centers})")
        means = rng.uniform(center_box[0], center_box[1], size=(int(centers), n_features))
    else:
        means = np.asarray(centers, dtype=np.float64)  # host: a few coordinates
        if means.ndim != 2:
            raise ValueError(f"centers must have shape (k, n_features) (got {means.shape})")
    _check(n_samples, 0.0, min_samples=len(means))
    parts = [mean + cluster_std * rng.standard_normal((n, means.shape[1]))
             for mean, n in zip(means, apportion([1] * len(means), n_samples))]
    return _finish(parts, rng, 0.0, [f"blob {k}" for k in range(len(means))], "blobs")
