"""How many threads BLAS (NumPy's matrix products) may use.

minidl's models are small: a 64×128 matrix product takes microseconds, less than it takes
OpenBLAS to wake its worker threads. On a 2-core machine that shares its cores with
anything else, those threads spin and steal time; the tour ran 4× faster (and used a
quarter of the CPU) with one BLAS thread. So the tour, the lesson runner and the tests
use one thread by default; large models and benchmarks choose for themselves.
"""

from __future__ import annotations

import contextlib
from typing import Iterator


@contextlib.contextmanager
def blas_threads(n: int | None) -> Iterator[None]:
    """``with blas_threads(1): ...`` limits BLAS to ``n`` threads inside the block (None: no limit)."""
    if n is None:
        yield
        return
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"blas threads must be a positive int or None (got {n!r})")
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n, user_api="blas"):
        yield


_lesson_limit = None  # the threadpoolctl limiter lesson_threads holds for the rest of the process


def lesson_threads(n: int | None = None) -> int:
    """Limit BLAS to ``n`` threads for the rest of the process (one call at the top of a lesson).

    ``n`` defaults to ``$MINIDL_BLAS_THREADS``, else 1 — the setting ``minidl lesson N`` uses — so a
    lesson started as a script, from a notebook or by the lesson runner measures the same
    thing: small matrix products, without OpenBLAS's worker threads spinning on a shared
    machine (lesson 14 explains why one thread is faster here). Returns the number set.
    """
    global _lesson_limit
    import os

    if n is None:
        raw = os.environ.get("MINIDL_BLAS_THREADS", "1")
        try:
            n = int(raw)
        except ValueError:
            raise ValueError(f"MINIDL_BLAS_THREADS must be a positive int (got {raw!r})") from None
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"blas threads must be a positive int (got {n!r})")
    from threadpoolctl import threadpool_limits

    _lesson_limit = threadpool_limits(limits=n, user_api="blas")
    return n
