"""How many threads BLAS (NumPy's matrix products) and minidl's own kernels may use.

minidl's models are small: a 64×128 matrix product takes microseconds, less than it takes
OpenBLAS to wake its worker threads. On a 2-core machine that shares its cores with
anything else, those threads spin and steal time; the tour ran 4× faster (and used a
quarter of the CPU) with one BLAS thread. So the tour, the lesson runner and the tests
use one thread by default; large models and benchmarks choose for themselves.

minidl's own kernels (im2col, pooling, ReLU: the work between the matrix products) use as
many threads as :func:`get_num_threads` says: every core by default, the same limit as BLAS
inside :func:`blas_threads` and after :func:`lesson_threads`. They split a batch into one
contiguous part per thread with :func:`parallel_map`, and each part calls BLAS on one thread:
two threads that each run a whole chain (im2col, GEMM, col2im) on half the batch keep both
cores busy, where a threaded kernel after a threaded GEMM fights BLAS's spinning helpers for
them (lesson 14; benchmarks/RESULTS.md, "LeNet training step").
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any, Callable, Iterator, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Threads:
    count: int | None = None  # set by set_num_threads / blas_threads / lesson_threads; None: every core
    pool: Any = None  # the ThreadPoolExecutor parallel_map hands parts to, started on first use
    workers = 0  # its size
    region = threading.Lock()  # held while a parallel_map runs: a nested or concurrent one runs serially
    blas: Any = None  # threadpoolctl's controller of the BLAS libraries, found on first use


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS and Windows have no affinity mask
        return os.cpu_count() or 1


def get_num_threads() -> int:
    """How many threads minidl's own kernels split their work over (``torch.get_num_threads``)."""
    return _Threads.count or _cpu_count()


def set_num_threads(n: int | None) -> None:
    """Let minidl's own kernels use ``n`` threads from now on (None: every core), as
    ``torch.set_num_threads``. BLAS keeps its own setting: :func:`blas_threads` sets both."""
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
        raise ValueError(f"num_threads must be a positive int or None (got {n!r})")
    _Threads.count = n


@contextlib.contextmanager
def num_threads(n: int | None) -> Iterator[None]:
    """``with num_threads(2): ...``: :func:`set_num_threads` inside the block only."""
    saved = _Threads.count
    set_num_threads(n)
    try:
        yield
    finally:
        _Threads.count = saved


def _forget_pool_after_fork() -> None:
    # A forked child (a DataLoader worker) has none of the parent's threads: start afresh.
    _Threads.pool, _Threads.workers, _Threads.region = None, 0, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


def parallel_map(work: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``[work(item) for item in items]``, the items shared out over :func:`get_num_threads` threads.

    The items go in contiguous runs, one run per thread (the caller's thread takes the first
    run), and BLAS is held to one thread meanwhile, so ``work`` may call kernels that release
    the GIL (NumPy's, BLAS, ``nogil`` Numba kernels) and the threads really run side by side.
    With one thread, one item, or from inside another ``parallel_map``, it is the plain loop.
    """
    parts = min(get_num_threads(), len(items))
    if parts < 2 or not _Threads.region.acquire(blocking=False):
        return [work(item) for item in items]
    try:
        from concurrent.futures import ThreadPoolExecutor, wait

        if _Threads.workers < parts - 1:
            if _Threads.pool is not None:
                _Threads.pool.shutdown(wait=False)
            _Threads.pool = ThreadPoolExecutor(parts - 1, thread_name_prefix="minidl")
            _Threads.workers = parts - 1
        if _Threads.blas is None:
            from threadpoolctl import ThreadpoolController

            _Threads.blas = ThreadpoolController()
        bounds = [len(items) * p // parts for p in range(parts + 1)]

        def run(p: int) -> list[R]:
            return [work(item) for item in items[bounds[p]:bounds[p + 1]]]

        with _Threads.blas.limit(limits=1, user_api="blas"):
            futures = [_Threads.pool.submit(run, p) for p in range(1, parts)]
            try:
                results = run(0)
            finally:
                wait(futures)  # every part ends (or fails) before BLAS gets its threads back
        for future in futures:
            results += future.result()
        return results
    finally:
        _Threads.region.release()


@contextlib.contextmanager
def blas_threads(n: int | None) -> Iterator[None]:
    """``with blas_threads(1): ...`` limits BLAS, and minidl's own kernels (:func:`get_num_threads`),
    to ``n`` threads inside the block (None: no limit, both unchanged)."""
    if n is None:
        yield
        return
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"blas threads must be a positive int or None (got {n!r})")
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n, user_api="blas"), num_threads(n):
        yield


_lesson_limit = None  # the threadpoolctl limiter lesson_threads holds for the rest of the process


def lesson_threads(n: int | None = None) -> int:
    """Limit BLAS and minidl's kernels to ``n`` threads for the rest of the process (one call at the top
    of a lesson).

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
    set_num_threads(n)
    return n


def parallel_range(work: Callable[[int, int], Any], n: int, grain: int = 1) -> None:
    """``work(start, stop)`` once per thread, on contiguous ranges that cover [0, n).

    No range is shorter than ``grain`` (where n is small, fewer threads: starting one costs
    tens of microseconds). ``work`` may write into disjoint slices of a shared output.
    """
    parts = max(1, min(get_num_threads(), n // max(grain, 1)))
    bounds = [n * p // parts for p in range(parts + 1)]
    parallel_map(lambda p: work(bounds[p], bounds[p + 1]), range(parts))
