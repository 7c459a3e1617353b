"""Sparse × dense matrix product for CSR matrices: the kernel that lets pruning pay off.

A CSR (compressed sparse row) matrix A of shape (m, n) is three arrays: ``data`` (the
nonzero values, row after row), ``indices`` (the column of each value) and ``indptr``
(row i's values are ``data[indptr[i]:indptr[i+1]]``). The product C = A · B with a dense
B of shape (n, k) is, row by row,

    C[i, :] = Σ_p data[p] · B[indices[p], :]        for p in indptr[i] .. indptr[i+1] − 1

Each nonzero costs one AXPY over a contiguous row of B (length k: the batch, when a
layer computes Wᵀ-side products as W · Xᵀ), so work is proportional to the nonzeros
instead of m·n — but each step also reads an index and jumps in memory, which is why
sparsity must be high before it beats BLAS.

Indices are unsigned (``uint32``): with signed indices Numba must check each one for
Python's negative-index wraparound, which stops LLVM from vectorizing the gather and
made the one-sample product 3× slower when this kernel was written.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minidl import backend
from minidl.kernels import dispatch, jit


def _output(data: Any, indptr: Any, dense: Any, out: Any, xp: Any) -> Any:
    shape = (len(indptr) - 1, dense.shape[1])
    if out is None:
        return xp.zeros(shape, dtype=np.result_type(data.dtype, dense.dtype))
    if tuple(out.shape) != shape:
        raise ValueError(f"csr_matmat: out must have shape {shape} (got {tuple(out.shape)})")
    return out


def csr_matmat_reference(data: Any, indices: Any, indptr: Any, dense: Any, out: Any = None) -> Any:
    """C = A · B for A in CSR form (or out += A · B): one small dense product per row, no SciPy."""
    xp = backend.get_array_module(dense)
    out = _output(data, indptr, dense, out, xp)
    bounds = backend.to_numpy(indptr).tolist()  # a host copy: loop bounds, not data
    for i in range(len(bounds) - 1):
        start, end = bounds[i], bounds[i + 1]
        if end > start:
            out[i] += data[start:end] @ dense[indices[start:end]]
    return out


@jit(fastmath=True)  # lets LLVM split the sum over several registers (any order is fine)
def _csr_matmat_kernel(data: Any, indices: Any, indptr: Any, dense: Any, out: Any) -> None:
    k = dense.shape[1]
    if k == 1:  # one sample: a dot product per row (a vectorized gather, thanks to fastmath)
        x = dense[:, 0]
        for i in range(indptr.shape[0] - 1):
            acc = out[i, 0]
            for p in range(indptr[i], indptr[i + 1]):
                acc += data[p] * x[indices[p]]
            out[i, 0] = acc
        return
    for i in range(indptr.shape[0] - 1):
        row = out[i]
        for p in range(indptr[i], indptr[i + 1]):
            w = data[p]
            src = dense[indices[p]]
            for b in range(k):  # contiguous: LLVM vectorizes this AXPY
                row[b] += w * src[b]


@dispatch(csr_matmat_reference)
def csr_matmat(data: Any, indices: Any, indptr: Any, dense: Any, out: Any = None) -> Any:
    """C = A · B for A = (data, indices, indptr) in CSR form and a dense 2-D B; with ``out``,
    out += A · B (a layer starts ``out`` at its bias). Returns the result.

    ``indices`` and ``indptr`` should be unsigned integers (see the module docstring);
    :class:`minidl.compress.prune.sparse.CSRMatrix` stores them so.
    """
    dense = np.ascontiguousarray(dense)  # rows of B must be contiguous for the AXPY
    out = _output(data, indptr, dense, out, np)
    _csr_matmat_kernel(data, indices, indptr, dense, out)
    return out
