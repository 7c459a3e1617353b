"""minidl's generator: manual_seed and fork_rng (torch.random.fork_rng)."""

from __future__ import annotations

import numpy as np
import pytest

import minidl
from minidl.random import default_generator, fork_rng, initial_seed


def test_fork_rng_leaves_the_generator_where_it_was() -> None:
    minidl.manual_seed(3)
    default_generator().uniform(size=5)
    expected = minidl.random.normal((4,), 0.0, 1.0, np.float64)

    minidl.manual_seed(3)
    default_generator().uniform(size=5)
    with fork_rng():
        default_generator().uniform(size=100)  # draws inside the block ...
        minidl.manual_seed(99)  # ... and a new seed inside it
        default_generator().uniform(size=7)
    assert initial_seed() == 3
    np.testing.assert_array_equal(minidl.random.normal((4,), 0.0, 1.0, np.float64), expected)


def test_fork_rng_restores_after_an_exception() -> None:
    minidl.manual_seed(5)
    expected = default_generator().bit_generator.state
    with pytest.raises(RuntimeError):
        with fork_rng():
            default_generator().uniform(size=3)
            raise RuntimeError("inside")
    assert default_generator().bit_generator.state == expected
