"""A/B timing of the eager 64-128-10 training step (batch 32, SGD, one BLAS thread) across source trees.

    git worktree add --detach ../minidl-base 62a3031
    python benchmarks/ab_step.py ../minidl-base . --rounds 16

Each round runs every tree once, in a fresh process (the order reversed every other round, so
neither side always runs first), with ``PYTHONPATH`` set to that tree. A run warms up for 300
steps, then times 30 blocks of 100 steps with ``time.process_time`` and reports the median µs per
step. The summary gives, per tree, the median of its runs, their range, and the ratio to the first
tree (median of the per-round ratios, and their range): on a shared machine the ratio is what
means something, not the absolute time. Used for issue 15 (README, "the whole 64-128-10 step").
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

CHILD = """
import time
import numpy as np
import minidl
from minidl import nn, optim
minidl.manual_seed(0)
model = nn.MLP([64, 128, 10])
opt = optim.SGD(model.parameters(), lr=0.01)
rng = np.random.default_rng(0)
x = minidl.tensor(rng.standard_normal((32, 64)).astype(np.float32))
y = minidl.tensor(rng.integers(0, 10, 32))
def step():
    opt.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
for _ in range(300):
    step()
times = []
for _ in range(30):
    t = time.process_time()
    for _ in range(100):
        step()
    times.append((time.process_time() - t) / 100 * 1e6)
print(sorted(times)[15])
"""


def run_once(tree: Path) -> float:
    env = dict(os.environ, PYTHONPATH=str(tree), OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", CHILD], cwd=tree, env=env, capture_output=True, text=True,
                         check=True)
    return float(out.stdout.split()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="+", type=Path, help="source trees; the first is the reference")
    parser.add_argument("--rounds", type=int, default=12)
    args = parser.parse_args()
    trees = [t.resolve() for t in args.trees]
    runs: dict[Path, list[float]] = {t: [] for t in trees}
    for r in range(args.rounds):
        for tree in (trees if r % 2 == 0 else trees[::-1]):
            runs[tree].append(run_once(tree))
    reference = runs[trees[0]]
    for tree in trees:
        ratios = [a / b for a, b in zip(runs[tree], reference)]
        print(f"{str(tree):40s} median {statistics.median(runs[tree]):7.2f} µs "
              f"(runs {min(runs[tree]):.2f}-{max(runs[tree]):.2f})  ratio {statistics.median(ratios):.3f} "
              f"(per round {min(ratios):.3f}-{max(ratios):.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
