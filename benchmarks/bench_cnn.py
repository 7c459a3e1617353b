"""One LeNet training step at batch 64 (forward + backward + SGD, float32): minidl with its
Numba kernels (split over every core, or on one thread beside a threaded BLAS), with the NumPy
references, with the naive im2col/col2im, and PyTorch CPU."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from benchmarks.harness import Section, fmt_time, measure, spread, training_step

BATCH = 64
TARGET = 1.3  # minidl / PyTorch CPU on all cores (issue #20; stretch: 1.0)


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((BATCH, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, BATCH)


def minidl_step() -> tuple[Callable[[], Any], Any]:
    import minidl
    from minidl import nn, optim

    minidl.manual_seed(0)
    model = nn.LeNet()
    opt = optim.SGD(model.parameters(), lr=0.01)
    x, y = (minidl.tensor(a) for a in _data())

    return training_step(model, nn.functional.cross_entropy, opt, x, y), model


def torch_step() -> Callable[[], Any] | None:
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = (torch.from_numpy(a) for a in _data())

    return training_step(model, torch.nn.functional.cross_entropy, opt, x, y)


@contextlib.contextmanager
def kernels(mode: str) -> Iterator[None]:
    """Run the step with: "numba" (default: kernels split over minidl.threads.get_num_threads()),
    "serial" (the kernels on one thread, BLAS as it is: how minidl ran before), "reference"
    (NumPy K×K slices and strided views), or "naive" (fancy-index im2col, np.add.at col2im)."""
    from minidl import kernels as k
    from minidl.kernels import conv
    from minidl.threads import num_threads

    saved = conv.im2col, conv.col2im, k.numba_enabled()
    try:
        if mode in ("reference", "naive"):
            k.set_numba_enabled(False)
        if mode == "naive":
            def im2col(x: Any, win: Any, out: Any = None) -> Any:
                cols = conv.im2col_naive(x, win)
                if out is None:
                    return cols
                out[...] = cols
                return out

            def col2im(cols: Any, x_shape: Any, win: Any, out: Any = None) -> Any:
                dx = conv.col2im_naive(cols, x_shape, win)
                if out is None:
                    return dx
                out[...] = dx
                return out

            conv.im2col, conv.col2im = im2col, col2im
        with num_threads(1) if mode == "serial" else contextlib.nullcontext():
            yield
    finally:
        conv.im2col, conv.col2im = saved[:2]
        k.set_numba_enabled(saved[2])


def in_mode(mode: str, step: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        with kernels(mode):
            return step()

    return run


def check_float32_and_agreement(step: Callable[[], Any], model: Any) -> None:
    """Refuse to time a step that leaks float64, or whose kernels disagree with the references
    (or, split over threads, with themselves on one thread)."""
    losses = {}
    for mode in ("numba", "serial", "reference", "naive"):
        params = [p.data.copy() for p in model.parameters()]
        with kernels(mode):
            losses[mode] = float(step().item())
        grads = [p.grad.data.copy() for p in model.parameters()]
        for p, saved in zip(model.parameters(), params):
            p.data[...] = saved  # undo the update so every mode sees the same weights
        losses[mode + "_grads"] = grads
    for a, b, c in zip(losses["numba_grads"], losses["reference_grads"], losses["serial_grads"]):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)
        np.testing.assert_allclose(a, c, rtol=1e-4, atol=1e-6)  # only the order of the ∂L/∂W sums differs
    assert abs(losses["numba"] - losses["naive"]) < 1e-4
    for p in model.parameters():
        assert p.dtype == np.float32 and p.grad.dtype == np.float32, "float64 leaked into the model"


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """BLAS, minidl's kernels and PyTorch on one thread each."""
    from minidl.threads import blas_threads

    try:
        import torch
    except ImportError:
        torch = None  # type: ignore[assignment]
    saved = torch.get_num_threads() if torch is not None else 0
    try:
        if torch is not None:
            torch.set_num_threads(1)
        with blas_threads(1):
            yield
    finally:
        if torch is not None:
            torch.set_num_threads(saved)


