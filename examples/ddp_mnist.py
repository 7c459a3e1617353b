"""Data-parallel training of the MNIST MLP (784-256-128-10) on MPI: one script, any number of processes.

    python examples/ddp_mnist.py                           # one process: a world of one
    mpiexec -n 2 python examples/ddp_mnist.py              # two processes on this machine
    make ddp N=2                                           # the same, through make
    mpiexec -f hosts -n 8 python examples/ddp_mnist.py     # eight processes on the machines in `hosts`

Every rank builds the model (from a different seed, on purpose: DistributedDataParallel
broadcasts rank 0's weights), reads its share of each epoch through a DistributedSampler, and
averages its gradients with the others during ``backward()``. The global batch (256) is split
between the ranks, so 1, 2 or 8 processes see the same batches and — up to float32 rounding —
train the same model; rank 0 reports.

MNIST is read by :func:`minidl.data.load_mnist`: from ``--data-dir`` (default: ``../shared/data``
beside the repository when it exists), else ``$MINIDL_DATA``, else the user cache (downloaded
on first use).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
SIZES = [784, 256, 128, 10]


def default_data_dir() -> Path | None:
    shared = Path(__file__).resolve().parents[2] / "shared" / "data"
    return shared if (shared / "mnist").is_dir() else None


def mnist(split: str, data_dir: Path | None, limit: int | None = None) -> Any:
    from minidl.data import load_mnist

    dataset = load_mnist(split, root=data_dir, download=data_dir is None)
    if limit is not None:
        dataset = dataset.subset(slice(0, limit))
    return dataset.map(lambda x: (x - MNIST_MEAN) * (1 / MNIST_STD))


def train(data_dir: Path | None, epochs: int = 5, global_batch: int = 256, lr: float = 0.1,
          momentum: float = 0.9, seed: int = 0, limit: int | None = None, bucket_cap_mb: float = 25,
          echo=print) -> dict:
    """Train with DistributedDataParallel on however many ranks this process group has."""
    import minidl
    import minidl.distributed as dist
    from minidl import nn, optim
    from minidl.data import DataLoader, DistributedSampler
    from minidl.train import evaluate, fit

    if not dist.is_initialized():
        dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    if global_batch % world:
        raise ValueError(f"the global batch ({global_batch}) must split evenly over {world} ranks")
    say = echo if rank == 0 else (lambda *a, **k: None)

    train_set, test_set = mnist("trainval", data_dir, limit), mnist("test", data_dir)
    minidl.manual_seed(seed + rank)  # different starts on purpose: DDP makes rank 0's the common one
    model = nn.parallel.DistributedDataParallel(nn.MLP(SIZES), bucket_cap_mb=bucket_cap_mb)
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    sampler = DistributedSampler(train_set, seed=seed)
    loader = DataLoader(train_set, batch_size=global_batch // world, sampler=sampler)
    waits: list[float] = []

    def report(epoch: int, history: Any) -> None:
        loss = minidl.tensor([history.train_loss[-1]], dtype=minidl.float64)
        dist.all_reduce(loss, dist.ReduceOp.AVG)  # the ranks' mean training loss
        say(f"epoch {epoch + 1}/{epochs}: train loss {loss.item():.4f}, "
            f"{len(train_set) / history.seconds[-1]:,.0f} samples/s over {world} rank(s)")

    say(f"MLP {'-'.join(map(str, SIZES))} on MNIST, {world} rank(s), global batch {global_batch} "
        f"({global_batch // world} per rank), SGD lr={lr} momentum={momentum}, {epochs} epochs")
    history = fit(model, nn.functional.cross_entropy, optimizer, loader, epochs=epochs, progress=False,
                  on_step_end=lambda step: waits.append(model.last_comm_wait_s), on_epoch_end=report)
    result = evaluate(model, DataLoader(test_set, batch_size=1000), nn.functional.cross_entropy)
    weights = [p.data.ravel() for p in model.parameters()]
    spread = 0.0
    if world > 1:  # every rank must hold the same weights, bit for bit
        import numpy as np

        mine = np.concatenate(weights)
        spread = max(float(np.abs(w - mine).max()) for w in dist.all_gather_object(mine))
    seconds = sum(history.seconds)
    return {"world_size": world, "test_accuracy": result["accuracy"], "test_loss": result["loss"],
            "epochs": epochs, "global_batch": global_batch, "lr": lr, "train_seconds": round(seconds, 2),
            "samples_per_second": round(epochs * len(train_set) / seconds, 1), "steps": history.steps,
            "mean_comm_wait_ms": round(1000 * sum(waits) / max(len(waits), 1), 3),
            "max_weight_difference_between_ranks": spread}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--global-batch", type=int, default=256)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="use only the first N training images")
    parser.add_argument("--bucket-cap-mb", type=float, default=25)
    parser.add_argument("--blas-threads", type=int, default=1, metavar="N",
                        help="BLAS threads per rank (default 1: the ranks share the cores)")
    parser.add_argument("--json", type=Path, help="rank 0 also writes the numbers to this file")
    args = parser.parse_args(argv)
    import minidl.distributed as dist
    from minidl.data import DatasetNotAvailableError
    from minidl.threads import blas_threads

    dist.init_process_group("mpi")
    try:
        with blas_threads(args.blas_threads or None):
            start = time.perf_counter()
            result = train(args.data_dir, args.epochs, args.global_batch, args.lr, seed=args.seed,
                           limit=args.limit, bucket_cap_mb=args.bucket_cap_mb)
    except DatasetNotAvailableError as e:
        print(f"ddp_mnist: {e}", file=sys.stderr)
        return 2
    if dist.get_rank() == 0:
        print(f"test accuracy {result['test_accuracy']:.2%} on {result['world_size']} rank(s), "
              f"{result['samples_per_second']:,.0f} samples/s, {time.perf_counter() - start:.0f} s in all; "
              f"ranks' weights differ by at most {result['max_weight_difference_between_ranks']:g}")
        if args.json:
            args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere in the repo
    sys.exit(main())
