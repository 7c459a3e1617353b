"""Numba JIT kernels for the hot paths, each beside the plain array version it must equal.

The one place that decides which runs is :func:`dispatch`: a kernel runs when every array
argument is a NumPy array and kernels are enabled; anything else (CuPy arrays on a GPU, a
test stand-in, ``MINIDL_NUMBA=0``) takes the reference version, written with the ``xp``
idiom. Callers never test for NumPy or CuPy themselves.

Kernels are compiled lazily on first use and cached on disk (``cache=True``), so importing
minidl stays fast and the compile cost is paid once per machine.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Callable, TypeVar

import numpy as np

F = TypeVar("F", bound=Callable[..., Any])

# Kernels write their parallel loops as ``for i in prange(n)`` with ``from minidl.kernels import
# prange``: plain ``range`` until Numba compiles the kernel, ``numba.prange`` inside it.
prange = range


class _State:
    enabled = os.environ.get("MINIDL_NUMBA", "1") not in ("0", "false", "False")


def numba_enabled() -> bool:
    """True when Numba kernels may run (``MINIDL_NUMBA=0`` or :func:`set_numba_enabled` turn them off)."""
    return _State.enabled


def set_numba_enabled(enabled: bool) -> None:
    """Turn the Numba kernels on or off (off: every op takes its reference path)."""
    _State.enabled = bool(enabled)


def dispatch(reference: Callable[..., Any],
             min_size: int = 0) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Pair a Numba-backed function with its reference: ``@dispatch(reference)`` on the fast one.

    The decorated function runs when all array arguments are NumPy arrays and kernels are
    enabled (and the first argument has at least ``min_size`` elements: below that a kernel
    saves microseconds, not worth compiling it); otherwise ``reference`` runs with the same
    arguments. Both must return equal results (a test per kernel checks it).
    """

    def decorate(fast: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fast)
        def run(*args: Any, **kwargs: Any) -> Any:
            if min_size and args[0].size < min_size:  # checked first: small calls stay cheap
                return reference(*args, **kwargs)
            if _State.enabled and all(type(a) is np.ndarray for a in args if hasattr(a, "shape")):
                return fast(*args, **kwargs)
            return reference(*args, **kwargs)

        run.reference = reference  # type: ignore[attr-defined]
        run.fast = fast  # type: ignore[attr-defined]
        return run

    return decorate


def jit(fn: F | None = None, **options: Any) -> Any:
    """``numba.njit(cache=True, ...)``, imported only when a kernel is first compiled."""

    def decorate(f: F) -> F:
        compiled: list[Any] = []

        def dispatcher() -> Any:
            if not compiled:
                import numba

                if f.__globals__.get("prange") is range:
                    f.__globals__["prange"] = numba.prange  # numba only parallelizes its own prange
                compiled.append(numba.njit(cache=True, **options)(f))
            return compiled[0]

        @functools.wraps(f)
        def lazy(*args: Any, **kwargs: Any) -> Any:
            if not compiled:
                dispatcher()
            return compiled[0](*args, **kwargs)

        lazy.py_func = f  # type: ignore[attr-defined]
        # the Numba function itself: minidl.compile calls it directly, without this wrapper
        lazy.dispatcher = dispatcher  # type: ignore[attr-defined]
        return lazy  # type: ignore[return-value]

    return decorate(fn) if fn is not None else decorate
