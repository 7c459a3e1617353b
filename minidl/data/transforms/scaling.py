"""Feature scaling fitted on the training split: ``Standardize`` (z-score) and ``MinMaxScale``.

Both follow one rule: statistics come from the training data, once. ``fit(train_x)``
computes them; calling the transform on validation or test data *applies* those
statistics and never recomputes them (that would leak the test set into the model and
make train and test inputs mean different things). Fitting a second time raises unless
``refit=True`` says it is meant.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from minidl import backend
from minidl.data.transforms.base import Transform

_ROWS_PER_BLOCK = 4096


def _as_float(x: Any) -> Any:
    """``x`` as a float array (integers such as uint8 pixels become float32)."""
    if not hasattr(x, "dtype"):
        raise TypeError(f"expected an array of features (got {type(x).__name__})")
    return x if x.dtype.kind == "f" else x.astype("float32")


def _axes(dims: int | tuple[int, ...], ndim: int) -> tuple[int, ...]:
    axes = (dims,) if isinstance(dims, int) else tuple(dims)
    if not axes or any(not -ndim <= a < ndim for a in axes):
        raise ValueError(f"dims {dims} do not fit features with {ndim} dimensions")
    axes = tuple(sorted(a % ndim for a in axes))
    if 0 not in axes:
        raise ValueError(f"dims must include the sample axis 0 (got {dims})")
    return axes


def _check_finite(x: Any, who: str) -> None:
    """Raise naming the first feature (column) of ``x`` that holds NaN or infinity."""
    xp = backend.get_array_module(x)
    bad = ~xp.isfinite(x)
    if not bool(bad.any()):
        return
    per_feature = backend.to_numpy(bad.reshape(len(x), -1).sum(axis=0))  # host: one count per feature
    first = int(np.flatnonzero(per_feature)[0])
    column = first if x.ndim <= 2 else tuple(int(i) for i in np.unravel_index(first, x.shape[1:]))
    rows = backend.to_numpy(xp.flatnonzero(bad.reshape(len(x), -1)[:, first]))[:5].tolist()
    raise ValueError(
        f"{who}.fit: feature {column} holds NaN or infinite values in {int(per_feature[first])} of "
        f"{len(x)} samples (rows {rows}{', ...' if per_feature[first] > 5 else ''}); "
        f"{int((per_feature > 0).sum())} feature(s) are affected in all. The statistics would be NaN: "
        "drop or impute those values before fitting")


class _FittedScaler(Transform):
    """Shared machinery: fit once on training data, then an affine map x ↦ (x − shift) / scale · gain + offset."""

    def __init__(self, dims: int | tuple[int, ...]) -> None:
        self.dims = dims
        self.shift: Any = None
        self.scale: Any = None
        self.gain = 1.0  # a Python float: multiplying by it keeps float32 features float32
        self.offset = 0.0
        self.n_samples_seen = 0

    @property
    def fitted(self) -> bool:
        return self.shift is not None

    def fit(self, x: Any, *, refit: bool = False) -> _FittedScaler:
        """Compute the statistics from ``x`` (the training features); returns ``self``."""
        if self.fitted and not refit:
            raise RuntimeError(
                f"{type(self).__name__} is already fitted (on {self.n_samples_seen} samples). Fitting "
                "again would replace the training statistics, e.g. with the test set's. Make a new "
                f"{type(self).__name__}, or call fit(x, refit=True) if that is what you mean.")
        x = _as_float(x)
        if len(x) == 0:
            raise ValueError("cannot fit on an empty array")
        axes = _axes(self.dims, x.ndim)
        _check_finite(x, type(self).__name__)
        shift, scale = self._statistics(x, axes)
        self.shift, self.scale = shift.astype(x.dtype), scale.astype(x.dtype)
        self.n_samples_seen = int(np.prod([x.shape[a] for a in axes]))
        return self

    def _statistics(self, x: Any, axes: tuple[int, ...]) -> tuple[Any, Any]:
        raise NotImplementedError

    def _check(self, x: Any) -> Any:
        if not self.fitted:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(train_features) first "
                               "(statistics must come from the training split only)")
        x = _as_float(x)
        stats = tuple(self.shift.shape)
        trailing = tuple(x.shape[x.ndim - len(stats) + 1:]) if len(stats) <= x.ndim else None
        if trailing is None or any(s not in (1, d) for s, d in zip(stats[1:], trailing)):
            per_sample = ", ".join(map(str, stats[1:]))
            raise ValueError(f"{type(self).__name__} holds statistics for samples of shape ({per_sample}) "
                             f"and cannot apply to features of shape {tuple(x.shape)}")
        return x

    def _moved(self, x: Any) -> tuple[Any, Any]:
        """The statistics as arrays of ``x``'s module and dtype (moved between host and device if need be)."""
        xp = backend.get_array_module(x)
        shift, scale = self.shift, self.scale
        if xp is np:  # numpy.asarray cannot take a device array: bring the statistics home explicitly
            shift, scale = backend.to_numpy(shift), backend.to_numpy(scale)
        return xp.asarray(shift, dtype=x.dtype), xp.asarray(scale, dtype=x.dtype)

    def __call__(self, x: Any) -> Any:
        x = self._check(x)
        shift, scale = self._moved(x)
        out = (x - shift) / scale
        if self.gain != 1.0:
            out = out * self.gain
        return out + self.offset if self.offset else out

    def fit_transform(self, x: Any) -> Any:
        """``fit(x)`` then apply to ``x`` (for the training features only)."""
        return self.fit(x)(x)

    def inverse(self, z: Any) -> Any:
        """Undo the transform: x = (z − offset) / gain · scale + shift."""
        z = self._check(z)
        shift, scale = self._moved(z)
        return (z - self.offset) / self.gain * scale + shift

    def state_dict(self) -> dict[str, Any]:
        """The fitted statistics (NumPy arrays), to save beside a model."""
        if not self.fitted:
            raise RuntimeError(f"{type(self).__name__} is not fitted: nothing to save")
        return {"shift": backend.to_numpy(self.shift), "scale": backend.to_numpy(self.scale),
                "gain": self.gain, "offset": self.offset, "n_samples_seen": self.n_samples_seen}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore statistics saved by :meth:`state_dict` (replacing any fitted ones)."""
        xp = backend.xp
        self.shift, self.scale = xp.asarray(state["shift"]), xp.asarray(state["scale"])
        self.gain = float(state.get("gain", 1.0))
        self.offset = float(state.get("offset", 0.0))
        self.n_samples_seen = int(state.get("n_samples_seen", 0))


class Standardize(_FittedScaler):
    """z-score each feature with the training split's mean and standard deviation.

        z = (x − μ) / s,   μ = mean of the training x,   σ² = mean of (x − μ)²,
        s = σ where σ > 0, else 1

    Means and (population, ddof = 0) standard deviations are taken over ``dims``:
    the default 0 gives one statistic per feature (per pixel for images);
    ``dims=(0, 2, 3)`` gives one per channel of (N, C, H, W) images. A feature that is
    constant in the training data gets s = 1 (scikit-learn's rule) instead of a
    division by zero, so it maps to 0.

    ``Standardize(mean=..., std=...)`` skips fitting and uses known statistics, like
    torchvision's ``Normalize`` (e.g. MNIST's mean 0.1307 and std 0.3081). Known statistics
    are one sample's worth, broadcast like NumPy: scalars, one per feature, or shape
    (C, 1, 1) for per-channel image statistics.
    """

    def __init__(self, dims: int | tuple[int, ...] = 0, mean: Any = None, std: Any = None) -> None:
        super().__init__(dims)
        if (mean is None) != (std is None):
            raise ValueError("give both mean and std, or neither (then call fit)")
        if mean is not None:
            xp = backend.xp
            mean, std = xp.asarray(mean, dtype="float32"), xp.asarray(std, dtype="float32")
            if bool((std <= 0).any()):
                raise ValueError(f"std must be > 0 (got {backend.to_numpy(std).tolist()})")
            # one sample's worth of statistics (scalars, per feature, or (C, 1, 1) per channel),
            # with the sample axis in front as fit() leaves it
            self.shift, self.scale = mean[None, ...], std[None, ...]

    @property
    def mean(self) -> Any:
        return self.shift

    @property
    def std(self) -> Any:
        return self.scale

    def _statistics(self, x: Any, axes: tuple[int, ...]) -> tuple[Any, Any]:
        xp = backend.get_array_module(x)
        mean = x.mean(axis=axes, dtype="float64", keepdims=True)
        # Deviations in float64 (in float32 their squares can underflow to 0 for tiny
        # spreads), a block of rows at a time so the temporary stays small.
        squares = 0.0
        for start in range(0, len(x), _ROWS_PER_BLOCK):
            d = x[start:start + _ROWS_PER_BLOCK].astype("float64") - mean
            squares = squares + (d * d).sum(axis=axes, keepdims=True)
        count = math.prod(x.shape[a] for a in axes)
        std = xp.sqrt(squares / count)
        return mean, xp.where(std > 0, std, 1.0)


class MinMaxScale(_FittedScaler):
    """Map each feature's training range [min, max] linearly onto ``feature_range`` = (a, b).

        x' = a + (x − min) · (b − a) / (max − min)

    computed as ((x − min) / (max − min)) · (b − a) + a: dividing by the span itself
    (rather than by (max − min) / (b − a), which float32 may round, badly so for tiny
    spans) sends the training maximum to b. A feature constant in the training data
    gets max − min := b − a (so it maps to a).
    Statistics over ``dims`` as in :class:`Standardize`. Test data outside the training
    range lands outside (a, b): nothing is clipped.
    """

    def __init__(self, feature_range: tuple[float, float] = (0.0, 1.0),
                 dims: int | tuple[int, ...] = 0) -> None:
        super().__init__(dims)
        a, b = feature_range
        if not a < b:
            raise ValueError(f"feature_range must be (low, high) with low < high (got {feature_range})")
        self.feature_range = (float(a), float(b))
        self.gain = float(b - a)
        self.offset = float(a)  # subtracting min first is exact for values near it (Sterbenz)

    def _statistics(self, x: Any, axes: tuple[int, ...]) -> tuple[Any, Any]:
        xp = backend.get_array_module(x)
        a, b = self.feature_range
        low = x.min(axis=axes, keepdims=True).astype("float64")
        span = x.max(axis=axes, keepdims=True).astype("float64") - low
        return low, xp.where(span > 0, span, b - a)
