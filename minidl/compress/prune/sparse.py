"""Sparse storage: a pruned weight matrix in CSR form, and a Linear layer that computes with it.

A mask alone saves nothing: the zeros are still stored (4 bytes each in float32) and
still multiplied. CSR stores only the nonzeros,

    bytes(CSR) = nnz · (4 + 4) + (rows + 1) · 4      (float32 values, uint32 columns, row offsets)

against rows · cols · 4 dense, so it is smaller once less than about half the weights
remain, and its product (:func:`minidl.kernels.sparse.csr_matmat`) does work in
proportion to nnz. Whether that is *faster* than a dense BLAS product depends on the
sparsity and the batch size: measure (``benchmarks/bench_prune.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from minidl import backend
from minidl.compress.prune.masks import current_weight
from minidl.engine.grad_mode import is_grad_enabled
from minidl.engine.tensor import Tensor
from minidl.kernels.sparse import csr_matmat
from minidl.nn.module import Module


@dataclass
class CSRMatrix:
    """A matrix in compressed sparse row form: ``data``, ``indices`` (columns), ``indptr``, ``shape``.

    Row i holds the values ``data[indptr[i]:indptr[i+1]]`` in the columns
    ``indices[indptr[i]:indptr[i+1]]`` (increasing). Indices are ``uint32`` (see
    :mod:`minidl.kernels.sparse` for why unsigned).
    """

    data: Any
    indices: Any
    indptr: Any
    shape: tuple[int, int]

    @classmethod
    def from_dense(cls, dense: Any) -> CSRMatrix:
        """The nonzeros of a 2-D array, row by row (exact zeros, including −0.0, are dropped)."""
        a = dense.data if isinstance(dense, Tensor) else dense
        if a.ndim != 2:
            raise ValueError(f"CSR stores 2-D matrices (got shape {tuple(a.shape)})")
        xp = backend.get_array_module(a)
        rows, cols = xp.nonzero(a)
        counts = xp.bincount(rows, minlength=a.shape[0])
        index_dtype = "uint32" if rows.size < 2 ** 32 and a.shape[1] < 2 ** 32 else "uint64"
        indptr = xp.zeros(a.shape[0] + 1, dtype=index_dtype)
        indptr[1:] = xp.cumsum(counts)
        return cls(a[rows, cols], cols.astype(index_dtype), indptr, (int(a.shape[0]), int(a.shape[1])))

    def to_dense(self) -> Any:
        """The full matrix again (zeros where nothing is stored)."""
        xp = backend.get_array_module(self.data)
        out = xp.zeros(self.shape, dtype=self.data.dtype)
        # the row of entry p is the i with indptr[i] <= p < indptr[i+1]
        rows = xp.searchsorted(self.indptr[1:].astype("int64"), xp.arange(self.nnz), side="right")
        out[rows, self.indices.astype("int64")] = self.data
        return out

    @property
    def nnz(self) -> int:
        return int(self.data.size)

    @property
    def density(self) -> float:
        return self.nnz / max(self.shape[0] * self.shape[1], 1)

    @property
    def nbytes(self) -> int:
        """Bytes actually stored: values + column indices + row offsets."""
        return int(self.data.nbytes + self.indices.nbytes + self.indptr.nbytes)

    def matmul(self, dense: Any) -> Any:
        """A · B for a dense 2-D array B of shape (cols, k)."""
        if dense.ndim != 2 or dense.shape[0] != self.shape[1]:
            raise ValueError(f"CSR matmul: a matrix of shape {self.shape} needs a dense operand of "
                             f"shape ({self.shape[1]}, k) (got {tuple(dense.shape)})")
        return csr_matmat(self.data, self.indices, self.indptr, dense)

    def __repr__(self) -> str:
        return (f"CSRMatrix(shape={self.shape}, nnz={self.nnz}, density={self.density:.1%}, "
                f"bytes={self.nbytes:,})")


class SparseLinear(Module):
    """y = x Wᵀ + b with W stored in CSR form: inference only (no gradients flow through it).

    Computes Yᵀ = W · Xᵀ with the CSR kernel, so each nonzero of W is one AXPY over the
    batch. Build it from a (pruned) Linear with :meth:`from_linear` or :func:`to_sparse`.
    """

    def __init__(self, weight: CSRMatrix, bias: Any = None) -> None:
        super().__init__()
        self.weight = weight
        self.bias = bias
        self.out_features, self.in_features = weight.shape

    @classmethod
    def from_linear(cls, linear: Module) -> SparseLinear:
        """The same layer with its current (masked) weight in CSR form; the bias stays dense."""
        w = current_weight(linear, "weight")
        bias = None
        if linear._parameters.get("bias") is not None or linear._parameters.get("bias_orig") is not None:
            bias = current_weight(linear, "bias").copy()
        return cls(CSRMatrix.from_dense(w), bias)

    def forward(self, x: Tensor) -> Tensor:
        if is_grad_enabled() and x.requires_grad:
            raise RuntimeError("SparseLinear is for inference: run it under minidl.no_grad() "
                               "(gradients do not flow through the CSR product)")
        a = x.data if isinstance(x, Tensor) else x
        if a.shape[-1] != self.in_features:
            raise ValueError(f"SparseLinear: input has {a.shape[-1]} features (shape {tuple(a.shape)}) "
                             f"but the layer expects {self.in_features}")
        lead = a.shape[:-1]
        a2 = a.reshape(-1, self.in_features)
        xp = backend.get_array_module(a2)
        yt = xp.empty((self.out_features, a2.shape[0]), dtype=self.weight.data.dtype)
        yt[...] = 0 if self.bias is None else self.bias[:, None]  # Yᵀ starts at b, then += W · Xᵀ
        w = self.weight
        yt = csr_matmat(w.data, w.indices, w.indptr, a2.T, out=yt)
        return Tensor._wrap(yt.T.reshape(*lead, self.out_features))  # a transposed view: no copy

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"nnz={self.weight.nnz}, density={self.weight.density:.1%}")


def to_sparse(model: Module, max_density: float = 0.5) -> Module:
    """A copy of ``model`` whose Linear layers with density ≤ ``max_density`` compute in CSR form.

    Pruning masks are baked in; other layers are copied unchanged. Use it for inference
    (under ``minidl.no_grad()``).
    """
    import copy

    from minidl.compress.prune.masks import pruned_parameters, remove
    from minidl.nn.linear import Linear

    if not 0.0 <= max_density <= 1.0:
        raise ValueError(f"max_density must be in [0, 1] (got {max_density})")
    out = copy.deepcopy(model)
    for module, name in list(pruned_parameters(out)):
        remove(module, name)
    for parent in list(out.modules()):
        for child_name, child in list(parent._modules.items()):
            if isinstance(child, Linear):
                w = child.weight.data
                density = float((w != 0).sum()) / w.size
                if density <= max_density:  # replaced in place: a Sequential's order is its registry's
                    replacement = SparseLinear.from_linear(child)
                    parent._modules[child_name] = replacement
                    object.__setattr__(parent, child_name, replacement)
    if isinstance(out, Linear):
        return SparseLinear.from_linear(out)
    return out
