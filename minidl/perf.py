"""Measuring speed honestly, and finding where a training step spends its time.

- :func:`measure`: median seconds per call of several candidates, timed in interleaved
  rounds after a warm-up (the method ``make bench`` uses; lesson 14 explains each piece).
- :func:`profile_ops`: the time of each op's forward and backward inside a step.
- :func:`amdahl_speedup`: how much the whole gains when one part gets faster.
- :func:`roofline_time`: the least time a kernel can take, from its FLOPs and its bytes
  (lesson 16: why fusing elementwise ops pays).
"""

from __future__ import annotations

import cProfile
import gc
import pstats
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Timing:
    """The samples (seconds per call, one per round) of one candidate, and their summary."""

    name: str
    samples: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def spread(self) -> float:
        """Half the interquartile range relative to the median: ±0.05 means most rounds were within 5%."""
        if len(self.samples) < 4:
            return 0.0
        q1, _, q3 = statistics.quantiles(self.samples, n=4)
        return (q3 - q1) / 2 / self.median


def measure(candidates: dict[str, Callable[[], Any]], number: int = 10, rounds: int = 7, warmup: int = 2,
            settle: float = 0.05, clock: Callable[[], float] = time.perf_counter) -> dict[str, Timing]:
    """Median seconds per call of each candidate.

    - warm-up: ``warmup`` untimed calls first (first calls pay for compiling, caches, page faults);
    - interleaving: round r times every candidate once (A B C A B C …), so a slow moment of the
      machine hits all of them, not just one;
    - medians over ``rounds``: a round disturbed by another process does not move the result;
    - ``settle`` seconds of sleep before each block, so that thread pools still spinning
      from the previous candidate (BLAS, Numba, PyTorch) are idle again;
    - no garbage collection while timing: one would be charged to whichever candidate
      happened to trigger it (memory is still freed as usual when the last reference goes);
    - ``clock``: wall time by default; ``clock=time.process_time`` charges each block this
      process's CPU time instead, so on a machine shared with other jobs a block the operating
      system paused is not charged for the pause (lesson 16 uses it for millisecond-long
      blocks, which a busy machine interrupts almost every time).
    """
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            for name, fn in candidates.items():
                if settle:
                    time.sleep(settle)
                start = clock()
                for _ in range(number):
                    fn()
                samples[name].append((clock() - start) / number)
    finally:
        if was_enabled:
            gc.enable()
    return {name: Timing(name, s) for name, s in samples.items()}


def amdahl_speedup(fraction: float, factor: float) -> float:
    """Speed-up of the whole when a part taking ``fraction`` of the time gets ``factor`` times faster:

        speed-up = 1 / ((1 − f) + f / k)       (f = fraction, k = factor)

    With f = 0.4 and k → ∞ the whole is at most 1/0.6 ≈ 1.67× faster: the untouched 60% stays.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1] (got {fraction})")
    if factor <= 0:
        raise ValueError(f"factor must be positive (got {factor})")
    return 1.0 / ((1.0 - fraction) + fraction / factor)


def roofline_time(flops: float, nbytes: float, peak_flops: float, bandwidth: float) -> float:
    """The least time a kernel can take (the roofline model, Williams, Waterman & Patterson 2009):

        T = max(F / P_peak, Q / BW)

    F floating-point operations, Q bytes moved between memory and the core, P_peak the
    machine's peak FLOP/s and BW its memory bandwidth (bytes/s). Equivalently the kernel runs
    at most at min(P_peak, AI · BW) FLOP/s, AI = F / Q its arithmetic intensity: below the
    ridge point AI* = P_peak / BW it is memory-bound, and only moving fewer bytes (fusing
    elementwise ops, so a temporary is never written and read back) makes it faster.
    """
    for name, value in (("flops", flops), ("nbytes", nbytes)):
        if value < 0:
            raise ValueError(f"{name} must be >= 0 (got {value})")
    for name, value in (("peak_flops", peak_flops), ("bandwidth", bandwidth)):
        if not value > 0:
            raise ValueError(f"{name} must be positive (got {value})")
    return max(flops / peak_flops, nbytes / bandwidth)


@dataclass
class OpTime:
    op: str
    phase: str  # "forward" or "backward"
    seconds: float  # per step, including the kernels and BLAS calls the op makes
    calls: float  # per step


def _op_methods() -> dict[tuple[str, int, str], tuple[str, str]]:
    """(file, line, name) of every op's forward/backward code → (op name, phase)."""
    from minidl.engine.function import Function

    found: dict[tuple[str, int, str], tuple[str, str]] = {}
    pending = list(Function.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        for phase in ("forward", "backward"):
            code = getattr(cls.__dict__.get(phase), "__code__", None)
            if code is not None:
                found[(code.co_filename, code.co_firstlineno, code.co_name)] = (cls.__name__, phase)
    return found


def profile_ops(step: Callable[[], Any], steps: int = 5, warmup: int = 2) -> tuple[list[OpTime], float]:
    """Run ``step`` under cProfile; return the time of each op's forward and backward per step
    (largest first) and the whole step's time per step.

    What is not in an op (the optimizer, the loss's setup, Python between ops) is the
    difference between the total and the sum of the ops. cProfile slows down Python code,
    so small, Python-heavy steps look more expensive than they are; large ops are accurate.
    """
    for _ in range(warmup):
        step()
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    for _ in range(steps):
        step()
    profiler.disable()
    total = (time.perf_counter() - start) / steps
    methods = _op_methods()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    rows: dict[tuple[str, str], list[float]] = {}
    for key, (_, _, _, _, callers) in stats.items():
        if key not in methods:
            continue
        op, phase = methods[key]
        # Count only the calls the engine makes (a forward from Function.__call__, a backward
        # from the backward walk): an op's backward that runs another op's forward on arrays
        # (max-pool's scatter) is already inside its own time.
        engine = "__call__" if phase == "forward" else "_walk"
        for (_, _, caller), (_, calls, _, cumulative) in callers.items():
            if caller == engine:
                acc = rows.setdefault((op, phase), [0.0, 0.0])
                acc[0] += cumulative / steps
                acc[1] += calls / steps
    ops = [OpTime(op, phase, s, c) for (op, phase), (s, c) in rows.items()]
    return sorted(ops, key=lambda o: -o.seconds), total
