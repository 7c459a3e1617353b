"""Search spaces: what a hyperparameter may be, how to enumerate it, sample it and encode it.

A space is a dict from parameter name to one of

- a **list** of choices (categorical: no order assumed), e.g. ``["adam", "sgd"]``;
- a Python **range** (ordered integers), e.g. ``range(1, 4)``;
- a **distribution**: :class:`Uniform`, :class:`LogUniform`, :class:`IntUniform`,
  :class:`IntLogUniform`;
- a plain value (str, int, float, bool, None): a constant, passed through unchanged.

A **list of dicts** is a union of such spaces: the way to write conditional choices
("momentum only matters for SGD")::

    [{"optimizer": ["sgd"], "lr": LogUniform(1e-3, 1.0), "momentum": Uniform(0.0, 0.99)},
     {"optimizer": ["adam"], "lr": LogUniform(1e-4, 1e-1)}]

Bayesian optimization needs points as vectors: every dimension *encodes* its values into
columns of the unit cube and *decodes* them back (see :meth:`SearchSpace.encode`). Uniform
and integer dimensions map linearly, log dimensions map their logarithm linearly, a range
maps its index linearly (so its order is used), and a list becomes one-hot columns (no
order is assumed: "relu" is not "between" "tanh" and "gelu"). If your choices are ordered
numbers, say so with a range or an integer distribution so the surrogate can use the order.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Union

import numpy as np
from numpy.random import Generator

_PLAIN = (str, int, float, bool, type(None))


def _python_scalar(v: Any) -> Any:
    """NumPy scalars become Python scalars, so a float64 never leaks into a float32 model."""
    return v.item() if isinstance(v, np.generic) else v


class Dimension:
    """One parameter's set of possible values."""

    width: int = 1
    finite: bool = False
    ordinal: bool = True  # may local search move it a little? (False for one-hot categories)

    def sample(self, rng: Generator, n: int) -> list[Any]:
        """``n`` independent draws (Python scalars)."""
        raise NotImplementedError

    def values(self) -> list[Any]:
        raise TypeError(f"{self!r} is a distribution, to be sampled: it has no list of values to "
                        "enumerate (give a list or a range instead, or use random_search)")

    def encode(self, values: Sequence[Any]) -> np.ndarray:
        """Values → rows of the unit cube, shape (n, width)."""
        raise NotImplementedError

    def decode(self, u: np.ndarray) -> list[Any]:
        """Rows of the unit cube (n, width) → the nearest valid values."""
        raise NotImplementedError

    def snap(self, u: np.ndarray) -> np.ndarray:
        """The encoding of the nearest valid value of each row (clipped into the cube)."""
        return self.encode(self.decode(u))

    def contains(self, value: Any) -> bool:
        raise NotImplementedError

    @property
    def size(self) -> int:
        return len(self.values())


class Categorical(Dimension):
    """One of a list of choices, each equally likely; encoded one-hot (no order assumed)."""

    ordinal = False
    finite = True

    def __init__(self, choices: Sequence[Any]) -> None:
        choices = [_python_scalar(c) for c in choices]
        if len(choices) == 0:
            raise ValueError("a list of choices must not be empty")
        self.choices = choices
        repeated = [c for i, c in enumerate(choices) if self.index(c) != i]
        if repeated:  # a grid must hold each point once
            raise ValueError(f"choices must be distinct ({repeated[0]!r} appears twice in {choices!r})")
        self.width = len(choices)

    def __repr__(self) -> str:
        return f"Categorical({self.choices!r})"

    def values(self) -> list[Any]:
        return list(self.choices)

    def index(self, value: Any) -> int:
        for i, c in enumerate(self.choices):
            if type(c) is type(value) and c == value:
                return i
        for i, c in enumerate(self.choices):  # 3 for 3.0 and the like
            if c == value:
                return i
        raise ValueError(f"{value!r} is not one of the choices {self.choices!r}")

    def contains(self, value: Any) -> bool:
        try:
            self.index(value)
        except (ValueError, TypeError):
            return False
        return True

    def sample(self, rng: Generator, n: int) -> list[Any]:
        return [self.choices[i] for i in rng.integers(0, len(self.choices), size=n)]

    def encode(self, values: Sequence[Any]) -> np.ndarray:
        u = np.zeros((len(values), self.width))  # host
        for row, v in enumerate(values):
            u[row, self.index(v)] = 1.0
        return u

    def decode(self, u: np.ndarray) -> list[Any]:
        return [self.choices[i] for i in np.argmax(u, axis=1)]

    def snap(self, u: np.ndarray) -> np.ndarray:
        out = np.zeros_like(u)
        out[np.arange(len(u)), np.argmax(u, axis=1)] = 1.0  # host
        return out


