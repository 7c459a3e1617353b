"""The ring all-reduce, written out: what MPI's ``Allreduce`` does for large messages.

P ranks stand in a ring (rank r sends to r+1 and receives from r−1, mod P) and each cuts its
array into P chunks. Two phases of P−1 steps each:

1. **reduce-scatter**: at step s rank r sends chunk (r − s) mod P and adds the chunk
   (r − s − 1) mod P it receives into its own. After P−1 steps rank r holds chunk
   (r + 1) mod P summed over all ranks.
2. **all-gather**: at step s rank r sends chunk (r + 1 − s) mod P and overwrites chunk
   (r − s) mod P with the one it receives. After P−1 steps every rank holds every sum.

Each rank sends 2(P−1) chunks of n/P bytes — :func:`ring_bytes_per_rank` — almost 2n
whatever P is, which is why the ring scales: the time per all-reduce stays flat as workers
are added (until latency, 2(P−1) messages, dominates; see :mod:`minidl.distributed.cost_model`).

:func:`ring_all_reduce` runs it over MPI point-to-point ``Sendrecv``;
:func:`simulate_ring_all_reduce` runs the same schedule on P arrays in one process (the
lesson's figure, and the fallback without MPI). Both take their steps from
:func:`ring_schedule`, so they cannot drift apart.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minidl.distributed import process_group as pg


def ring_bytes_per_rank(nbytes: int, world_size: int) -> float:
    """Bytes each rank sends in a ring all-reduce of ``nbytes``: 2(P−1)/P · nbytes."""
    if world_size < 1:
        raise ValueError(f"world_size must be >= 1 (got {world_size})")
    return 2.0 * (world_size - 1) / world_size * nbytes


def ring_schedule(rank: int, world_size: int, phase: str, step: int) -> tuple[int, int]:
    """(chunk rank ``rank`` sends, chunk it receives) at ``step`` of ``phase``.

    phase "reduce_scatter": send (r − s) mod P, receive (r − s − 1) mod P (and add it);
    phase "all_gather":     send (r + 1 − s) mod P, receive (r − s) mod P (and keep it).
    """
    n = world_size
    if phase == "reduce_scatter":
        return (rank - step) % n, (rank - step - 1) % n
    if phase == "all_gather":
        return (rank + 1 - step) % n, (rank - step) % n
    raise ValueError(f"phase must be 'reduce_scatter' or 'all_gather' (got {phase!r})")


def _chunk_bounds(size: int, world_size: int) -> list[tuple[int, int]]:
    """np.array_split's boundaries: the first size % P chunks are one element longer."""
    base, extra = divmod(size, world_size)
    bounds, start = [], 0
    for i in range(world_size):
        stop = start + base + (1 if i < extra else 0)
        bounds.append((start, stop))
        start = stop
    return bounds


def ring_all_reduce(tensor: Any, comm: Any = None, counter: dict[str, int] | None = None) -> Any:
    """Sum ``tensor`` (a Tensor or a C-contiguous NumPy array) over all ranks, in place, by the ring.

    Equals ``all_reduce(tensor, ReduceOp.SUM)`` up to the order of the additions, and gives
    every rank the very same bits (each chunk is summed once, on one rank, then copied).
    ``counter["bytes_sent"]``, when a dict is given, adds up the bytes this rank sent.
    """
    if comm is None:
        comm = pg.comm()
    a = tensor.data if hasattr(tensor, "grad_fn") else tensor
    if not isinstance(a, np.ndarray) or not a.flags.c_contiguous:
        raise TypeError("ring_all_reduce takes a Tensor or a C-contiguous NumPy array on the CPU")
    n = 1 if comm is None else comm.Get_size()
    if n == 1:
        return tensor
    rank = comm.Get_rank()
    flat = a.reshape(-1)
    bounds = _chunk_bounds(flat.size, n)
    scratch = np.empty(bounds[0][1] - bounds[0][0], dtype=a.dtype)  # host: MPI receive buffer
    right, left = (rank + 1) % n, (rank - 1) % n
    for phase in ("reduce_scatter", "all_gather"):
        for step in range(n - 1):
            send, recv = ring_schedule(rank, n, phase, step)
            (s0, s1), (r0, r1) = bounds[send], bounds[recv]
            # reduce-scatter receives aside and adds; all-gather receives straight into place
            incoming = scratch[:r1 - r0] if phase == "reduce_scatter" else flat[r0:r1]
            comm.Sendrecv(flat[s0:s1], dest=right, sendtag=step, recvbuf=incoming, source=left, recvtag=step)
            if counter is not None:
                counter["bytes_sent"] = counter.get("bytes_sent", 0) + flat[s0:s1].nbytes
            if phase == "reduce_scatter":
                flat[r0:r1] += incoming
    return tensor


def simulate_ring_all_reduce(arrays: list[np.ndarray], record: bool = False,
                             counter: dict[str, int] | None = None) -> Any:
    """Run the ring on P arrays in one process (P simulated ranks); returns the reduced arrays.

    With ``record=True`` also returns a list of snapshots, one per step: (phase, step,
    [per-rank copies]) — what the lesson draws. ``counter["bytes_sent"]`` adds up the bytes
    rank 0 sent.
    """
    n = len(arrays)
    flats = [np.array(a, dtype=np.result_type(*arrays), copy=True).reshape(-1) for a in arrays]  # host
    bounds = _chunk_bounds(flats[0].size, n)
    frames = [("start", 0, [f.copy() for f in flats])]
    for phase in ("reduce_scatter", "all_gather"):
        for step in range(n - 1):
            sent = []
            for rank in range(n):  # every rank sends at once: copy before anyone receives
                c = ring_schedule(rank, n, phase, step)[0]
                sent.append(flats[rank][bounds[c][0]:bounds[c][1]].copy())
            if counter is not None:
                counter["bytes_sent"] = counter.get("bytes_sent", 0) + sent[0].nbytes
            for rank in range(n):
                r0, r1 = bounds[ring_schedule(rank, n, phase, step)[1]]
                incoming = sent[(rank - 1) % n]
                if phase == "reduce_scatter":
                    flats[rank][r0:r1] += incoming
                else:
                    flats[rank][r0:r1] = incoming
            frames.append((phase, step, [f.copy() for f in flats]))
    out = [f.reshape(np.shape(arrays[0])) for f in flats]
    return (out, frames) if record else out
