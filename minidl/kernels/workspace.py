"""Scratch arrays that are reused from one training step to the next.

Why bother: a convolution's column matrix is large (LeNet's second layer at batch 64:
288 × 36 864 float32 = 42 MB), and the C library hands out arrays that large as fresh
pages from the operating system every time. The first write to each 4 KiB page then
costs a page fault, about 6 ms for 42 MB on the benchmark machine: as long as the
im2col itself. Keeping the buffer between steps makes that cost disappear.

Only NumPy arrays of at least ``MIN_BYTES`` are pooled (CuPy has its own memory pool,
and small arrays are cheap to allocate). A buffer is given back only when nothing else
refers to it, so a pooled array can never change under someone's feet.

The arrays a step hands on (activations, gradients: 5-10 MB each in LeNet) cannot be
pooled that way, and they pay the same page faults: :func:`keep_freed_memory` asks the C
allocator to keep freed memory for the next array instead. Page faults also serialize the
threads a step is split over (the kernel takes a lock per process for them): the LeNet step
on 2 cores took 54-62 ms without it and 42-44 ms with it (one thread: 75-78 → 69-74 ms),
medians of 15 steps in separate processes on the shared machine at load average about 1.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np

from minidl.backend import get_array_module
from minidl.threads import get_num_threads

MIN_BYTES = 1 << 20
MAX_BYTES = 1 << 30  # never hold more than this much idle scratch memory
_PER_KEY = 2


class Workspace:
    """A small pool of idle scratch arrays, keyed by shape and dtype."""

    def __init__(self) -> None:
        self._free: dict[tuple[tuple[int, ...], np.dtype], list[np.ndarray]] = {}
        self._bytes = 0

    def take(self, shape: tuple[int, ...], dtype: Any, like: Any) -> Any:
        """An uninitialized array of ``shape`` and ``dtype`` in ``like``'s array module."""
        if type(like) is not np.ndarray:
            return get_array_module(like).empty(shape, dtype=dtype)
        key = (tuple(shape), np.dtype(dtype))
        idle = self._free.get(key)
        if idle:
            a = idle.pop()
            self._bytes -= a.nbytes
            return a
        return np.empty(shape, dtype=dtype)

    def give(self, a: Any) -> None:
        """Return ``a`` for reuse (ignored unless it is a large, unshared NumPy array)."""
        # 3 references: the caller's, this frame's argument, and getrefcount's own.
        if (type(a) is not np.ndarray or a.nbytes < MIN_BYTES or a.base is not None
                or sys.getrefcount(a) > 3 or self._bytes + a.nbytes > MAX_BYTES):
            return
        idle = self._free.setdefault((a.shape, a.dtype), [])
        if len(idle) < max(_PER_KEY, get_num_threads()):  # a convolution takes one set per thread
            idle.append(a)
            self._bytes += a.nbytes

    def clear(self) -> None:
        """Let go of every idle array."""
        self._free.clear()
        self._bytes = 0

    @property
    def idle_bytes(self) -> int:
        return self._bytes


workspace = Workspace()


_KEEP = {"done": False, "applied": False}
MMAP_THRESHOLD = 1 << 28  # arrays below 256 MB come from the heap, not from fresh pages
TRIM_THRESHOLD = 1 << 29  # and up to 512 MB of freed heap stays mapped for the next ones


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to reuse freed memory for large arrays (once per process; the chunked
    convolution calls it). Returns True if it was applied.

    By default glibc gives every array above a few MB fresh pages from the operating system
    and returns them when the array is freed, so each training step page-faults its way
    through every activation again. ``mallopt`` raises the size from which it does that
    (M_MMAP_THRESHOLD) and the amount of freed memory it keeps (M_TRIM_THRESHOLD), as
    PyTorch's caching allocator keeps its blocks. The price: the process holds on to up to
    ``TRIM_THRESHOLD`` bytes it no longer uses. ``MINIDL_KEEP_MEMORY=0`` turns it off; on
    other C libraries (macOS, Windows, musl) nothing is changed.
    """
    if _KEEP["done"]:
        return _KEEP["applied"]
    _KEEP["done"] = True
    if os.environ.get("MINIDL_KEEP_MEMORY", "1") in ("0", "false", "False"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
        _KEEP["applied"] = bool(libc.mallopt(m_mmap_threshold, MMAP_THRESHOLD)
                                and libc.mallopt(m_trim_threshold, TRIM_THRESHOLD))
    except (OSError, AttributeError):  # not glibc
        _KEEP["applied"] = False
    return _KEEP["applied"]
