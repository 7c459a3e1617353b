"""Data-parallel training on MPI: all-reduce time against message size (MPI's and the ring's),
the MNIST MLP's training throughput on 2 ranks against one process, the time each step waits
for communication with and without DistributedDataParallel's buckets, and the accuracy at
equal global batch and epochs. The benchmark starts ``mpiexec`` itself (through
:func:`minidl.ddp.measure.measure`); every row comes from separate processes, so the
rounds alternate between the cases (A B C A B C …) and each number is a median."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.harness import Section, fmt_time

ROOT = Path(__file__).resolve().parents[1]
RING_TARGET = 1.3  # the ring within 1.3× of MPI's Allreduce time from 1 MB up
SPEEDUP_TARGET = 1.5  # 2 ranks ≥ 1.5× the samples/s of one process with one BLAS thread
SIZES = [4096 * 4**k for k in range(7)]  # 4 KB … 16 MB


def _size(nbytes: int) -> str:
    return f"{nbytes // 2**20} MB" if nbytes >= 2**20 else f"{nbytes // 1024} KB"


def allreduce_rows(quick: bool) -> tuple[list[list[str]], list[str]]:
    from minidl.ddp.measure import measure
    from minidl.distributed.ring import ring_bytes_per_rank

    r = measure(2, "allreduce", ["--rounds", "3" if quick else "9"])
    rows, worst = [], 0.0
    for nbytes, mpi, ring in zip(r["sizes_bytes"], r["mpi_s"], r["ring_s"]):
        ratio = ring / mpi
        if nbytes >= 2**20:
            worst = max(worst, ratio)
        rows.append([f"all-reduce {_size(nbytes)}, 2 ranks", "MPI Allreduce", fmt_time(mpi),
                     f"{nbytes / mpi / 1e9:.2f} GB/s", "1.00×"])
        rows.append([f"all-reduce {_size(nbytes)}, 2 ranks", "ring (Sendrecv)", fmt_time(ring),
                     f"{nbytes / ring / 1e9:.2f} GB/s", f"{ratio:.2f}×"])
    notes = [f"target: the ring within {RING_TARGET}× of MPI's time from 1 MB up; measured at most {worst:.2f}× "
             f"({'met' if worst <= RING_TARGET else 'not met'})",
             "GB/s is message bytes / time (algorithm bandwidth); the ring sends "
             f"2(N−1)/N · bytes per rank = {ring_bytes_per_rank(1, 2):.0f}× the message on 2 ranks"]
    return rows, notes


CASES = {  # name -> (processes, BLAS threads per process, measure.py arguments)
    "1 process, 1 BLAS thread": (1, 1, ["--sync", "none"]),
    "1 process, 2 BLAS threads": (1, 2, ["--sync", "none"]),
    "2 ranks, DDP buckets of 0.25 MB (overlapped)": (2, 1, ["--sync", "ddp", "--bucket-cap-mb", "0.25"]),
    "2 ranks, DDP one 25 MB bucket (no overlap)": (2, 1, ["--sync", "ddp", "--bucket-cap-mb", "25"]),
    "2 ranks, all-reduce per parameter after backward": (2, 1, ["--sync", "after_backward"]),
    "2 ranks, no averaging (compute only)": (2, 1, ["--sync", "none"]),
}


def training_rows(quick: bool) -> tuple[list[list[str]], list[str]]:
    from minidl.ddp.measure import measure

    rounds = 1 if quick else 3
    steps = ["--steps", "15" if quick else "40", "--rounds", "2" if quick else "3"]
    runs: dict[str, list[dict]] = {name: [] for name in CASES}
    for _ in range(rounds):
        for name, (n, threads, args) in CASES.items():
            runs[name].append(measure(n, "train", [*args, *steps], blas_threads=threads))
    med = {name: {k: statistics.median(r[k] for r in rs) for k in ("samples_per_second", "seconds_per_step",
                                                                      "comm_wait_per_step_s")}
           for name, rs in runs.items()}
    base = med["1 process, 1 BLAS thread"]["samples_per_second"]
    rows = []
    for name, m in med.items():
        wait = fmt_time(m["comm_wait_per_step_s"]) if name.startswith("2 ranks") else "—"
        rows.append([f"MLP 784-256-128-10, global batch 256: {name}", fmt_time(m["seconds_per_step"]),
                     f"{m['samples_per_second']:,.0f} samples/s", f"waits {wait}/step",
                     f"{m['samples_per_second'] / base:.2f}×"])
    ddp = med["2 ranks, DDP buckets of 0.25 MB (overlapped)"]["samples_per_second"] / base
    notes = [f"target: 2 ranks ≥ {SPEEDUP_TARGET}× the samples/s of one process with one BLAS thread; "
             f"measured {ddp:.2f}× ({'met' if ddp >= SPEEDUP_TARGET else 'not met'})",
             "'waits' is the time a step spends blocked on communication after backward: for DDP the wait "
             "for the buckets still in flight when backward ends, for the per-parameter case every all-reduce",
             f"medians of {rounds} interleaved round(s) of separate processes; random MNIST-shaped data "
             "(throughput does not depend on the pixels)"]
    return rows, notes


def accuracy_rows(quick: bool) -> tuple[list[list[str]], list[str]]:
    from minidl.distributed.launch import mpiexec_env, run_mpiexec

    data = ROOT.parent / "shared" / "data"
    if not (data / "mnist").is_dir():
        return [], [f"accuracy rows skipped: MNIST not found at {data}"]
    args = ["--data-dir", str(data), "--epochs", "1" if quick else "3"] + (["--limit", "10000"] if quick else [])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (1, 2):
            out = Path(tmp) / f"{n}.json"
            argv = [str(ROOT / "examples" / "ddp_mnist.py"), *args, "--json", str(out)]
            if n == 1:
                proc = subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=900,
                                      env=mpiexec_env(None, 1))
            else:
                proc = run_mpiexec(n, argv, timeout=900)
            if proc.returncode != 0:
                raise RuntimeError(f"ddp_mnist on {n} rank(s) failed:\n{proc.stderr[-2000:]}")
            r = json.loads(out.read_text())
            rows.append([f"MNIST MLP, global batch 256, {r['epochs']} epoch(s): {n} process(es)",
                         f"{r['train_seconds']:.1f} s", f"{r['samples_per_second']:,.0f} samples/s",
                         f"test accuracy {r['test_accuracy']:.2%}", ""])
    return rows, ["same global batches in both runs (DistributedSampler splits each global batch); "
                  "accuracy differs only by float32 summation order"]


def run(quick: bool = False) -> Section:
    from minidl.distributed.launch import mpi_ready

    ok, why = mpi_ready()
    header = ["case", "median", "throughput", "communication", "vs first row of the case"]
    if not ok:
        return Section(title="Data-parallel training on MPI", header=header, rows=[],
                       notes=[f"skipped: {why}"])
    rows, notes = [], []
    for part in (allreduce_rows, training_rows, accuracy_rows):
        r, n = part(quick)
        rows += r
        notes += n
    notes.append("one machine's 2 cores, shared with whatever else runs: the ranks and the one-process "
                 "baseline compete for the same cores, so 2 ranks can reach 2× only on an idle machine")
    return Section(title="Data-parallel training on MPI (2 ranks)", header=header, rows=rows, notes=notes)
