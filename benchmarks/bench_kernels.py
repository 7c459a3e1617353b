"""Each Numba kernel against its NumPy reference (and the naive version), at LeNet's shapes;
on one thread against split over every core (minidl.threads), alone and right after a GEMM;
and what the first call costs."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.harness import Section, fmt_time, measure

N = 64  # LeNet's second conv layer at batch 64: x (64, 32, 26, 26), 3×3 → (64, 64, 24, 24)
COL2IM_TARGET = 10.0  # Numba col2im vs the naive np.add.at version


def _cases() -> list[tuple[str, dict[str, Callable[[], Any]], str]]:
    from minidl.engine.ops import conv as conv_ops
    from minidl.kernels import activation, conv, pool
    from minidl.kernels.window import Window
    from minidl.threads import get_num_threads, num_threads

    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, 32, 26, 26)).astype(np.float32)
    win = Window(3, 3, 1, 1, 0, 0, 1, 1, 24, 24)
    cols = conv.im2col_reference(x, win)
    buf = np.empty_like(cols)
    act = rng.standard_normal((N, 64, 24, 24)).astype(np.float32)
    grad = rng.standard_normal(act.shape).astype(np.float32)
    p2 = Window(2, 2, 2, 2, 0, 0, 1, 1, 12, 12)
    p3 = Window(3, 3, 2, 2, 1, 1, 1, 1, 12, 12)
    y2, arg2 = pool.max_pool_forward_reference(act, p2)
    gy2 = rng.standard_normal(y2.shape).astype(np.float32)
    weights = rng.standard_normal((64, cols.shape[0])).astype(np.float32)

    def after_gemm(fn: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            weights @ cols  # BLAS has just used every core
            return fn()
        return run

    def threads(n: int, fn: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            with num_threads(n):
                return fn()
        return run

    every = get_num_threads()
    split = f"Numba, split over {every} threads"
    # the kernels on one thread and split over every core must agree exactly before they are timed
    for n in (1, every):
        with num_threads(n):
            np.testing.assert_array_equal(pool.max_pool_forward(act, p2)[0], y2)
            np.testing.assert_array_equal(activation.relu_backward(grad, act),
                                          activation.relu_backward_reference(grad, act))
    w4 = weights.reshape(64, 32, 3, 3)

    def conv_layer(forward: Callable[..., Any], backward: Callable[..., Any]) -> Callable[[], Any]:
        return lambda: (forward(x, w4, None, win), backward(grad, x, w4, x.shape, w4.shape, win, True, True, False))

    conv_step = conv_layer(conv_ops._conv_forward, conv_ops._conv_backward)
    return [
        ("im2col (3×3, 64×32×26×26 → 288×36864)", {
            "naive (fancy index)": lambda: conv.im2col_naive(x, win),
            "reference (9 slices)": lambda: conv.im2col_reference(x, win, out=buf),
            "Numba": lambda: conv.im2col(x, win, out=buf)}, "reference (9 slices)"),
        ("col2im (its adjoint)", {
            "naive (np.add.at)": lambda: conv.col2im_naive(cols, x.shape, win),
            "reference (9 slice adds)": lambda: conv.col2im_reference(cols, x.shape, win),
            "Numba": lambda: conv.col2im(cols, x.shape, win)}, "reference (9 slice adds)"),
        ("conv layer 32→64, 3×3: forward + backward (im2col, 3 GEMMs, col2im, in chunks)", {
            "NumPy references, whole batch": conv_layer(conv_ops.conv_forward_simple, conv_ops.conv_backward_simple),
            "chunks on 1 thread, BLAS as it is": threads(1, conv_step),
            f"chunks split over {every} threads, BLAS on 1 each": threads(every, conv_step)},
         "NumPy references, whole batch"),
        ("max-pool 2×2 forward (64×64×24×24)", {
            "naive (reshape + max, no argmax)": lambda: pool.max_pool_naive(act, 2),
            "reference (4 strided views)": lambda: pool.max_pool_forward_reference(act, p2),
            "Numba, 1 thread": threads(1, lambda: pool.max_pool_forward(act, p2)),
            split: threads(every, lambda: pool.max_pool_forward(act, p2))}, "reference (4 strided views)"),
        ("max-pool 3×3 stride 2 pad 1 forward (general kernel)", {
            "reference (9 strided views)": lambda: pool.max_pool_forward_reference(act, p3),
            "Numba, 1 thread": threads(1, lambda: pool.max_pool_forward(act, p3)),
            split: threads(every, lambda: pool.max_pool_forward(act, p3))}, "reference (9 strided views)"),
        ("max-pool 2×2 backward", {
            "reference (4 masked adds)": lambda: pool.max_pool_backward_reference(gy2, arg2, act.shape, p2),
            "Numba (2×2 kernel: one pass, no zero-fill), 1 thread": threads(
                1, lambda: pool.max_pool_backward(gy2, arg2, act.shape, p2)),
            f"Numba (2×2 kernel), split over {every} threads": threads(
                every, lambda: pool.max_pool_backward(gy2, arg2, act.shape, p2)),
            "Numba (general kernel), 1 thread": lambda: pool._max_pool_backward_kernel(gy2, arg2, np.zeros_like(act),
                                                                                     *p2)},
         "reference (4 masked adds)"),
        ("ReLU forward (64×64×24×24)", {
            "reference (np.maximum(x, 0))": lambda: activation.relu_reference(act),
            f"np.maximum, split over {every} threads": threads(every, lambda: activation.relu(act))},
         "reference (np.maximum(x, 0))"),
        ("ReLU backward (64×64×24×24)", {
            "reference (gy * (x > 0))": lambda: activation.relu_backward_reference(grad, act),
            "Numba, 1 thread": threads(1, lambda: activation.relu_backward(grad, act)),
            split: threads(every, lambda: activation.relu_backward(grad, act))}, "reference (gy * (x > 0))"),
        ("GEMM then ReLU backward (inside a training step)", {
            "GEMM alone": lambda: weights @ cols,
            "GEMM + Numba, 1 thread": after_gemm(threads(1, lambda: activation.relu_backward(grad, act))),
            f"GEMM + {split}": after_gemm(threads(every, lambda: activation.relu_backward(grad, act)))},
         "GEMM alone"),
    ]


_FIRST_CALL = r"""
import time, numpy as np
times = {}
t = time.perf_counter(); import numba; times["import numba"] = time.perf_counter() - t
from minidl.kernels import conv, pool, activation
from minidl.kernels.window import Window
x = np.ones((2, 3, 8, 8), np.float32)
w3, w2 = Window(3, 3, 1, 1, 1, 1, 1, 1, 8, 8), Window(2, 2, 2, 2, 0, 0, 1, 1, 4, 4)
for name, fn in [("im2col", lambda: conv.im2col.fast(x, w3)),  # .fast: the kernel, even on a tiny array
                 ("col2im", lambda: conv.col2im.fast(conv.im2col_reference(x, w3), x.shape, w3)),
                 ("max-pool 2x2", lambda: pool.max_pool_forward.fast(x, w2)),
                 ("max-pool", lambda: pool.max_pool_forward.fast(x, Window(3, 3, 2, 2, 1, 1, 1, 1, 4, 4))),
                 ("max-pool backward", lambda: pool.max_pool_backward.fast(
                     x[:, :, :4, :4], np.zeros((2, 3, 4, 4), np.int16), x.shape, w2)),
                 ("ReLU backward", lambda: activation.relu_backward.fast(x, x))]:
    t = time.perf_counter(); fn(); times[name] = time.perf_counter() - t
