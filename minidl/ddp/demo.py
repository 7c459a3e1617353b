"""``minidl ddp -n 2``: the same training on one process and on N, timed and compared.

Both runs train an MLP in float64 on the bundled digits with the same global batches
(DistributedSampler splits each global batch between the ranks), so their final weights
agree to rounding — the equivalence DistributedDataParallel promises — and the ratio of
their times is what N processes buy on this machine.
"""

from __future__ import annotations

import numpy as np


def run_demo(n: int = 2, epochs: int = 5, global_batch: int = 64, echo=print) -> int:
    """Run the demonstration; returns a process exit status (0 when the runs agree)."""
    from minidl.ddp.measure import measure
    from minidl.distributed.launch import mpi_ready

    if n < 2:
        raise ValueError(f"-n must be at least 2 processes to compare with one (got {n})")
    ok, why = mpi_ready()
    if not ok:
        echo(f"minidl ddp: {why}")
        return 2
    args = ["--epochs", str(epochs), "--global-batch", str(global_batch)]
    echo(f"MLP 64-256-256-10 on digits, float64, global batch {global_batch}, {epochs} epochs")
    one = measure(1, "digits", args)
    echo(f"  1 process : {one['seconds']:6.2f} s, {one['samples_per_second']:8,.0f} samples/s, "
         f"test accuracy {one['test_accuracy']:.2%}")
    many = measure(n, "digits", args)
    echo(f"  {n} processes: {many['seconds']:6.2f} s, {many['samples_per_second']:8,.0f} samples/s, "
         f"test accuracy {many['test_accuracy']:.2%}")
    gap = float(np.abs(np.asarray(one["weights"]) - np.asarray(many["weights"])).max())  # host
    echo(f"speed-up {one['seconds'] / many['seconds']:.2f}× on {n} processes (this machine, as loaded now); "
         f"final weights differ by {gap:.1e} (float64 rounding: the same training)")
    return 0 if gap < 1e-8 else 1
