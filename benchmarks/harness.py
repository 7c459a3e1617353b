"""Measuring honestly: interleaved repetitions, medians, ratios against a reference run in
the same process, and a pause before each timed block so other thread pools settle.

Why each piece:
- interleaving (A B C A B C …) spreads slow moments of the machine over every candidate;
- medians ignore the odd repetition hit by a context switch;
- ratios against a reference measured in the same run cancel most of the machine's speed;
- the ~0.15 s pause lets OpenBLAS's spinning worker threads (or PyTorch's / Numba's
  OpenMP pool) go idle, so the next candidate does not lose a third of its speed to them.
"""

from __future__ import annotations

import gc
import platform
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable


def training_step(model: Any, cross_entropy: Callable[..., Any], optimizer: Any, x: Any,
                  y: Any) -> Callable[[], Any]:
    """One classification training step as a closure: zero_grad, forward, loss, backward, step.

    minidl and PyTorch share these names, so the same code times both sides of a comparison.
    """

    def step() -> Any:
        optimizer.zero_grad()
        loss = cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    return step


@dataclass
class Timing:
    name: str
    median_s: float
    samples: list[float]


@dataclass
class Section:
    """One table in RESULTS.md."""

    title: str
    header: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        lines = [f"## {self.title}", "", "| " + " | ".join(self.header) + " |",
                 "|" + "|".join("---" for _ in self.header) + "|"]
        lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in self.rows]
        if self.notes:
            lines += [""] + [f"- {n}" for n in self.notes]
        return "\n".join(lines) + "\n"


def measure(candidates: dict[str, Callable[[], object]], *, number: int, rounds: int = 9,
            warmup: int = 3, settle: float = 0.15) -> dict[str, Timing]:
    """Median seconds per call of each candidate, timed in interleaved rounds."""
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {k: [] for k in candidates}
    gc_was_enabled = gc.isenabled()
    try:
        for _ in range(rounds):
            for name, fn in candidates.items():
                time.sleep(settle)
                gc.collect()
                gc.disable()  # a collection inside one block would charge it to one candidate
                start = time.perf_counter()
                for _ in range(number):
                    fn()
                samples[name].append((time.perf_counter() - start) / number)
                if gc_was_enabled:
                    gc.enable()
    finally:
        if gc_was_enabled:
            gc.enable()
    return {k: Timing(k, statistics.median(v), v) for k, v in samples.items()}


def time_mlp_steps(candidates: dict[str, Callable[[], object]], sizes: list[int], batch: int,
                   quick: bool) -> tuple[str, dict[str, Timing], float]:
    """Time one network's training steps (more steps per round for the small network): its row
    name, the timings, and the hand-written NumPy step's median (the reference of the ratios)."""
    small = sizes[0] < 100
    number = (200 if small else 20) if quick else (1000 if small else 100)
    timings = measure(candidates, number=number, rounds=5 if quick else 11)
    name = "-".join(map(str, sizes)) + f", batch {batch}"
    return name, timings, timings["hand-written NumPy"].median_s


def fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def spread(t: Timing) -> str:
    """The middle half of the samples, relative to the median (how noisy the number is)."""
    q = statistics.quantiles(t.samples, n=4) if len(t.samples) >= 4 else [t.median_s] * 3
    return f"±{(q[2] - q[0]) / 2 / t.median_s:.0%}"


def machine_notes() -> list[str]:
    import os

    import numpy as np

    notes = [f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
             f"NumPy {np.__version__}"]
    try:
        import numba

        notes.append(f"Numba {numba.__version__}")
    except ImportError:  # pragma: no cover
        pass
    try:
        import torch

        notes.append(f"PyTorch {torch.__version__} ({torch.get_num_threads()} threads)")
    except ImportError:
        notes.append("PyTorch not installed: its columns are empty (make bench TORCH=1 adds them)")
    return notes
