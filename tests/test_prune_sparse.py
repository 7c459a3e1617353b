"""CSR storage and the CSR × dense kernel: kernel == NumPy reference == dense matmul."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl as md
from minidl import kernels, nn
from minidl.compress import prune
from minidl.compress.prune import CSRMatrix, SparseLinear
from minidl.kernels.sparse import csr_matmat, csr_matmat_reference


def sparse_matrix(rng: np.random.Generator, shape: tuple[int, int], density: float) -> np.ndarray:
    a = rng.standard_normal(shape).astype(np.float32)
    a[rng.random(shape) >= density] = 0
    return a


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 12), cols=st.integers(1, 12), batch=st.integers(1, 9),
       density=st.sampled_from([0.0, 0.05, 0.3, 1.0]), seed=st.integers(0, 2 ** 16))
def test_kernel_equals_reference_equals_dense(rows, cols, batch, density, seed):
    rng = np.random.default_rng(seed)  # host: test data
    a = sparse_matrix(rng, (rows, cols), density)
    b = rng.standard_normal((cols, batch)).astype(np.float32)
    csr = CSRMatrix.from_dense(a)
    fast = csr_matmat(csr.data, csr.indices, csr.indptr, b)
    slow = csr_matmat_reference(csr.data, csr.indices, csr.indptr, b)
    assert fast.dtype == slow.dtype == np.float32 and fast.shape == slow.shape == (rows, batch)
    np.testing.assert_allclose(fast, a @ b, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(slow, a @ b, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(csr.to_dense(), a)


def test_the_benchmark_layer_shape_at_both_batch_sizes():
    rng = np.random.default_rng(0)  # host
    w = sparse_matrix(rng, (256, 784), 0.05)
    csr = CSRMatrix.from_dense(w)
    for batch in (1, 128):
        x = rng.standard_normal((batch, 784)).astype(np.float32)
        np.testing.assert_allclose(csr.matmul(np.ascontiguousarray(x.T)).T, x @ w.T, rtol=1e-4, atol=1e-4)


def test_reference_runs_when_numba_is_off():
    rng = np.random.default_rng(1)  # host
    a, b = sparse_matrix(rng, (5, 7), 0.4), rng.standard_normal((7, 3)).astype(np.float32)
    csr = CSRMatrix.from_dense(a)
    kernels.set_numba_enabled(False)
    try:
        np.testing.assert_allclose(csr.matmul(b), a @ b, rtol=1e-5, atol=1e-6)
    finally:
        kernels.set_numba_enabled(True)
    assert csr_matmat.reference is csr_matmat_reference


def test_csr_layout_and_bytes():
    a = np.array([[0, 2, 0], [0, 0, 0], [3, 0, -0.0], [1, 1, 1]], dtype=np.float32)  # host
    csr = CSRMatrix.from_dense(a)
    assert csr.data.tolist() == [2, 3, 1, 1, 1] and csr.indices.tolist() == [1, 0, 0, 1, 2]
    assert csr.indptr.tolist() == [0, 1, 1, 2, 5] and csr.indices.dtype == np.uint32
    assert csr.nnz == 5 and csr.density == 5 / 12
    assert csr.nbytes == 5 * 4 + 5 * 4 + 5 * 4 == prune.csr_bytes(4, 5)
    assert "nnz=5" in repr(csr)
    with pytest.raises(ValueError, match="2-D"):
        CSRMatrix.from_dense(np.ones(3))  # host
    with pytest.raises(ValueError, match="dense operand of shape \\(3, k\\)"):
        csr.matmul(np.ones((4, 2), dtype=np.float32))  # host


def test_sparse_linear_matches_the_pruned_linear():
    md.manual_seed(0)
    layer = nn.Linear(20, 7)
    prune.l1_unstructured(layer, "weight", amount=0.9)
    sparse = SparseLinear.from_linear(layer)
    assert sparse.weight.nnz == 14 and "density=10.0%" in repr(sparse)
    x = md.randn(5, 20)
    with md.no_grad():
        np.testing.assert_allclose(sparse(x).numpy(), layer(x).numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(sparse(x[0]).numpy(), layer(x[0]).numpy(), rtol=1e-5, atol=1e-6)
        with pytest.raises(ValueError, match="expects 20"):
            sparse(md.randn(2, 3))
    with pytest.raises(RuntimeError, match="no_grad"):
        sparse(md.randn(2, 20, requires_grad=True))


def test_to_sparse_converts_only_sparse_enough_layers():
    md.manual_seed(0)
    model = nn.MLP([30, 40, 10])
    prune.l1_unstructured(model[0], "weight", amount=0.95)
    fast = prune.to_sparse(model, max_density=0.5)
    assert isinstance(fast[0], SparseLinear) and isinstance(fast[2], nn.Linear)
    x = md.randn(8, 30)
    with md.no_grad():
        np.testing.assert_allclose(fast(x).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-6)
    assert prune.is_pruned(model)  # the original keeps its masks


def test_out_accumulates_and_is_checked():
    rng = np.random.default_rng(2)  # host
    a, b = sparse_matrix(rng, (6, 5), 0.5), rng.standard_normal((5, 4)).astype(np.float32)
    csr = CSRMatrix.from_dense(a)
    for fn in (csr_matmat, csr_matmat_reference):
        out = np.ones((6, 4), dtype=np.float32)  # host
        result = fn(csr.data, csr.indices, csr.indptr, b, out=out)
        assert result is out
        np.testing.assert_allclose(out, 1 + a @ b, rtol=1e-5, atol=1e-5)
        with pytest.raises(ValueError, match="out must have shape \\(6, 4\\)"):
            fn(csr.data, csr.indices, csr.indptr, b, out=np.ones((4, 6), dtype=np.float32))  # host
