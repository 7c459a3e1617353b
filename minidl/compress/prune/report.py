"""What pruning bought, in numbers you can read in a terminal: sparsity, bytes, latency.

:func:`sparsity_report` lists every parameter with its shape, nonzeros, sparsity and
three sizes — dense (what a masked model still stores), CSR (what sparse storage
needs) and, for the model as a whole, the mask overhead. :func:`time_forward` measures
a forward pass the same way for every variant (median of repeated timings).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

from minidl import backend
from minidl.compress.prune.masks import current_weight, get_mask, pruned_parameters
from minidl.engine.grad_mode import no_grad
from minidl.nn.module import Module


def csr_bytes(rows: int, nnz: int, value_bytes: int = 4, index_bytes: int = 4) -> int:
    """nnz · (value + column index) + (rows + 1) · row offset: CSR's size in bytes."""
    return nnz * (value_bytes + index_bytes) + (rows + 1) * index_bytes


@dataclass
class ParameterRow:
    name: str
    shape: tuple[int, ...]
    numel: int
    nonzeros: int
    pruned: bool
    dense_bytes: int
    csr_bytes: int | None  # None for 1-D parameters (biases stay dense)

    @property
    def sparsity(self) -> float:
        return 1.0 - self.nonzeros / max(self.numel, 1)


@dataclass
class SparsityReport:
    """One row per parameter, and totals; ``str(report)`` is an aligned table."""

    rows: list[ParameterRow]
    mask_bytes: int

    @property
    def numel(self) -> int:
        return sum(r.numel for r in self.rows)

    @property
    def nonzeros(self) -> int:
        return sum(r.nonzeros for r in self.rows)

    @property
    def sparsity(self) -> float:
        return 1.0 - self.nonzeros / max(self.numel, 1)

    @property
    def dense_bytes(self) -> int:
        return sum(r.dense_bytes for r in self.rows)

    @property
    def sparse_bytes(self) -> int:
        """Weight matrices in CSR where that is smaller, everything else dense."""
        return sum(min(r.dense_bytes, r.csr_bytes) if r.csr_bytes is not None else r.dense_bytes
                   for r in self.rows)

    def __str__(self) -> str:
        table = [("parameter", "shape", "nonzeros", "sparsity", "dense bytes", "CSR bytes")]
        for r in self.rows:
            table.append((r.name + (" (masked)" if r.pruned else ""), "×".join(map(str, r.shape)),
                          f"{r.nonzeros:,}/{r.numel:,}", f"{r.sparsity:6.1%}", f"{r.dense_bytes:,}",
                          "-" if r.csr_bytes is None else f"{r.csr_bytes:,}"))
        table.append(("total", "", f"{self.nonzeros:,}/{self.numel:,}", f"{self.sparsity:6.1%}",
                      f"{self.dense_bytes:,}", f"{self.sparse_bytes:,}"))
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
        right = {2, 3, 4, 5}
        lines = ["  ".join(v.rjust(w) if i in right else v.ljust(w)
                           for i, (v, w) in enumerate(zip(row, widths))) for row in table]
        lines.insert(1, "  ".join("-" * w for w in widths))
        lines.insert(len(lines) - 1, lines[1])
        if self.mask_bytes:
            lines.append(f"masks: {self.mask_bytes:,} bytes more (a masked model stores its dense weights "
                         "and a mask: pruning alone makes it bigger)")
        return "\n".join(lines)


def sparsity_report(model: Module) -> SparsityReport:
    """Per-parameter sparsity and sizes of ``model`` (masked parameters at their current values)."""
    if not isinstance(model, Module):
        raise TypeError(f"sparsity_report needs a Module (got {type(model).__name__})")
    pruned = {(id(m), n) for m, n in pruned_parameters(model)}
    rows = []
    mask_bytes = 0
    for prefix, module in model.named_modules():
        for key, p in module._parameters.items():
            if p is None:
                continue
            name = key[: -len("_orig")] if key.endswith("_orig") and (id(module), key[:-5]) in pruned else key
            is_pruned = (id(module), name) in pruned
            w = current_weight(module, name)
            nonzeros = int((w != 0).sum())
            if is_pruned:
                mask_bytes += int(get_mask(module, name).nbytes)
            csr = csr_bytes(w.shape[0], nonzeros, w.itemsize) if w.ndim >= 2 else None
            rows.append(ParameterRow(f"{prefix}.{name}" if prefix else name, tuple(w.shape), int(w.size),
                                     nonzeros, is_pruned, int(w.nbytes), csr))
    return SparsityReport(rows, mask_bytes)


def time_forward(model: Any, x: Any, number: int | None = None, repeats: int = 5,
                 target_seconds: float = 0.01) -> float:
    """Median seconds of one ``model(x)`` under ``no_grad``: ``repeats`` timings of ``number`` calls.

    With ``number=None`` it is chosen so that one timing lasts about ``target_seconds``.
    """
    if (number is not None and number < 1) or repeats < 1:
        raise ValueError(f"number and repeats must be >= 1 (got {number}, {repeats})")
    samples = []
    with no_grad():
        start = time.perf_counter()
        model(x)  # warm-up (JIT compilation, caches), and a first estimate
        backend.synchronize()
        once = time.perf_counter() - start
        if number is None:
            start = time.perf_counter()
            model(x)
            backend.synchronize()
            once = min(once, time.perf_counter() - start)
            number = max(1, min(10_000, int(target_seconds / max(once, 1e-7))))
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(number):
                model(x)
            backend.synchronize()
            samples.append((time.perf_counter() - start) / number)
    return statistics.median(samples)
