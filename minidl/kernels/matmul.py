"""A large matrix product split by rows over minidl's threads, each part on one BLAS thread.

Why not let BLAS use every core itself: after a threaded product OpenBLAS's helper threads
keep spinning for a while, waiting for the next one. In a CNN step the next op is split over
threads too (pooling, ReLU, the convolutions' im2col and col2im: minidl.threads), and the
spinning helpers fight those threads for the cores: measured in the LeNet step under load,
2.5× the CPU time per step (275 ms against 111 ms with BLAS on one thread). Split by rows,
each thread computes its own rows of the product with a one-thread BLAS call, and no helper
is ever woken.

Only products of at least ``MIN_MACS`` multiply-adds per part are split: below that, the
hand-off to a second thread costs about what it saves. Each row of the result is computed
from the same operands either way, but BLAS may round a row differently inside a product of
another shape (its edge kernels), so the split product equals ``a @ b`` up to rounding.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minidl.kernels import dispatch
from minidl.threads import parallel_range

MIN_MACS = 1 << 24  # multiply-adds per part (about 0.3 ms on one core)
# Callers on a hot path test ``m·k·n >= SPLIT_FROM`` before calling: a small product (the
# 64-128-10 MLP's) then costs one multiplication more, not a dispatch.
SPLIT_FROM = 2 * MIN_MACS


def matmul_reference(a: Any, b: Any) -> Any:
    """a @ b for 2-D arrays."""
    return a @ b


@dispatch(matmul_reference)
def matmul_rows_split(a: Any, b: Any) -> Any:
    """a @ b (2-D, same dtype), the rows of ``a`` shared out over :func:`minidl.threads.get_num_threads`."""
    if a.ndim != 2 or b.ndim != 2 or a.dtype != b.dtype or a.shape[1] != b.shape[0]:
        return a @ b  # NumPy's own errors and promotion
    m, (k, n) = a.shape[0], b.shape
    out = np.empty((m, n), dtype=a.dtype)
    parallel_range(lambda start, stop: np.matmul(a[start:stop], b, out=out[start:stop]), m,
                   grain=-(-MIN_MACS // max(k * n, 1)))
    return out