class Constant(Categorical):
    """A fixed value, passed through unchanged (takes no column in the encoding)."""

    def __init__(self, value: Any) -> None:
        super().__init__([value])
        self.width = 0

    def __repr__(self) -> str:
        return f"Constant({self.choices[0]!r})"

    def encode(self, values: Sequence[Any]) -> np.ndarray:
        return np.zeros((len(values), 0))  # host

    def decode(self, u: np.ndarray) -> list[Any]:
        return [self.choices[0]] * len(u)

    def snap(self, u: np.ndarray) -> np.ndarray:
        return u


class _Numeric(Dimension):
    """A number in [low, high], optionally on a log scale and/or integer."""

    log = False
    integer = False

    def __init__(self, low: float, high: float) -> None:
        for name, v in (("low", low), ("high", high)):
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
                raise TypeError(f"{type(self).__name__}: {name} must be a number (got {v!r})")
            if not math.isfinite(v):
                raise ValueError(f"{type(self).__name__}: {name} must be finite (got {v!r})")
        if self.integer and (int(low) != low or int(high) != high):
            raise ValueError(f"{type(self).__name__}: low and high must be integers (got {low!r}, {high!r})")
        if high < low or (high == low and not self.integer):
            raise ValueError(f"{type(self).__name__}: need low < high (low <= high for integers) "
                             f"(got low={low!r}, high={high!r})")
        if self.log and low <= 0:
            raise ValueError(f"{type(self).__name__}: a log scale needs low > 0 (got low={low!r})")
        self.low = int(low) if self.integer else float(low)
        self.high = int(high) if self.integer else float(high)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.low!r}, {self.high!r})"

    def _warp(self, x: np.ndarray) -> np.ndarray:
        return np.log(x) if self.log else x

    def _unwarp(self, w: np.ndarray) -> np.ndarray:
        return np.exp(w) if self.log else w

    def _bounds(self) -> tuple[float, float]:
        # an integer k owns [k − ½, k + ½] (warped), so rounding a draw lands on every k
        lo, hi = (self.low - 0.5, self.high + 0.5) if self.integer else (self.low, self.high)
        return float(self._warp(np.float64(lo))), float(self._warp(np.float64(hi)))

    def _to_values(self, w: np.ndarray) -> list[Any]:
        x = self._unwarp(w)
        if self.integer:
            return np.clip(np.rint(x), self.low, self.high).astype(np.int64).tolist()
        return np.clip(x, self.low, self.high).tolist()

    def sample(self, rng: Generator, n: int) -> list[Any]:
        lo, hi = self._bounds()
        return self._to_values(rng.uniform(lo, hi, size=n))

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            return False
        if self.integer and int(value) != value:
            return False
        return self.low <= value <= self.high

    # unit-cube coordinates: the warped value mapped linearly from [warp(low), warp(high)]
    def encode(self, values: Sequence[Any]) -> np.ndarray:
        lo, hi = float(self._warp(np.float64(self.low))), float(self._warp(np.float64(self.high)))
        w = self._warp(np.asarray(values, dtype=np.float64))  # host
        if hi == lo:
            return np.full((len(w), 1), 0.5)  # host
        return ((w - lo) / (hi - lo)).reshape(-1, 1)

    def decode(self, u: np.ndarray) -> list[Any]:
        lo, hi = float(self._warp(np.float64(self.low))), float(self._warp(np.float64(self.high)))
        return self._to_values(lo + np.clip(u[:, 0], 0.0, 1.0) * (hi - lo))


class Uniform(_Numeric):
    """A float drawn uniformly from [low, high]."""


