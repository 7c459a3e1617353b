"""The process group: which process am I (rank), how many are we (world size), and the
collectives that combine arrays across all of them — PyTorch's ``torch.distributed`` names,
on MPI through mpi4py.

Start a job with ``mpiexec -n 2 python script.py``: MPI starts two copies of the script,
and ``init_process_group("mpi")`` in each makes rank 0 and rank 1 of a world of 2. Run the
same script with plain ``python`` (or without mpi4py installed) and it is a world of one:
rank 0 of 1, every collective a no-op, so a laptop needs nothing extra.

Differences from PyTorch, on purpose:
- Collectives accept NumPy arrays as well as Tensors (a Tensor's ``.data`` is changed in place).
- ``init_process_group`` makes an uncaught exception on any rank print that rank's traceback
  and abort the whole job (``MPI_Abort``): the other ranks would otherwise wait forever in
  their next collective. PyTorch leaves this to its launcher's timeouts.
- Only the ``"mpi"`` backend; there is no ``async_op``: :class:`DistributedDataParallel` uses
  mpi4py's non-blocking ``Iallreduce`` directly.
"""

from __future__ import annotations

import enum
import sys
import traceback
from typing import Any

import numpy as np

from minidl.engine.tensor import Tensor


class ReduceOp(enum.Enum):
    """How :func:`all_reduce` combines the ranks' values (``torch.distributed.ReduceOp``)."""

    SUM = "sum"
    AVG = "avg"
    MAX = "max"
    MIN = "min"


class _Group:
    comm: Any = None  # mpi4py's COMM_WORLD, or None for a world of one without MPI
    rank = 0
    size = 1
    initialized = False
    previous_excepthook: Any = None


def is_available() -> bool:
    """True when mpi4py (and so an MPI library) can be imported."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return True


def init_process_group(backend: str = "mpi", **kwargs: Any) -> None:
    """Join the job's process group (every rank calls it once, before any collective).

    Under ``mpiexec`` rank and world size come from MPI; without MPI, a world of one. PyTorch's
    ``init_method``, ``world_size`` and ``rank`` are accepted only as MPI's own values would be
    (MPI, not the caller, decides them).
    """
    if _Group.initialized:
        raise RuntimeError("trying to initialize the default process group twice "
                           "(call destroy_process_group() first)")
    if backend != "mpi":
        raise ValueError(f"backend must be 'mpi' (got {backend!r}); minidl runs its processes on MPI")
    unknown = set(kwargs) - {"init_method", "world_size", "rank", "timeout"}
    if unknown:
        raise TypeError(f"init_process_group got unexpected arguments {sorted(unknown)}")
    comm = None
    if is_available():
        from mpi4py import MPI

        comm = MPI.COMM_WORLD
    rank, size = (comm.Get_rank(), comm.Get_size()) if comm is not None else (0, 1)
    for name, value in (("world_size", size), ("rank", rank)):
        if kwargs.get(name) not in (None, -1, value):
            raise ValueError(f"init_process_group: {name}={kwargs[name]} but MPI started this process "
                             f"with {name}={value} (mpiexec -n sets the world size)")
    _Group.comm, _Group.rank, _Group.size, _Group.initialized = comm, rank, size, True
    if size > 1:
        _install_abort_on_exception()


def is_initialized() -> bool:
    return _Group.initialized


def destroy_process_group() -> None:
    """Leave the process group (the MPI library itself stays up until the process exits)."""
    if _Group.previous_excepthook is not None:
        sys.excepthook = _Group.previous_excepthook
        _Group.previous_excepthook = None
    _Group.comm, _Group.rank, _Group.size, _Group.initialized = None, 0, 1, False


def _require_group(what: str) -> None:
    if not _Group.initialized:
        raise RuntimeError(f"{what}: the default process group has not been initialized; "
                           "call minidl.distributed.init_process_group() first")


def get_rank() -> int:
    """This process's number, 0 … world_size − 1."""
    _require_group("get_rank")
    return _Group.rank


def get_world_size() -> int:
    """How many processes the job has (``mpiexec -n``)."""
    _require_group("get_world_size")
    return _Group.size


def comm() -> Any:
    """mpi4py's communicator of the group (None in a world of one without MPI)."""
    _require_group("comm")
    return _Group.comm


