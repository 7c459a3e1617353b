"""Proof that a Numba kernel ran: count the calls of a kernel function a dispatcher looks up.

A kernel test that compares ``dispatcher(args)`` with ``reference(args)`` proves nothing when
dispatch quietly sends ``args`` to the reference (a NumPy scalar among them, an array below
``min_size``, a strided view): both sides are then the reference. The dispatchers call their
compiled loops through module globals, so replacing a global with a counting wrapper shows
whether the loop ran.
"""

from __future__ import annotations

from collections import Counter
from types import ModuleType

import pytest


def count_calls(monkeypatch: pytest.MonkeyPatch, module: ModuleType, *names: str) -> Counter:
    """Wrap ``module.<name>`` for each name (restored after the test); returns the live call counts."""
    calls: Counter = Counter()
    for name in names:
        original = getattr(module, name)

        def counted(*args, _original=original, _name=name, **kwargs):
            calls[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)
    return calls