print(repr(times))
"""


def first_call_costs() -> dict[str, tuple[float, float]]:
    """Seconds of each kernel's first call in a fresh process: with an empty Numba cache
    (compiling) and with the cache the first run left (loading)."""
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=str(root))
        command = [sys.executable, "-c", _FIRST_CALL]
        runs = [ast.literal_eval(subprocess.run(command, env=env, capture_output=True, text=True, check=True,
                                                cwd=root).stdout) for _ in range(2)]
    return {k: (runs[0][k], runs[1][k]) for k in runs[0]}


def run(quick: bool = False) -> Section:
    rows = []
    col2im_gain = None
    for title, candidates, base_name in _cases():
        timings = measure(candidates, number=3 if quick else 5, rounds=5 if quick else 9, warmup=2)
        base = timings[base_name].median_s
        for name, t in timings.items():
            if base_name == "GEMM alone":  # what the kernel adds to the GEMM
                extra = "" if name == base_name else f"ReLU-backward part ≈ {fmt_time(t.median_s - base)}"
                rows.append([title, name, fmt_time(t.median_s), extra])
            else:
                rows.append([title, name, fmt_time(t.median_s), f"{base / t.median_s:.1f}×"])
        if title.startswith("col2im"):
            col2im_gain = timings["naive (np.add.at)"].median_s / timings["Numba"].median_s
    costs = first_call_costs()
    for name, (cold, warm) in costs.items():
        rows.append(["first call (compile / load from cache)", name, f"{fmt_time(cold)} / {fmt_time(warm)}",
                     ""])
    notes = [f"col2im target: Numba ≥ {COL2IM_TARGET:.0f}× faster than the naive np.add.at version; "
             f"measured {col2im_gain:.1f}× ({'met' if col2im_gain >= COL2IM_TARGET else 'not met'})",
             "speed-up is against the row marked as reference in each group (> 1: faster)",
             "split over threads: minidl.threads.parallel_range gives each thread one contiguous part of the "
             "batch and holds BLAS to one thread meanwhile; the kernels release the GIL (nogil)",
             f"first calls: {sum(c for c, _ in costs.values()):.1f} s compiling every kernel once per machine"
             f" (cache=True), {sum(w for _, w in costs.values()):.2f} s loading them in a later process; "
             "each is paid only when that kernel is first used (importing minidl does not import Numba)"]
    return Section(title="Kernels: Numba against the NumPy references", rows=rows, notes=notes,
                   header=["operation", "implementation", "median", "speed-up vs reference"])
