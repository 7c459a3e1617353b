"""Observers: modules that watch the tensors passing through and pick a quantization range.

An observer returns its input unchanged and remembers statistics; ``calculate_qparams()``
turns them into (scale, zero point) with :func:`~minidl.compress.quantize.calculate_qparams`.
PyTorch's observers, with the same names and update rules:

- :class:`MinMaxObserver`: the running minimum and maximum of everything seen.
- :class:`MovingAverageMinMaxObserver`: an exponential moving average of each batch's
  min and max, ``x_min ← x_min + c·(min X − x_min)`` with c = 0.01 (QAT's default: one
  outlier batch does not stretch the range for ever).
- :class:`PerChannelMinMaxObserver`: min and max per index along ``ch_axis`` (weights: one
  range per output channel).
- :class:`HistogramObserver`: a histogram of everything seen, and the clipping range that
  minimizes the quantization error estimated from it. Clipping a few outliers shrinks S
  for everyone else; at 4 bits this matters a lot.

An observer that has seen nothing returns scale 1.0 and zero point 0, with a warning, as
PyTorch's do.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any, Callable

import numpy as np

from minidl import backend
from minidl.compress.quantize.qparams import FLOAT32_EPS, QuantSpec, calculate_qparams
from minidl.compress.quantize.quantize import normalize_axis
from minidl.engine.tensor import Tensor
from minidl.nn.module import Module


def _data(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


class ObserverBase(Module):
    """Base of every observer: ``forward`` records and returns its input; ``calculate_qparams`` answers.

    Keyword arguments describe the integers (see :class:`~minidl.compress.quantize.QuantSpec`);
    the defaults are PyTorch's (``torch.quint8``, per-tensor affine).
    """

    def __init__(self, bits: int = 8, signed: bool = False, symmetric: bool = False, narrow_range: bool = False,
                 ch_axis: int | None = None, eps: float = FLOAT32_EPS) -> None:
        super().__init__()
        self.spec = QuantSpec(bits, signed, symmetric, narrow_range, ch_axis)
        if not eps > 0:
            raise ValueError(f"eps must be positive (got {eps})")
        self.eps = float(eps)

    @classmethod
    def with_args(cls, **kwargs: Any) -> Callable[[], ObserverBase]:
        """A factory for observers built with these arguments (PyTorch's ``with_args``)."""
        return functools.partial(cls, **kwargs)

    def forward(self, x: Any) -> Any:
        data = _data(x)
        if data.size:
            if data.dtype.kind != "f":
                raise TypeError(f"{type(self).__name__}: expected floating point data (got {data.dtype})")
            self.observe(data)
        return x

    def observe(self, data: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def has_data(self) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def min_max(self) -> tuple[Any, Any]:  # pragma: no cover - abstract
        """The range to quantize (arrays)."""
        raise NotImplementedError

    def calculate_qparams(self) -> tuple[Any, Any]:
        """(scale, zero point): float32 and int32 arrays (0-d per tensor, 1-d per channel)."""
        if not self.has_data:
            warnings.warn(f"{type(self).__name__}: calculate_qparams() before any data was observed; "
                          "returning scale 1.0 and zero point 0 (as PyTorch)", UserWarning, stacklevel=2)
            xp = backend.xp
            return xp.ones((1,), dtype=xp.float32), xp.zeros((1,), dtype=xp.int32)
        lo, hi = self.min_max()
        return calculate_qparams(lo, hi, self.spec, self.eps)

    def reset(self) -> None:  # pragma: no cover - abstract
        """Forget everything observed."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        return self.spec.describe()


class MinMaxObserver(ObserverBase):
    """Range = [min, max] of everything observed (``torch.ao.quantization.MinMaxObserver``)."""

    def __init__(self, bits: int = 8, signed: bool = False, symmetric: bool = False, narrow_range: bool = False,
                 eps: float = FLOAT32_EPS) -> None:
        super().__init__(bits, signed, symmetric, narrow_range, None, eps)
        self.register_buffer("min_val", None)
        self.register_buffer("max_val", None)
        self.reset()

    def reset(self) -> None:
        xp = backend.xp
        self.min_val = Tensor._wrap(xp.asarray(float("inf"), dtype=xp.float32))
        self.max_val = Tensor._wrap(xp.asarray(float("-inf"), dtype=xp.float32))

    @property
    def has_data(self) -> bool:
        return bool(self.min_val.data <= self.max_val.data)

    def _batch_min_max(self, data: Any) -> tuple[Any, Any]:
        xp = backend.get_array_module(data)
        if bool(xp.isnan(data).any()):
            raise ValueError(f"{type(self).__name__}: the observed data contains NaN")
        return data.min().astype(xp.float32), data.max().astype(xp.float32)

    def observe(self, data: Any) -> None:
        xp = backend.get_array_module(data)
        lo, hi = self._batch_min_max(data)
        self.min_val.data = xp.minimum(self.min_val.data, lo)
        self.max_val.data = xp.maximum(self.max_val.data, hi)

    def min_max(self) -> tuple[Any, Any]:
        return self.min_val.data, self.max_val.data


class MovingAverageMinMaxObserver(MinMaxObserver):
    """x_min ← x_min + c·(min X − x_min), likewise x_max; the first batch sets them (c = 0.01, as PyTorch)."""

    def __init__(self, averaging_constant: float = 0.01, bits: int = 8, signed: bool = False,
                 symmetric: bool = False, narrow_range: bool = False, eps: float = FLOAT32_EPS) -> None:
        if not 0 < averaging_constant <= 1:
            raise ValueError(f"averaging_constant must be in (0, 1] (got {averaging_constant})")
        super().__init__(bits, signed, symmetric, narrow_range, eps)
        self.averaging_constant = float(averaging_constant)

    def observe(self, data: Any) -> None:
        lo, hi = self._batch_min_max(data)
        if not self.has_data:
            self.min_val.data, self.max_val.data = lo, hi
            return
        c = self.averaging_constant
        self.min_val.data = self.min_val.data + c * (lo - self.min_val.data)
        self.max_val.data = self.max_val.data + c * (hi - self.max_val.data)

    def extra_repr(self) -> str:
        return f"averaging_constant={self.averaging_constant}, {self.spec.describe()}"


class PerChannelMinMaxObserver(ObserverBase):
    """One [min, max] per index along ``ch_axis`` (``torch.ao.quantization.PerChannelMinMaxObserver``)."""

    def __init__(self, ch_axis: int = 0, bits: int = 8, signed: bool = False, symmetric: bool = False,
                 narrow_range: bool = False, eps: float = FLOAT32_EPS) -> None:
        super().__init__(bits, signed, symmetric, narrow_range, ch_axis, eps)
        self.ch_axis = ch_axis
        self.register_buffer("min_val", None)
        self.register_buffer("max_val", None)
        self.reset()

    def reset(self) -> None:
        xp = backend.xp
        self.min_val = Tensor._wrap(xp.zeros((0,), dtype=xp.float32))
        self.max_val = Tensor._wrap(xp.zeros((0,), dtype=xp.float32))

    @property
    def has_data(self) -> bool:
        return self.min_val.data.shape[0] > 0

    def observe(self, data: Any) -> None:
        xp = backend.get_array_module(data)
        axis = normalize_axis(self.ch_axis, data.ndim, "ch_axis")
        if bool(xp.isnan(data).any()):
            raise ValueError("PerChannelMinMaxObserver: the observed data contains NaN")
        rest = tuple(i for i in range(data.ndim) if i != axis)
        lo = data.min(axis=rest).astype(xp.float32) if rest else data.astype(xp.float32)
        hi = data.max(axis=rest).astype(xp.float32) if rest else data.astype(xp.float32)
        if self.has_data:
            if lo.shape != self.min_val.data.shape:
                raise ValueError(f"PerChannelMinMaxObserver: {lo.shape[0]} channels along axis {self.ch_axis}, "
                                 f"but {self.min_val.data.shape[0]} were observed before")
            lo, hi = xp.minimum(self.min_val.data, lo), xp.maximum(self.max_val.data, hi)
        self.min_val.data, self.max_val.data = lo, hi

    def min_max(self) -> tuple[Any, Any]:
        return self.min_val.data, self.max_val.data

    def extra_repr(self) -> str:
        return f"ch_axis={self.ch_axis}, {self.spec.describe()}"


class HistogramObserver(ObserverBase):
    """A histogram of everything observed; the range is the clipping that minimizes the estimated error.

    Candidate ranges are the observed range shrunk toward 0 by a factor α ∈ [0.05, 1]
    (``[α·min₋, α·max₊]``). For each, with its scale S and representable interval
    [x̂min, x̂max], the mean squared error is estimated from the histogram (bin centres c,
    counts n) as

        E(α) = Σ n_c · e_c,   e_c = S²/12 inside [x̂min, x̂max] (rounding),
                              e_c = (c − nearest end)² outside (clipping)

    and the α with the smallest E wins. PyTorch's ``HistogramObserver`` searches bin ranges
    greedily with a similar L2 criterion; minidl uses this one-parameter search because it
    is short enough to read and to plot (lesson 09). The histogram is re-binned when new
    data widens the range (each old bin's count moves to the new bin holding its centre).
    """

    def __init__(self, bins: int = 2048, bits: int = 8, signed: bool = False, symmetric: bool = False,
                 narrow_range: bool = False, eps: float = FLOAT32_EPS, candidates: int = 96) -> None:
        super().__init__(bits, signed, symmetric, narrow_range, None, eps)
        if not isinstance(bins, int) or bins < 16:
            raise ValueError(f"bins must be an int >= 16 (got {bins!r})")
        self.bins = bins
        self.candidates = int(candidates)
        self.register_buffer("histogram", None)
        self.register_buffer("min_val", None)
        self.register_buffer("max_val", None)
        self.reset()

    def reset(self) -> None:
        xp = backend.xp
        self.histogram = Tensor._wrap(xp.zeros((self.bins,), dtype=xp.float64))
        self.min_val = Tensor._wrap(xp.asarray(float("inf"), dtype=xp.float32))
        self.max_val = Tensor._wrap(xp.asarray(float("-inf"), dtype=xp.float32))

    @property
    def has_data(self) -> bool:
        return bool(self.min_val.data <= self.max_val.data)

    def _edges(self, lo: float, hi: float) -> tuple[float, float]:
        return (lo, hi) if hi > lo else (lo, lo + 1e-12)

    def observe(self, data: Any) -> None:
        xp = backend.get_array_module(data)
        if bool(xp.isnan(data).any()):
            raise ValueError("HistogramObserver: the observed data contains NaN")
        lo_new, hi_new = float(data.min()), float(data.max())
        if self.has_data:
            lo_old, hi_old = float(self.min_val.data), float(self.max_val.data)
            lo, hi = min(lo_old, lo_new), max(hi_old, hi_new)
            counts = self.histogram.data
            if (lo, hi) != (lo_old, hi_old):  # move the old counts onto the wider bins
                a, b = self._edges(lo_old, hi_old)
                centres = a + (xp.arange(self.bins, dtype=xp.float64) + 0.5) * ((b - a) / self.bins)
                counts = self._bin(centres, lo, hi, xp, weights=counts)
        else:
            lo, hi = lo_new, hi_new
            counts = xp.zeros((self.bins,), dtype=xp.float64)
        self.histogram.data = counts + self._bin(data.astype(xp.float64).ravel(), lo, hi, xp)
        self.min_val.data = xp.asarray(lo, dtype=xp.float32)
        self.max_val.data = xp.asarray(hi, dtype=xp.float32)

    def _bin(self, values: Any, lo: float, hi: float, xp: Any, weights: Any = None) -> Any:
        a, b = self._edges(lo, hi)
        index = xp.clip(xp.floor((values - a) * (self.bins / (b - a))), 0, self.bins - 1).astype(xp.int64)
        return xp.bincount(index, weights=weights, minlength=self.bins).astype(xp.float64)

    def search(self) -> tuple[np.ndarray, np.ndarray, float]:
        """(α candidates, estimated MSE of each, best α): the curve lesson 09 plots."""
        if not self.has_data:
            raise ValueError("HistogramObserver.search(): no data observed yet")
        lo, hi = float(self.min_val.data), float(self.max_val.data)
        a, b = self._edges(lo, hi)
        counts = backend.to_numpy(self.histogram.data)
        centres = a + (np.arange(self.bins) + 0.5) * ((b - a) / self.bins)  # host: a small search
        alphas = np.linspace(1.0, 0.05, self.candidates)  # host
        min_neg, max_pos = min(lo, 0.0), max(hi, 0.0)
        scale, zero = calculate_qparams(alphas * min_neg, alphas * max_pos, self.spec, self.eps)
        scale, zero = scale.astype(np.float64), zero.astype(np.float64)
        low_end = ((self.spec.qmin - zero) * scale)[:, None]
        high_end = ((self.spec.qmax - zero) * scale)[:, None]
        clipped = np.clip(centres[None, :], low_end, high_end)
        inside = (centres[None, :] >= low_end) & (centres[None, :] <= high_end)
        per_value = np.where(inside, (scale ** 2 / 12)[:, None], (centres[None, :] - clipped) ** 2)
        errors = (per_value * counts[None, :]).sum(axis=1) / max(counts.sum(), 1.0)
        return alphas, errors, float(alphas[int(np.argmin(errors))])

    def min_max(self) -> tuple[Any, Any]:
        lo, hi = float(self.min_val.data), float(self.max_val.data)
        if hi == lo:
            alpha = 1.0
        else:
            alpha = self.search()[2]
        xp = backend.xp
        return (xp.asarray(alpha * min(lo, 0.0), dtype=xp.float32),
                xp.asarray(alpha * max(hi, 0.0), dtype=xp.float32))

    def extra_repr(self) -> str:
        return f"bins={self.bins}, {self.spec.describe()}"