class LogUniform(_Numeric):
    """A float whose logarithm is uniform on [log low, log high] (every decade equally likely).

    The right prior for scale-like hyperparameters (learning rate, weight decay): with
    ``LogUniform(1e-4, 1e-1)`` the values below 1e-3 are drawn a third of the time, where a
    plain uniform would draw them 0.9 % of the time.
    """

    log = True


class IntUniform(_Numeric):
    """An integer drawn uniformly from {low, …, high} (both ends included, like ``random.randint``)."""

    integer = True


class IntLogUniform(_Numeric):
    """An integer in {low, …, high} drawn log-uniformly (rounded), e.g. a layer width in 8…512."""

    integer = True
    log = True


class IntRange(Dimension):
    """A Python ``range``: ordered integer choices, each equally likely; encoded by index."""

    finite = True

    def __init__(self, r: range) -> None:
        if len(r) == 0:
            raise ValueError(f"a range of choices must not be empty (got {r!r})")
        self.range = r

    def __repr__(self) -> str:
        return repr(self.range)

    def values(self) -> list[Any]:
        return list(self.range)

    def contains(self, value: Any) -> bool:
        return not isinstance(value, bool) and isinstance(value, (int, np.integer)) and value in self.range

    def sample(self, rng: Generator, n: int) -> list[Any]:
        return [self.range[i] for i in rng.integers(0, len(self.range), size=n)]

    def encode(self, values: Sequence[Any]) -> np.ndarray:
        idx = np.asarray([self.range.index(v) for v in values], dtype=np.float64)  # host
        k = len(self.range) - 1
        return (idx / k if k else np.full_like(idx, 0.5)).reshape(-1, 1)

    def decode(self, u: np.ndarray) -> list[Any]:
        k = len(self.range) - 1
        idx = np.rint(np.clip(u[:, 0], 0.0, 1.0) * k).astype(np.int64)
        return [self.range[i] for i in idx]


def as_dimension(name: str, spec: Any) -> Dimension:
    """The :class:`Dimension` a space entry describes (see the module docstring)."""
    if isinstance(spec, Dimension):
        return spec
    if isinstance(spec, range):
        return IntRange(spec)
    if isinstance(spec, (list, np.ndarray)):
        try:
            return Categorical(list(spec))
        except ValueError as e:
            raise ValueError(f"search space entry {name!r}: {e}") from None
    if isinstance(spec, (tuple, set, dict)):
        raise TypeError(f"search space entry {name!r}: got a {type(spec).__name__} {spec!r}; "
                        "write choices as a list, a range as range(a, b) or Uniform(low, high)")
    spec = _python_scalar(spec)
    if isinstance(spec, _PLAIN):
        return Constant(spec)
    raise TypeError(f"search space entry {name!r}: expected a list, a range, a distribution "
                    f"(Uniform, LogUniform, IntUniform, IntLogUniform) or a plain value (got {spec!r})")


SpaceSpec = Union[Mapping[str, Any], Sequence[Mapping[str, Any]], "SearchSpace"]
"""What the search functions accept as a space: a dict, a list of dicts, or a SearchSpace."""


def point_key(params: Mapping[str, Any]) -> str:
    """A canonical text key of a configuration (to recognise a point already tried)."""
    return json.dumps([[k, repr(params[k])] for k in sorted(params)])


