"""minidl.compile (issue 20): the compiled MLP training step against the hand-written NumPy
step, eager minidl and PyTorch; and what the first call costs (capture + code generation +
Numba compile), in this process and from the disk cache in a fresh one."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.bench_mlp import _data, hand_step, torch_step
from benchmarks.harness import Section, fmt_time, spread, time_mlp_steps, training_step

CASES = [([64, 128, 10], 32, 0.8), ([784, 256, 128, 10], 128, 1.0)]  # (sizes, batch, target vs hand-written)
FIRST_CALL_TARGET, CACHED_TARGET = 2.0, 0.3  # seconds

# Run in a fresh process: one eager step first (it pays Numba's start-up, ~0.5-1 s, which any
# minidl training pays on its first optimizer step), then the compiled function's first call:
# capture + code generation + compiling (or loading from the disk cache) its kernels.
_FIRST_CALL = """
import time, numpy as np, minidl
from minidl import nn, optim
minidl.manual_seed(0)
model = nn.MLP([64, 128, 10]); opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
rng = np.random.default_rng(0)
x = minidl.tensor(rng.standard_normal((32, 64)).astype(np.float32)); y = rng.integers(0, 10, 32)
def step(x, y):
    opt.zero_grad(); loss = nn.functional.cross_entropy(model(x), y); loss.backward(); opt.step(); return loss
start = time.perf_counter(); step(x, y); eager = time.perf_counter() - start  # Numba's own start-up
compiled = minidl.compile(step)
start = time.perf_counter(); compiled(x, y); first = time.perf_counter() - start
print(first, eager)
"""


def compiled_step(sizes: list[int], batch: int, fuse: bool = True):
    import minidl
    from minidl import nn, optim

    minidl.manual_seed(0)
    model = nn.MLP(sizes)
    opt = optim.SGD(model.parameters(), lr=0.01)
    x, y = (minidl.tensor(a) for a in _data(sizes, batch))
    step = minidl.compile(training_step(model, nn.functional.cross_entropy, opt, x, y), fuse=fuse)
    step()  # capture
    return step


def eager_step(sizes: list[int], batch: int):
    import minidl
    from minidl import nn, optim

    minidl.manual_seed(0)
    model = nn.MLP(sizes)
    opt = optim.SGD(model.parameters(), lr=0.01)
    x, y = (minidl.tensor(a) for a in _data(sizes, batch))
    return training_step(model, nn.functional.cross_entropy, opt, x, y)


def first_call_seconds(cache: str) -> tuple[float, float]:
    """(compiled first call, eager first step before it) in a fresh process whose kernel cache is ``cache``."""
    env = dict(os.environ, MINIDL_CACHE=cache, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    out = subprocess.run([sys.executable, "-c", _FIRST_CALL], env=env, capture_output=True, text=True, check=True)
    first, second = out.stdout.split()
    return float(first), float(second)


def run(quick: bool = False) -> Section:
    rows = []
    notes = []
    for sizes, batch, target in CASES:
        candidates = {"hand-written NumPy": hand_step(sizes, batch), "minidl eager": eager_step(sizes, batch),
                      "minidl.compile, fuse=False": compiled_step(sizes, batch, fuse=False),
                      "minidl.compile": compiled_step(sizes, batch)}
        t = torch_step(sizes, batch)
        if t is not None:
            candidates["PyTorch CPU (eager)"] = t
        name, timings, ref = time_mlp_steps(candidates, sizes, batch, quick)
        for impl, timing in timings.items():
            rows.append([name, impl, fmt_time(timing.median_s), spread(timing), f"{timing.median_s / ref:.2f}×"])
        ratio = timings["minidl.compile"].median_s / ref
        notes.append(f"{name}: compiled step {ratio:.2f}× the hand-written NumPy step, target ≤ {target}× "
                     f"({'met' if ratio <= target else 'not met'})")
    with tempfile.TemporaryDirectory() as cache:
        cold, eager_first = first_call_seconds(cache)  # empty cache: capture + code generation + Numba compile
        runs = sorted(first_call_seconds(cache) for _ in range(1 if quick else 3))
        warm, eager_warm = runs[len(runs) // 2]
    rows.append(["64-128-10, batch 32", "compiled first call, empty kernel cache (capture + codegen + Numba)",
                 fmt_time(cold), "1 run", f"target ≤ {FIRST_CALL_TARGET:.1f} s"])
    rows.append(["64-128-10, batch 32", "compiled first call in a fresh process, kernels from the disk cache",
                 fmt_time(warm), "median of 3" if not quick else "1 run", f"target ≤ {CACHED_TARGET:.1f} s"])
    rows.append(["64-128-10, batch 32", "(for scale) eager first step of that process: Numba's start-up",
                 fmt_time(eager_warm), "", ""])
    notes.append(f"first call {cold:.2f} s (target ≤ {FIRST_CALL_TARGET} s: "
                 f"{'met' if cold <= FIRST_CALL_TARGET else 'not met'}); from the disk cache {warm:.2f} s "
                 f"(target ≤ {CACHED_TARGET} s: {'met' if warm <= CACHED_TARGET else 'not met'})")
    notes.append("all steps SGD (lr 0.01), float32; the compiled step's loss is returned as a Tensor like eager's; "
                 f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, "
                 f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    return Section(
        title="minidl.compile: the compiled MLP training step (issue 20)",
        header=["network", "implementation", "median", "spread", "vs hand-written"],
        rows=rows, notes=notes)