def cpu_per_call(candidates: dict[str, Callable[[], Any]], rounds: int) -> dict[str, float]:
    """Median CPU seconds per call (every thread of the process: what spinning threads burn),
    in interleaved rounds of 2 calls."""
    import statistics
    import time

    samples: dict[str, list[float]] = {k: [] for k in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            time.sleep(0.15)
            start = time.process_time()
            fn()
            fn()
            samples[name].append((time.process_time() - start) / 2)
    return {k: statistics.median(v) for k, v in samples.items()}


def run(quick: bool = False) -> Section:
    import os

    load_before = os.getloadavg()[0]
    step, model = minidl_step()
    check_float32_and_agreement(step, model)
    reference = torch_step()
    base_name = "PyTorch CPU" if reference is not None else "minidl (Numba kernels)"
    rows, ratios = [], {}
    for threads in ("all cores", "1 thread"):
        candidates: dict[str, Callable[[], Any]] = {}
        if reference is not None:
            candidates["PyTorch CPU"] = reference
        candidates["minidl (Numba kernels)"] = step
        if threads == "all cores":  # before the kernels were split over threads: only BLAS used both cores
            candidates["minidl (Numba kernels on one thread)"] = in_mode("serial", step)
        candidates["minidl (NumPy references)"] = in_mode("reference", step)
        candidates["minidl (naive im2col / np.add.at)"] = in_mode("naive", step)
        with one_thread() if threads == "1 thread" else contextlib.nullcontext():
            timings = measure(candidates, number=2 if quick else 3, rounds=5 if quick else 9, warmup=2)
            cpu = cpu_per_call(candidates, rounds=3 if quick else 5)
        base = timings[base_name].median_s
        rows += [[threads, name, fmt_time(t.median_s), spread(t), f"{t.median_s / base:.2f}×", fmt_time(cpu[name])]
                 for name, t in timings.items()]
        ratios[threads] = timings["minidl (Numba kernels)"].median_s / base
    notes = ["one step: forward, cross-entropy, backward, SGD update; LeNet = conv 3×3 32 → ReLU → "
             "conv 3×3 64 → ReLU → max-pool 2 → fc 9216→128 → ReLU → fc 128→10, float32",
             "all cores: BLAS, minidl's kernels (minidl.threads.get_num_threads) and PyTorch as they start "
             "(2 threads here); each conv layer's batch is split in one part per thread, each part running "
             "im2col, GEMM (BLAS on one thread) and col2im; pooling and ReLU split the same way",
             "1 thread: all limited to one (minidl.threads.blas_threads, torch.set_num_threads), steadier "
             "on a busy machine",
             "large linear layers split their products by rows the same way (minidl.kernels.matmul), and the "
             "first convolution asks glibc's malloc to reuse freed memory (minidl.kernels.workspace."
             "keep_freed_memory): a process-wide setting, so PyTorch's step here runs with it too",
             "CPU per step: process CPU time (all its threads) per step, a separate interleaved run: on all "
             "cores, the time threads spend spinning while they wait for work shows here",
             f"load average (other jobs on the same cores) {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"]
    if reference is not None:
        ratio = ratios["all cores"]
        notes.append(f"target: minidl ≤ {TARGET}× PyTorch CPU (stretch: parity); measured {ratio:.2f}× on all "
                     f"cores ({'met' if ratio <= TARGET else 'not met'}), {ratios['1 thread']:.2f}× on one thread")
    else:
        notes.append("PyTorch not installed: ratios are against minidl's default step")
    return Section(title=f"LeNet training step, batch {BATCH}",
                   header=["threads", "implementation", "median", "spread", f"vs {base_name}", "CPU per step"],
                   rows=rows,
                   notes=notes)
