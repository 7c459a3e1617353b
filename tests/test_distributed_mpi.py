"""The real thing: pytest starts ``mpiexec -n 2`` and ``-n 3`` running this file's workers.

Each worker (the bottom half of this file, run as ``python tests/test_distributed_mpi.py
WORKER``) checks on every rank, and rank 0 prints one JSON line per rank; the tests read them. Every
launch has a timeout (MPI's own and the subprocess's), so a broken collective fails a test
instead of hanging the suite.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve()
TIMEOUT = 120  # seconds; the jobs take a few seconds, far more only on a heavily loaded machine


def _launch(n: int, worker: str, timeout: float = TIMEOUT):
    from minidl.distributed.launch import mpi_ready, run_mpiexec

    ok, why = mpi_ready()
    if not ok:
        pytest.skip(why)
    return run_mpiexec(n, [str(HERE), worker], timeout=timeout)


def _rank_reports(proc) -> list[dict]:
    assert proc.returncode == 0, f"mpiexec failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return sorted(lines, key=lambda r: r["rank"])


@pytest.fixture(scope="module", params=[2, 3], ids=["2 ranks", "3 ranks"])
def reports(request) -> list[dict]:
    reports = _rank_reports(_launch(request.param, "checks"))
    assert [r["rank"] for r in reports] == list(range(request.param))
    return reports


def test_collectives(reports):
    for r in reports:
        assert r["collectives_ok"], r


def test_ring_all_reduce_equals_mpi_allreduce_and_gives_every_rank_the_same_bits(reports):
    for r in reports:
        assert r["ring_vs_mpi_max_abs_diff"] < 1e-12
        n = len(reports)  # the traffic formula, measured: 2(N−1)/N · bytes sent by each rank
        assert r["ring_bytes_sent_for_9600"] == 2 * (n - 1) / n * 9600
    assert len({r["ring_digest"] for r in reports}) == 1


@pytest.mark.parametrize("case", ["sgd_momentum", "adam", "no_sync_accumulation", "pruned"])
def test_ddp_equals_one_process_on_the_global_batch(reports, case):
    for r in reports:
        eq = r["equivalence"][case]
        assert eq["max_diff_to_single_process"] < 1e-10, eq
        assert eq["started_different"], "the ranks should start from different initializations"
        assert eq["max_spread_between_ranks"] < 1e-14, eq  # identical weights after every step


def test_ddp_trains_qat_modules_with_every_rank_identical(reports):
    for r in reports:
        assert r["qat_spread_between_ranks"] == 0.0 and r["qat_steps"] == 3


def test_ddp_refuses_models_whose_parameters_differ_across_ranks(reports):
    for r in reports:
        msg = r["shape_mismatch_error"]
        assert "parameter #0" in msg and "'weight'" in msg and "(2, 4)" in msg and "(3, 4)" in msg, msg


def test_a_parameter_without_gradient_is_named_at_the_next_forward(reports):
    for r in reports:
        msg = r["unused_parameter_error"]
        assert "did not produce gradients" in msg and "'unused.weight'" in msg, msg


def test_sampler_refuses_datasets_of_different_lengths_across_ranks(reports):
    for r in reports:
        assert "differ in length" in r["length_mismatch_error"], r


def test_an_exception_on_rank_1_aborts_the_job_with_its_traceback():
    start = time.perf_counter()
    proc = _launch(2, "raise_on_rank_1", timeout=60)
    seconds = time.perf_counter() - start
    assert proc.returncode != 0
    assert "[rank 1] uncaught exception" in proc.stderr and "deliberate failure on rank 1" in proc.stderr
    assert "Traceback" in proc.stderr
    assert seconds < 45, f"the job took {seconds:.1f} s to die (MPI's timeout, not the abort, ended it?)"


def test_minidl_ddp_trains_the_same_weights_on_two_processes_as_on_one():
    from minidl.ddp.demo import run_demo
    from minidl.distributed.launch import mpi_ready

    ok, why = mpi_ready()
    if not ok:
        pytest.skip(why)
    lines: list[str] = []
    assert run_demo(2, epochs=1, echo=lines.append) == 0, lines
    assert "final weights differ by" in lines[-1] and "speed-up" in lines[-1]


# ---------------------------------------------------------------------------------------------
# The workers: run under mpiexec; rank 0 prints one JSON line per rank.

def _model(seed: int, out: int = 3):
    import minidl
    from minidl import nn

    minidl.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, out))


def _flat(model) -> np.ndarray:
    return np.concatenate([p.data.ravel() for p in model.parameters()])


def _equivalence(case: str, steps: int = 5, batch: int = 8) -> dict:
    """DDP with local batch B vs one process on the global batch N·B, after every step."""
    import minidl
    import minidl.distributed as dist
    from minidl import nn, optim
    from minidl.data import ArrayDataset, DataLoader, DistributedSampler

    rank, world = dist.get_rank(), dist.get_world_size()
    micro = 2 if case == "no_sync_accumulation" else 1
    rng = np.random.default_rng(0)
    n = world * batch * steps * micro
    data = ArrayDataset(rng.normal(size=(n, 6)), rng.integers(0, 3, size=n))

    model = _model(100 + rank)  # every rank starts elsewhere: DDP must broadcast rank 0's
    reference = _model(100)  # rank 0's initialization, trained alone on the global batch
    if case == "pruned":  # each rank's own mask: DDP must broadcast rank 0's (a buffer) too
        from minidl.compress import prune

        for m in (model, reference):
            prune.l1_unstructured(m[0], "weight", 0.5)
            prune.l1_unstructured(m[2], "weight", 0.3)
    gathered = dist.all_gather_object(_flat(model))
    started_different = not np.array_equal(gathered[0], gathered[-1])
    ddp = nn.parallel.DistributedDataParallel(model, bucket_cap_mb=0.0005)  # several buckets
    make = (lambda p: optim.Adam(p, lr=0.01)) if case == "adam" else (lambda p: optim.SGD(p, lr=0.1, momentum=0.9))
    opt, ref_opt = make(ddp.parameters()), make(reference.parameters())
    loss_fn = nn.CrossEntropyLoss()

    sampler = DistributedSampler(data, shuffle=True, seed=7)
    loader = DataLoader(data, batch_size=batch, sampler=sampler)
    every = [DistributedSampler(data, num_replicas=world, rank=r, shuffle=True, seed=7).indices()
             for r in range(world)]
    diff, spread = 0.0, 0.0
    batches = iter(loader)
    for step in range(steps):
        opt.zero_grad()
        for m in range(micro):
            x, y = next(batches)
            loss = loss_fn(ddp(x), y) / micro
            if m < micro - 1:
                with ddp.no_sync():
                    loss.backward()
            else:
                loss.backward()
        opt.step()
        k = step * micro
        idx = np.concatenate([ix[k * batch:(k + micro) * batch] for ix in every])
        ref_opt.zero_grad()
        xg, yg = data[idx]
        loss_fn(reference(minidl.Tensor(xg)), minidl.Tensor(yg)).backward()
        ref_opt.step()
        diff = max(diff, float(np.abs(_flat(model) - _flat(reference)).max()))
        everyone = dist.all_gather_object(_flat(model))
        spread = max(spread, max(float(np.abs(w - everyone[0]).max()) for w in everyone))
    return {"max_diff_to_single_process": diff, "max_spread_between_ranks": spread,
            "started_different": started_different}


def _qat() -> tuple[float, int]:
    """A QAT model under DDP: it trains, and every rank holds the same weights after each step."""
    import minidl
    import minidl.distributed as dist
    from minidl import nn, optim
    from minidl.compress.quantize import prepare_qat

    rank = dist.get_rank()
    minidl.set_default_dtype(minidl.float32)
    try:
        qat = prepare_qat(nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3)))
        ddp = nn.parallel.DistributedDataParallel(qat)
        opt = optim.SGD(ddp.parameters(), lr=0.1)
        rng = np.random.default_rng(rank)
        spread, steps = 0.0, 0
        for _ in range(3):
            x = minidl.tensor(rng.normal(size=(8, 6)).astype(np.float32))
            y = minidl.tensor(rng.integers(0, 3, 8))
            opt.zero_grad()
            nn.functional.cross_entropy(ddp(x), y).backward()
            opt.step()
            steps += 1
            everyone = dist.all_gather_object(_flat(qat))
            spread = max(spread, max(float(np.abs(w - everyone[0]).max()) for w in everyone))
    finally:
        minidl.set_default_dtype(minidl.float64)
    return spread, steps


def _unused_parameter() -> str:
    """A parameter that takes no part in the loss leaves its bucket waiting: the next forward says so."""
    import minidl
    from minidl import nn

    class Branchy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.used = nn.Linear(4, 2)
            self.unused = nn.Linear(4, 2)

        def forward(self, x):
            return self.used(x)

    ddp = nn.parallel.DistributedDataParallel(Branchy(), bucket_cap_mb=1e-5)
    ddp(minidl.randn(3, 4)).sum().backward()
    try:
        ddp(minidl.randn(3, 4))
    except RuntimeError as e:
        return str(e)
    return ""


def _collectives_ok() -> bool:
    import minidl
    import minidl.distributed as dist

    rank, world = dist.get_rank(), dist.get_world_size()
    t = minidl.Tensor(np.arange(4.0) + rank)
    ok = True
    for op, want in ((dist.ReduceOp.SUM, sum(np.arange(4.0) + r for r in range(world))),
                     (dist.ReduceOp.AVG, np.mean([np.arange(4.0) + r for r in range(world)], axis=0)),
                     (dist.ReduceOp.MAX, np.arange(4.0) + world - 1), (dist.ReduceOp.MIN, np.arange(4.0))):
        a = np.arange(4.0) + rank
        dist.all_reduce(a, op=op)
        ok &= np.allclose(a, want)
    dist.all_reduce(t)
    ok &= np.allclose(t.data, sum(np.arange(4.0) + r for r in range(world)))
    b = np.full(3, float(rank))
    dist.broadcast(b, src=world - 1)
    ok &= np.all(b == world - 1)
    out = [np.zeros(2) for _ in range(world)]
    dist.all_gather(out, np.array([rank, 2.0 * rank]))
    ok &= all(np.array_equal(o, [r, 2.0 * r]) for r, o in enumerate(out))
    dist.barrier()
    return bool(ok)


def _ring_bytes() -> int:
    import minidl.distributed as dist

    counter: dict[str, int] = {}
    dist.ring_all_reduce(np.ones(1200), counter=counter)  # 9600 bytes, divisible by 2 and 3 ranks
    return counter["bytes_sent"]


def _ring() -> tuple[float, str]:
    import hashlib

    import minidl.distributed as dist

    rng = np.random.default_rng(dist.get_rank())
    worst, digest = 0.0, hashlib.sha256()
    for size in (1, 2, 5, 1000, 4099):  # fewer elements than ranks, and sizes N does not divide
        a = rng.normal(size=size)
        b = a.copy()
        dist.ring_all_reduce(a)
        dist.all_reduce(b)
        worst = max(worst, float(np.abs(a - b).max()))
        digest.update(a.tobytes())
    return worst, digest.hexdigest()


def _refusals() -> tuple[str, str]:
    import minidl.distributed as dist
    from minidl import nn
    from minidl.data import ArrayDataset, DistributedSampler

    rank = dist.get_rank()
    shape_error = length_error = ""
    try:
        nn.parallel.DistributedDataParallel(nn.Linear(4, 3 if rank == 1 else 2))
    except ValueError as e:
        shape_error = str(e)
    n = 10 if rank == 1 else 12
    try:
        DistributedSampler(ArrayDataset(np.zeros((n, 2)), np.zeros(n)))
    except ValueError as e:
        length_error = str(e)
    return shape_error, length_error


def _worker(name: str) -> None:
    import minidl
    import minidl.distributed as dist

    dist.init_process_group("mpi")
    rank = dist.get_rank()
    if name == "raise_on_rank_1":
        ddp = minidl.nn.parallel.DistributedDataParallel(_model(0))
        for step in range(1000):
            if rank == 1 and step == 2:
                raise RuntimeError("deliberate failure on rank 1")
            ddp(minidl.randn(4, 6)).sum().backward()  # rank 0 then waits in an all-reduce
        return
    minidl.set_default_dtype(minidl.float64)
    report = {"rank": rank, "collectives_ok": _collectives_ok()}
    report["ring_vs_mpi_max_abs_diff"], report["ring_digest"] = _ring()
    report["ring_bytes_sent_for_9600"] = _ring_bytes()
    report["equivalence"] = {case: _equivalence(case)
                             for case in ("sgd_momentum", "adam", "no_sync_accumulation", "pruned")}
    report["qat_spread_between_ranks"], report["qat_steps"] = _qat()
    report["shape_mismatch_error"], report["length_mismatch_error"] = _refusals()
    report["unused_parameter_error"] = _unused_parameter()
    everyone = dist.all_gather_object(report)  # one writer: the ranks' lines would interleave
    if rank == 0:
        print("\n".join(json.dumps(r) for r in everyone), flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    _worker(sys.argv[1])