def _install_abort_on_exception() -> None:
    """Print an uncaught exception with its rank, then abort every rank of the job.

    Without this, rank 1 dying leaves rank 0 waiting in its next collective forever.
    """
    previous = sys.excepthook
    _Group.previous_excepthook = previous
    world = _Group.comm
    rank = _Group.rank

    def abort_job(kind: type[BaseException], value: BaseException, tb: Any) -> None:
        text = "".join(traceback.format_exception(kind, value, tb))
        sys.stderr.write(f"[rank {rank}] uncaught exception, aborting the job:\n{text}")
        sys.stderr.flush()
        sys.stdout.flush()
        world.Abort(1)

    sys.excepthook = abort_job


def _host_buffer(x: Any, what: str) -> tuple[np.ndarray, bool]:
    """The array behind ``x`` and whether it must be copied back (not C-contiguous, or a scalar)."""
    a = x.data if isinstance(x, Tensor) else x
    if isinstance(x, Tensor) and isinstance(a, np.generic):  # a 0-d result NumPy handed back as a scalar
        return np.array(a), True  # host: MPI needs a buffer
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{what} takes a Tensor or a NumPy array on the CPU (got {type(a).__name__})")
    return (a, False) if a.flags.c_contiguous else (np.ascontiguousarray(a), True)


def _write_back(x: Any, a: np.ndarray) -> None:
    if isinstance(x, Tensor) and not isinstance(x.data, np.ndarray):
        x.data = a
    else:
        (x.data if isinstance(x, Tensor) else x)[...] = a


def _mpi_op(op: ReduceOp) -> Any:
    from mpi4py import MPI

    return {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.MAX: MPI.MAX, ReduceOp.MIN: MPI.MIN}[op]


def all_reduce(tensor: Any, op: ReduceOp = ReduceOp.SUM) -> Any:
    """Combine ``tensor`` across all ranks, in place: afterwards every rank holds the result.

    SUM: Σ_r x_r;  AVG: (1/N) Σ_r x_r;  MAX / MIN: elementwise over the ranks.
    """
    _require_group("all_reduce")
    if not isinstance(op, ReduceOp):
        raise TypeError(f"op must be a ReduceOp (got {op!r})")
    a, copied = _host_buffer(tensor, "all_reduce")
    if _Group.size > 1:
        from mpi4py import MPI

        _Group.comm.Allreduce(MPI.IN_PLACE, a, op=_mpi_op(op))
        if op is ReduceOp.AVG:
            a /= _Group.size  # MPI has no average: sum, then divide
    if copied:
        _write_back(tensor, a)
    return tensor


def broadcast(tensor: Any, src: int = 0) -> Any:
    """Overwrite ``tensor`` on every rank with rank ``src``'s values, in place."""
    _require_group("broadcast")
    if not 0 <= src < _Group.size:
        raise ValueError(f"src must be a rank in [0, {_Group.size}) (got {src})")
    a, copied = _host_buffer(tensor, "broadcast")
    if _Group.size > 1:
        _Group.comm.Bcast(a, root=src)
    if copied:
        _write_back(tensor, a)
    return tensor


def all_gather(tensor_list: list[Any], tensor: Any) -> list[Any]:
    """Fill ``tensor_list[r]`` with rank r's ``tensor`` on every rank (same shape everywhere)."""
    _require_group("all_gather")
    if len(tensor_list) != _Group.size:
        raise ValueError(f"all_gather: tensor_list needs world_size={_Group.size} entries (got {len(tensor_list)})")
    a, _ = _host_buffer(tensor, "all_gather")
    gathered = np.empty((_Group.size, *a.shape), dtype=a.dtype)  # host: an MPI receive buffer
    if _Group.size > 1:
        _Group.comm.Allgather(a, gathered)
    else:
        gathered[0] = a
    for r, out in enumerate(tensor_list):
        target = out.data if isinstance(out, Tensor) else out
        if tuple(target.shape) != a.shape:
            raise ValueError(f"all_gather: tensor_list[{r}] has shape {tuple(target.shape)}, "
                             f"the tensor has shape {a.shape}")
        target[...] = gathered[r]
    return tensor_list


def all_gather_object(obj: Any) -> list[Any]:
    """Every rank's ``obj`` (any picklable value), in rank order, on every rank.

    PyTorch's ``all_gather_object(object_list, obj)`` fills a list; this returns it.
    """
    _require_group("all_gather_object")
    return _Group.comm.allgather(obj) if _Group.size > 1 else [obj]


def barrier() -> None:
    """Wait until every rank has reached this line."""
    _require_group("barrier")
    if _Group.size > 1:
        _Group.comm.Barrier()
