"""Measurements that need several processes: run as ``mpiexec -n N python -m minidl.ddp.measure``.

Each job prints one JSON line from rank 0. The host side (:func:`measure`) starts the job
through :func:`minidl.distributed.launch.run_mpiexec` and parses that line; the benchmark
(``benchmarks/bench_distributed.py``), lesson 12 and ``minidl ddp`` all use it.

- ``allreduce``: median seconds of MPI's ``Allreduce`` and the hand-written ring per message
  size, interleaved (A B A B …) so a busy moment of the machine hits both.
- ``train``: a data-parallel MLP training loop on MNIST-shaped random data; samples per
  second and the time per step spent waiting for communication, for one of three ways of
  averaging the gradients (``sync``): ``ddp`` (DistributedDataParallel's buckets, overlapped
  with backward), ``after_backward`` (one blocking all-reduce per parameter once backward
  has finished: no buckets, no overlap), or ``none`` (no averaging: the compute alone).
- ``digits``: ``minidl ddp``'s demonstration — an MLP trained in float64 on the bundled digits
  with DistributedDataParallel; time, test accuracy and the final weights (to compare runs
  on different numbers of processes).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any, Sequence

import numpy as np


def time_allreduce(sizes_bytes: Sequence[int], rounds: int = 7, dtype: str = "float32") -> dict[str, Any]:
    """Inside an MPI job: median seconds per all-reduce of each size, MPI's and the ring's."""
    from mpi4py import MPI

    from minidl.distributed import process_group as pg
    from minidl.distributed.ring import ring_all_reduce

    world = pg.comm()
    itemsize = np.dtype(dtype).itemsize
    out: dict[str, Any] = {"world_size": world.Get_size(), "sizes_bytes": list(sizes_bytes), "mpi_s": [],
                           "ring_s": []}
    for nbytes in sizes_bytes:
        a = np.zeros(max(1, nbytes // itemsize), dtype=dtype)  # host: an MPI message (zeros stay finite)
        repeat = max(1, min(200, (1 << 22) // max(nbytes, 1)))  # ~4 MB moved per timing block
        samples: dict[str, list[float]] = {"mpi_s": [], "ring_s": []}
        runs = {"mpi_s": lambda a=a: world.Allreduce(MPI.IN_PLACE, a, op=MPI.SUM),
                "ring_s": lambda a=a: ring_all_reduce(a)}
        for fn in runs.values():
            fn()  # warm-up (first-touch of buffers, connection set-up)
        for _ in range(rounds):
            for key, fn in runs.items():
                world.Barrier()
                start = time.perf_counter()
                for _ in range(repeat):
                    fn()
                elapsed = (time.perf_counter() - start) / repeat
                samples[key].append(world.allreduce(elapsed, op=MPI.MAX))  # the slowest rank's time
        for key in runs:
            out[key].append(statistics.median(samples[key]))
    return out


def time_training(sync: str, steps: int = 40, warmup: int = 5, global_batch: int = 256,
                  sizes: Sequence[int] = (784, 256, 128, 10), bucket_cap_mb: float = 25,
                  rounds: int = 3) -> dict[str, Any]:
    """Inside an MPI job (or a world of one): samples per second of the MLP's training step."""
    import minidl
    from minidl import nn, optim
    from minidl.distributed import process_group as pg

    rank, world = pg.get_rank(), pg.get_world_size()
    local = global_batch // world
    rng = np.random.default_rng(rank)  # host
    batches = [(minidl.tensor(rng.standard_normal((local, sizes[0]), dtype=np.float32)),
                minidl.tensor(rng.integers(0, sizes[-1], local))) for _ in range(4)]
    minidl.manual_seed(0)
    model = nn.MLP(list(sizes))
    net = nn.parallel.DistributedDataParallel(model, bucket_cap_mb=bucket_cap_mb) if sync == "ddp" else model
    params = list(model.parameters())
    opt = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    wait = 0.0

    def step(i: int) -> float:
        x, y = batches[i % len(batches)]
        opt.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        spent = 0.0
        if sync == "ddp":
            spent = net.last_comm_wait_s
        elif sync == "after_backward" and world > 1:
            start = time.perf_counter()
            for p in params:
                pg.all_reduce(p.grad, pg.ReduceOp.AVG)
            spent = time.perf_counter() - start
        opt.step()
        return spent

    for i in range(warmup):
        step(i)
    per_round, waits = [], []
    for _ in range(rounds):
        pg.barrier()
        start, wait = time.perf_counter(), 0.0
        for i in range(steps):
            wait += step(i)
        pg.barrier()
        per_round.append(time.perf_counter() - start)
        waits.append(wait / steps)
    seconds = statistics.median(per_round)
    return {"world_size": world, "sync": sync, "bucket_cap_mb": bucket_cap_mb, "steps": steps,
            "samples_per_second": global_batch * steps / seconds, "seconds_per_step": seconds / steps,
            "comm_wait_per_step_s": statistics.median(waits),
            "buckets": len(getattr(net, "_buckets", []))}