class SearchSpace:
    """A parsed search space: one or more branches, each a dict name → :class:`Dimension`.

    Keys are kept sorted (the grid is the product over sorted keys, the last key varying
    fastest, as in scikit-learn's ``ParameterGrid``).
    """

    def __init__(self, spec: SpaceSpec) -> None:
        if isinstance(spec, SearchSpace):
            self.branches: list[dict[str, Dimension]] = spec.branches
            return
        if isinstance(spec, Mapping):
            specs: list[Mapping[str, Any]] = [spec]
        elif isinstance(spec, (list, tuple)) and all(isinstance(s, Mapping) for s in spec):
            specs = list(spec)
        else:
            raise TypeError("space must be a dict {name: values}, or a list of such dicts "
                            f"(a union of spaces) (got {type(spec).__name__})")
        if not specs:
            raise ValueError("space must not be an empty list")
        self.branches = []
        for s in specs:
            for k in s:
                if not isinstance(k, str):
                    raise TypeError(f"search space names must be strings (got {k!r})")
            self.branches.append({k: as_dimension(k, s[k]) for k in sorted(s)})

    def __repr__(self) -> str:
        parts = ["{" + ", ".join(f"{k!r}: {d!r}" for k, d in b.items()) + "}" for b in self.branches]
        return parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"

    # -- enumeration ------------------------------------------------------------------------
    @property
    def finite(self) -> bool:
        """True when every entry is a list of choices (a list, a range or a constant): a grid
        exists, and random points are drawn without replacement."""
        return all(d.finite for b in self.branches for d in b.values())

    def _branch_sizes(self) -> list[int]:
        return [math.prod(d.size for d in b.values()) for b in self.branches]

    def grid_size(self) -> int:
        """How many points the grid holds, counting a point shared by two branches twice."""
        self._require_finite("a grid")
        return sum(self._branch_sizes())

    def _require_finite(self, what: str) -> None:
        for b in self.branches:
            for k, d in b.items():
                if not d.finite:
                    raise TypeError(f"{what} needs finite choices, but {k!r} is {d!r}: give a list "
                                    "or a range, or use random_search / bayesian_optimization")

    def grid(self) -> Iterator[dict[str, Any]]:
        """Every point of the grid exactly once: the product over sorted keys of each branch,
        branches in order, a point already produced by an earlier branch skipped."""
        self._require_finite("a grid")
        seen: set[str] = set()
        for b in self.branches:
            keys = list(b)
            for combo in itertools.product(*(b[k].values() for k in keys)):
                params = dict(zip(keys, combo))
                if len(self.branches) > 1:
                    key = point_key(params)
                    if key in seen:
                        continue
                    seen.add(key)
                yield params

    def grid_point(self, index: int) -> dict[str, Any]:
        """The ``index``-th point of the product (mixed-radix digits, last key fastest)."""
        for b, size in zip(self.branches, self._branch_sizes()):
            if index < size:
                params = {}
                for k in reversed(list(b)):
                    values = b[k].values()
                    index, digit = divmod(index, len(values))
                    params[k] = values[digit]
                return dict(sorted(params.items()))
            index -= size
        raise IndexError("grid index out of range")

    # -- sampling ---------------------------------------------------------------------------
    def sample(self, rng: Generator) -> dict[str, Any]:
        """One random point (with replacement): a branch uniformly, then each dimension."""
        b = self.branches[int(rng.integers(len(self.branches)))] if len(self.branches) > 1 \
            else self.branches[0]
        return {k: d.sample(rng, 1)[0] for k, d in b.items()}

    def sample_distinct(self, rng: Generator, n: int) -> list[dict[str, Any]]:
        """Up to ``n`` distinct points drawn without replacement from a finite space
        (all of them, in random order, when the space has fewer than ``n``)."""
        self._require_finite("sampling without replacement")
        total = self.grid_size()
        out: list[dict[str, Any]] = []
        seen: set[str] = set()
        # Draw grid indices without replacement in chunks; skip points two branches share.
        order = iter(rng.permutation(total) if total <= 1_000_000 else self._lazy_indices(rng, total))
        for i in order:
            if len(out) == n:
                break
            params = self.grid_point(int(i))
            key = point_key(params)
            if key not in seen:
                seen.add(key)
                out.append(params)
        return out

    @staticmethod
    def _lazy_indices(rng: Generator, total: int) -> Iterator[int]:
        drawn: set[int] = set()
        while len(drawn) < total:
            i = int(rng.integers(total))
            if i not in drawn:
                drawn.add(i)
                yield i

    def contains(self, params: Mapping[str, Any]) -> bool:
        return self.branch_of(params) is not None

    def branch_of(self, params: Mapping[str, Any]) -> int | None:
        for i, b in enumerate(self.branches):
            if set(b) == set(params) and all(d.contains(params[k]) for k, d in b.items()):
                return i
        return None

    # -- the unit-cube encoding used by Bayesian optimization --------------------------------
    @property
    def n_columns(self) -> int:
        branch_cols = len(self.branches) if len(self.branches) > 1 else 0
        return branch_cols + sum(d.width for b in self.branches for d in b.values())

    def _layout(self) -> list[tuple[int, str, Dimension, slice]]:
        col = len(self.branches) if len(self.branches) > 1 else 0
        out = []
        for i, b in enumerate(self.branches):
            for k, d in b.items():
                out.append((i, k, d, slice(col, col + d.width)))
                col += d.width
        return out

    def ordinal_columns(self) -> np.ndarray:
        """True for the columns a local search may nudge (not one-hot ones)."""
        mask = np.zeros(self.n_columns, dtype=bool)  # host
        for _, _, d, cols in self._layout():
            mask[cols] = d.ordinal
        return mask

    def active_columns(self, u: np.ndarray) -> np.ndarray:
        """(n, n_columns) booleans: the columns of each row's own branch (for a union of spaces,
        the other branches' columns are unused zeros that an optimizer must leave alone)."""
        if len(self.branches) == 1:
            return np.ones(u.shape, dtype=bool)  # host
        branch = self._branch_index(u)
        active = np.zeros(u.shape, dtype=bool)  # host
        active[:, : len(self.branches)] = True
        for i, _, _, cols in self._layout():
            active[branch == i, cols] = True
        return active

    def encode(self, points: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Points → an (n, n_columns) array in [0, 1]. A union of branches gets one-hot branch
        columns first; the columns of the branches a point is not in are 0."""
        u = np.zeros((len(points), self.n_columns))  # host
        branch = []
        for p in points:
            b = self.branch_of(p)
            if b is None:
                raise ValueError(f"{dict(p)!r} is not a point of the space {self!r}")
            branch.append(b)
        if len(self.branches) > 1:
            u[np.arange(len(points)), branch] = 1.0  # host
        for i, k, d, cols in self._layout():
            rows = [r for r, b in enumerate(branch) if b == i]
            if rows and d.width:
                u[rows, cols] = d.encode([points[r][k] for r in rows])
        return u

    def _branch_index(self, u: np.ndarray) -> np.ndarray:
        if len(self.branches) == 1:
            return np.zeros(len(u), dtype=np.int64)  # host
        return np.argmax(u[:, : len(self.branches)], axis=1)

    def decode(self, u: np.ndarray) -> list[dict[str, Any]]:
        """Rows of the cube → the nearest valid points."""
        branch = self._branch_index(u)
        points: list[dict[str, Any]] = [{} for _ in range(len(u))]
        for i, k, d, cols in self._layout():
            rows = np.flatnonzero(branch == i)
            if len(rows):
                for r, v in zip(rows, d.decode(u[rows][:, cols])):
                    points[r][k] = v
        return points

    def snap(self, u: np.ndarray) -> np.ndarray:
        """Each row moved to the encoding of its nearest valid point (vectorized decode∘encode)."""
        branch = self._branch_index(u)
        out = np.zeros_like(u)
        if len(self.branches) > 1:
            out[np.arange(len(u)), branch] = 1.0  # host
        for i, _, d, cols in self._layout():
            rows = branch == i
            if rows.any() and d.width:
                out[np.ix_(rows, np.arange(cols.start, cols.stop))] = d.snap(u[rows][:, cols])  # host
        return out

    def latin_hypercube(self, rng: Generator, n: int) -> list[dict[str, Any]]:
        """``n`` points spread evenly: on every ordinal column each of the n equal slices of
        [0, 1] holds exactly one point (a Latin hypercube); categories and branches are
        dealt out in equal shares, in random order. A better start than n random points,
        which tend to clump (Bayesian optimization begins with these)."""
        u = (rng.permuted(np.tile(np.arange(n), (self.n_columns, 1)), axis=1).T  # host
             + rng.uniform(size=(n, self.n_columns))) / max(n, 1)

        def deal(k: int) -> np.ndarray:  # n labels in 0..k-1, equal shares, shuffled
            return rng.permutation(np.resize(rng.permutation(k), n))

        if len(self.branches) > 1:
            u[:, : len(self.branches)] = np.eye(len(self.branches))[deal(len(self.branches))]  # host
        for _, _, d, cols in self._layout():
            if not d.ordinal and d.width:
                u[:, cols] = np.eye(d.width)[deal(d.width)]  # host
        return self.decode(u)

    def sample_encoded(self, rng: Generator, n: int) -> np.ndarray:
        """``n`` random points, already encoded: rows of valid points in the cube."""
        u = rng.uniform(0.0, 1.0, size=(n, self.n_columns))
        return self.snap(u)
