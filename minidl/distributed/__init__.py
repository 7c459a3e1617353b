"""Data-parallel training across processes and machines, with ``torch.distributed``'s names, on MPI.

- The process group (:mod:`.process_group`): ``init_process_group``, ``is_initialized``,
  ``get_rank``, ``get_world_size``, ``destroy_process_group``, ``is_available``
- Collectives, in place on Tensors and NumPy arrays: ``all_reduce`` (``ReduceOp.SUM``, ``AVG``,
  ``MAX``, ``MIN``), ``broadcast``, ``all_gather``, ``all_gather_object``, ``barrier``
- The ring all-reduce written out (:mod:`.ring`): ``ring_all_reduce``, ``simulate_ring_all_reduce``,
  ``ring_schedule``, ``ring_bytes_per_rank``
- The α–β cost model (:mod:`.cost_model`): ``ring_allreduce_time``, ``tree_allreduce_time``,
  ``fit_alpha_beta``
- Large batches (:mod:`.large_batch`): ``linear_scaling_lr``, ``error_feedback_step``
- Starting jobs (:mod:`.launch`): ``run_mpiexec``, ``find_mpiexec``, ``mpi_ready``

``minidl.nn.parallel.DistributedDataParallel`` and ``minidl.data.DistributedSampler`` build on
these. The programs that train models on several processes (the MPI jobs that the benchmark,
lesson 12 and ``minidl ddp`` launch) live above every layer, in :mod:`minidl.ddp`.

Start a job with ``mpiexec -n 2 python script.py`` (or ``python -m minidl.distributed.launch -n 2
script.py``); plain ``python script.py`` is a world of one.
"""

from minidl.distributed.cost_model import fit_alpha_beta, ring_allreduce_time, tree_allreduce_time
from minidl.distributed.large_batch import error_feedback_step, linear_scaling_lr
from minidl.distributed.launch import find_mpiexec, mpi_ready, run_mpiexec
from minidl.distributed.process_group import (
    ReduceOp,
    all_gather,
    all_gather_object,
    all_reduce,
    barrier,
    broadcast,
    comm,
    destroy_process_group,
    get_rank,
    get_world_size,
    init_process_group,
    is_available,
    is_initialized,
)
from minidl.distributed.ring import ring_all_reduce, ring_bytes_per_rank, ring_schedule, simulate_ring_all_reduce

__all__ = [
    # the process group
    "init_process_group", "is_initialized", "is_available", "get_rank", "get_world_size",
    "destroy_process_group", "comm",
    # collectives
    "ReduceOp", "all_reduce", "broadcast", "all_gather", "all_gather_object", "barrier",
    # the ring, and its cost
    "ring_all_reduce", "simulate_ring_all_reduce", "ring_schedule", "ring_bytes_per_rank",
    "ring_allreduce_time", "tree_allreduce_time", "fit_alpha_beta",
    # large batches
    "linear_scaling_lr", "error_feedback_step",
    # starting jobs
    "run_mpiexec", "find_mpiexec", "mpi_ready",
]
