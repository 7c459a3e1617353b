"""Does pruning make a layer smaller and faster? A 784→256 float32 Linear (the first layer of
an MNIST MLP): dense, masked (pruned by reparametrization), CSR (Numba kernel) and compacted
(the same fraction of output neurons removed), in bytes and in forward latency at batch 1 and 128."""

from __future__ import annotations

import os
import time

import numpy as np

from benchmarks.harness import Section, fmt_time, measure

IN, OUT = 784, 256
SPARSITIES = (0.8, 0.9, 0.95, 0.99)
TARGET_SPARSITY = 0.95  # targets: CSR ≥ 1.5× faster than dense at batch 128, and faster at batch 1


def _layers(sparsity: float):
    import minidl
    from minidl import nn
    from minidl.compress import prune

    minidl.manual_seed(0)
    dense = nn.Linear(IN, OUT)
    masked = nn.Linear(IN, OUT)
    masked.load_state_dict(dense.state_dict())
    prune.l1_unstructured(masked, "weight", amount=sparsity)
    csr = prune.SparseLinear.from_linear(masked)
    kept = max(1, round((1 - sparsity) * OUT))  # structured: that fraction of whole neurons removed
    compacted = nn.Linear(IN, kept)
    return dense, masked, csr, compacted


def _bytes(module) -> int:
    from minidl.compress import prune

    if isinstance(module, prune.SparseLinear):
        return module.weight.nbytes + module.bias.nbytes
    return sum(int(t.data.nbytes) for t in module.state_dict().values())


def _forward(module, x):
    import minidl

    def call():
        with minidl.no_grad():
            return module(x)

    return call


def first_call_seconds() -> float:
    """The kernel's first call in this process (Numba compiles it, or loads it from its disk cache)."""
    from minidl.kernels.sparse import _csr_matmat_kernel

    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 4)).astype(np.float32)
    from minidl.compress.prune import CSRMatrix

    csr = CSRMatrix.from_dense(a)
    out = np.zeros((4, 2), dtype=np.float32)
    start = time.perf_counter()
    _csr_matmat_kernel(csr.data, csr.indices, csr.indptr, np.ones((4, 2), dtype=np.float32), out)
    return time.perf_counter() - start


def run(quick: bool = False) -> Section:
    import minidl

    compile_s = first_call_seconds()
    rng = np.random.default_rng(0)
    inputs = {b: minidl.tensor(rng.standard_normal((b, IN)).astype(np.float32)) for b in (1, 128)}
    rows, ratios = [], {}
    dense_bytes = None
    for s in SPARSITIES:
        dense, masked, csr, compacted = _layers(s)
        variants = {"dense": dense, "masked": masked, "CSR": csr, "compacted": compacted}
        timings = {}
        for b, x in inputs.items():
            number = (200 if b == 1 else 20) if quick else (2000 if b == 1 else 200)
            timings[b] = measure({k: _forward(m, x) for k, m in variants.items()}, number=number,
                                 rounds=5 if quick else 9)
        dense_bytes = _bytes(dense)
        for name, module in variants.items():
            if name == "dense" and s != SPARSITIES[0]:
                continue  # one dense row is enough; its time is the reference in every block
            t1, t128 = timings[1][name].median_s, timings[128][name].median_s
            r1, r128 = t1 / timings[1]["dense"].median_s, t128 / timings[128]["dense"].median_s
            ratios[(name, s)] = (r1, r128)
            label = "—" if name == "dense" else f"{s:.0%}"
            rows.append([name, label, f"{_bytes(module):,}", f"{_bytes(module) / dense_bytes:.2f}×",
                         fmt_time(t1), f"{r1:.2f}×", fmt_time(t128), f"{r128:.2f}×"])
    r1, r128 = ratios[("CSR", TARGET_SPARSITY)]
    notes = [
        f"masked = dense weights + a boolean mask ({IN * OUT:,} bytes more) + one multiply per forward: "
        "pruning alone makes a layer bigger and slower",
        f"compacted = a dense {IN}→k Linear with the same fraction of output neurons removed "
        "(structured pruning, then `compact`)",
        f"target at {TARGET_SPARSITY:.0%}: CSR ≥ 1.5× faster than dense at batch 128 "
        f"(measured {1 / r128:.2f}× faster: {'met' if r128 <= 1 / 1.5 else 'not met'}) and faster at "
        f"batch 1 (measured {1 / r1:.2f}×: {'met' if r1 < 1 else 'not met'})",
    ]
    losing = [f"{s:.0%} at batch {b} ({r:.2f}× dense time)" for (name, s), (q1, q128) in ratios.items()
              if name == "CSR" for b, r in ((1, q1), (128, q128)) if r >= 1]
    notes.append("CSR does not pay here: " + ("; ".join(losing) if losing else "nowhere in this table"))
    notes.append("the kernel's first call in a process (Numba compile, or load from its disk cache): "
                 f"{compile_s * 1e3:.0f} ms")
    blas_threads = os.environ.get("OPENBLAS_NUM_THREADS", "unset (all cores)")
    notes.append(f"OPENBLAS_NUM_THREADS={blas_threads}; the CSR kernel is serial (a parallel prange "
                 "version lost badly on a busy 2-core machine)")
    return Section(title="Pruning: bytes and forward latency of a 784→256 float32 layer",
                   header=["variant", "sparsity", "bytes", "vs dense", "batch 1", "vs dense", "batch 128",
                           "vs dense"],
                   rows=rows, notes=notes)
