"""One seeded random number generator for everything minidl draws (like ``torch.manual_seed``).

Weight initialization draws on the host with NumPy's ``Generator`` (so a seed gives the
same initial weights on every backend) and moves the result to the active array module.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import numpy as np
from numpy.random import Generator


class _State:
    generator: Generator = np.random.default_rng(0)  # host: the generator lives on the host
    seed: int = 0


def manual_seed(seed: int) -> Generator:
    """Seed minidl's generator; the same seed gives the same weights, dropout masks and shuffles."""
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int (got {seed!r})")
    _State.seed = int(seed)
    _State.generator = np.random.default_rng(int(seed))  # host
    return _State.generator


def initial_seed() -> int:
    """The seed last given to :func:`manual_seed` (0 at start-up)."""
    return _State.seed


def default_generator() -> Generator:
    """The generator behind minidl's random draws."""
    return _State.generator


@contextlib.contextmanager
def fork_rng() -> Iterator[None]:
    """Run a block without moving minidl's generator (``torch.random.fork_rng``).

    Whatever the block draws, or whatever seed it sets, the generator afterwards is where it
    was before: the code after the block draws the same numbers either way.
    """
    generator, seed = _State.generator, _State.seed
    state = generator.bit_generator.state
    try:
        yield
    finally:
        generator.bit_generator.state = state
        _State.generator, _State.seed = generator, seed


def host_rng(generator: Generator | None = None) -> Generator:
    """``generator`` if given, else minidl's default generator."""
    return generator if generator is not None else _State.generator


def uniform(shape: Any, low: float, high: float, dtype: Any, xp: Any = np,
            generator: Generator | None = None) -> Any:
    """U(low, high) samples of ``shape`` in ``dtype``, as an array of module ``xp``."""
    a = host_rng(generator).uniform(low, high, size=shape).astype(dtype, copy=False)
    return a if xp is np else xp.asarray(a)


def normal(shape: Any, mean: float, std: float, dtype: Any, xp: Any = np,
           generator: Generator | None = None) -> Any:
    """N(mean, std²) samples of ``shape`` in ``dtype``, as an array of module ``xp``."""
    a = host_rng(generator).normal(mean, std, size=shape).astype(dtype, copy=False)
    return a if xp is np else xp.asarray(a)