def train_digits(epochs: int = 5, global_batch: int = 64, sizes: Sequence[int] = (64, 256, 256, 10),
                 lr: float = 0.05) -> dict[str, Any]:
    """Inside an MPI job (or a world of one): DDP training on digits; every rank sees the same global batches."""
    import minidl
    from minidl import nn, optim
    from minidl.data import DataLoader, DistributedSampler, load_digits
    from minidl.distributed import process_group as pg
    from minidl.train import evaluate, fit

    rank, world = pg.get_rank(), pg.get_world_size()
    if global_batch % world:
        raise ValueError(f"the global batch ({global_batch}) must split evenly over {world} ranks")
    train, test = load_digits("train", dtype="float64"), load_digits("test", dtype="float64")
    minidl.manual_seed(rank)  # different starts: DDP broadcasts rank 0's
    model = nn.parallel.DistributedDataParallel(nn.MLP(list(sizes)).double())
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loader = DataLoader(train, global_batch // world, sampler=DistributedSampler(train, seed=0))
    pg.barrier()
    start = time.perf_counter()
    fit(model, nn.functional.cross_entropy, opt, loader, epochs=epochs, progress=False)
    pg.barrier()
    seconds = time.perf_counter() - start
    accuracy = evaluate(model, DataLoader(test, 512))["accuracy"]
    weights = np.concatenate([p.data.ravel() for p in model.parameters()])
    return {"world_size": world, "seconds": seconds, "samples_per_second": epochs * len(train) / seconds,
            "test_accuracy": accuracy, "weights": weights.tolist()}


def measure(n: int, kind: str, args: Sequence[str] = (), timeout: float = 600,
            blas_threads: int | None = 1) -> dict[str, Any]:
    """Run ``kind`` on ``n`` processes (``n=1``: plain Python, no mpiexec) and return rank 0's numbers."""
    import os
    import subprocess

    from minidl.distributed.launch import mpiexec_env, run_mpiexec

    argv = ["-m", "minidl.ddp.measure", kind, *args]
    if n == 1:
        proc = subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=timeout,
                              env=mpiexec_env(None, blas_threads), cwd=os.getcwd())
    else:
        proc = run_mpiexec(n, argv, timeout=timeout, blas_threads=blas_threads)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"the {n}-process '{kind}' measurement failed ({proc.returncode}):\n"
                           f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return json.loads(lines[-1])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minidl.ddp.measure")
    sub = parser.add_subparsers(dest="kind", required=True)
    a = sub.add_parser("allreduce")
    a.add_argument("--sizes", type=int, nargs="+", default=[4096 * 4**k for k in range(7)])
    a.add_argument("--rounds", type=int, default=7)
    t = sub.add_parser("train")
    t.add_argument("--sync", choices=["ddp", "after_backward", "none"], default="ddp")
    t.add_argument("--steps", type=int, default=40)
    t.add_argument("--rounds", type=int, default=3)
    t.add_argument("--bucket-cap-mb", type=float, default=25)
    t.add_argument("--global-batch", type=int, default=256)
    d = sub.add_parser("digits")
    d.add_argument("--epochs", type=int, default=5)
    d.add_argument("--global-batch", type=int, default=64)
    args = parser.parse_args(argv)
    from minidl.distributed import process_group as pg
    from minidl.threads import blas_threads

    pg.init_process_group("mpi")
    with blas_threads(None):  # the launcher's environment (OMP/OPENBLAS_NUM_THREADS) decides
        if args.kind == "allreduce":
            result = time_allreduce(args.sizes, args.rounds)
        elif args.kind == "digits":
            result = train_digits(args.epochs, args.global_batch)
        else:
            result = time_training(args.sync, args.steps, global_batch=args.global_batch,
                                   bucket_cap_mb=args.bucket_cap_mb, rounds=args.rounds)
    if pg.get_rank() == 0:
        print(json.dumps(result), flush=True)
    pg.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
