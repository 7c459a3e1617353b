"""``DistributedDataParallel``: the same model on every rank, gradients averaged during ``backward()``.

Each rank runs the model on its own slice of the global batch. Because the loss of a batch
is the mean of its samples' losses, the gradient of the global batch of N·B samples is the
mean of the N ranks' gradients of their B samples:

    ∇ (1/NB) Σ_{i ≤ NB} ℓ_i = (1/N) Σ_r ∇ (1/B) Σ_{i ∈ rank r} ℓ_i

so averaging gradients (an all-reduce, then ÷N) and stepping the same optimizer on every
rank keeps the ranks' weights identical and equal to one process training on the global
batch — up to the rounding of a different summation order.

How the averaging overlaps the backward pass, as PyTorch's DDP does: the parameters are
grouped into **buckets** of about ``bucket_cap_mb`` megabytes, in reverse order of
``parameters()`` (roughly the order backward produces their gradients). Each parameter has a
post-accumulate-grad hook (:meth:`minidl.Tensor.register_post_accumulate_grad_hook`); when
the last gradient of a bucket is ready, the bucket is copied into one flat buffer and a
non-blocking ``Iallreduce`` starts, while backward goes on computing earlier layers'
gradients. When the last bucket has started, the hook waits for all of them and writes the
averages back into ``.grad`` — before ``backward()`` returns. Buckets start in the same order
on every rank (MPI requires collectives to be called in one order everywhere).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any, Iterator

import numpy as np

from minidl.distributed import process_group as pg
from minidl.nn.module import Module, Parameter


class _Bucket:
    """Some parameters whose gradients travel together in one flat buffer."""

    def __init__(self, params: list[tuple[str, Parameter]]) -> None:
        self.names = [n for n, _ in params]
        self.params = [p for _, p in params]
        self.sizes = [p.data.size for p in self.params]
        self.offsets = np.cumsum([0, *self.sizes]).tolist()  # host: bookkeeping
        self.buffer = np.empty(self.offsets[-1], dtype=self.params[0].data.dtype)  # host: MPI buffer
        self.pending = len(self.params)
        self.ready: set[int] = set()  # id of each parameter whose gradient has arrived this backward
        self.request: Any = None

    @property
    def nbytes(self) -> int:
        return self.buffer.nbytes


class DistributedDataParallel(Module):
    """Wrap ``module`` so that ``backward()`` averages its gradients across all ranks.

    At construction rank 0's parameters and buffers are broadcast to every rank (ranks may
    start from different initializations), after checking that every rank's model has the
    same parameter names, shapes and dtypes. ``forward`` is the module's own. Use it as the
    model in any training loop (:func:`minidl.train.fit`, any optimizer); ``no_sync()``
    skips the averaging for gradient accumulation; the wrapped model is ``.module``.

    ``bucket_cap_mb`` (PyTorch's default 25) bounds a bucket's size; ``broadcast_buffers``
    copies rank 0's buffers (e.g. running statistics) to every rank at each forward.
    ``last_comm_wait_s`` is the time the last ``backward()`` spent waiting for communication
    after its last bucket started (a measurement PyTorch does not expose).
    """

    def __init__(self, module: Module, bucket_cap_mb: float = 25, broadcast_buffers: bool = True) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel wraps a minidl.nn.Module (got {type(module).__name__})")
        if not bucket_cap_mb > 0:
            raise ValueError(f"bucket_cap_mb must be > 0 (got {bucket_cap_mb!r})")
        if not pg.is_initialized():
            raise RuntimeError("DistributedDataParallel needs the process group: call "
                               "minidl.distributed.init_process_group() first")
        self.module = module
        self.bucket_cap_mb = bucket_cap_mb
        self.broadcast_buffers = broadcast_buffers
        self.world_size = pg.get_world_size()
        self.last_comm_wait_s = 0.0
        self._require_sync = True
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        _check_same_parameters(module)
        for _, p in module.named_parameters():
            pg.broadcast(p, src=0)
        for b in module.buffers():
            pg.broadcast(b, src=0)
        self._buckets = _make_buckets(named, bucket_cap_mb) if self.world_size > 1 else []
        self._bucket_of: dict[int, int] = {}
        self._handles = []
        for i, bucket in enumerate(self._buckets):
            for p in bucket.params:
                self._bucket_of[id(p)] = i
                self._handles.append(p.register_post_accumulate_grad_hook(self._grad_ready))
        self._next_bucket = 0  # buckets start strictly in order, the same on every rank

    # -- running -------------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if any(b.ready for b in self._buckets):
            unready = [n for b in self._buckets for n, p in zip(b.names, b.params) if id(p) not in b.ready]
            raise RuntimeError(
                "DistributedDataParallel: the previous backward() did not produce gradients for "
                f"all parameters, so their averaging never finished; no gradient for {unready[:5]}. "
                "Every parameter that requires grad must take part in the loss on every rank.")
        if self.broadcast_buffers and self.world_size > 1:
            for b in self.module.buffers():
                pg.broadcast(b, src=0)
        return self.module(*args, **kwargs)

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Inside, ``backward()`` only accumulates local gradients; the first backward after it
        averages the accumulated sum (gradient accumulation over several micro-batches)."""
        previous = self._require_sync
        self._require_sync = False
        try:
            yield
        finally:
            self._require_sync = previous

    # -- the hook --------------------------------------------------------------------------------
    def _grad_ready(self, p: Parameter) -> None:
        if not self._require_sync:
            return
        bucket = self._buckets[self._bucket_of[id(p)]]
        bucket.ready.add(id(p))
        bucket.pending -= 1
        while self._next_bucket < len(self._buckets) and self._buckets[self._next_bucket].pending == 0:
            self._start(self._buckets[self._next_bucket])
            self._next_bucket += 1
        if self._next_bucket == len(self._buckets):
            self._finish()
        else:
            # MPI moves a non-blocking message along only inside MPI calls: nudge it while
            # backward goes on, so the overlap is real.
            _test_all([b.request for b in self._buckets if b.request is not None])

    def _start(self, bucket: _Bucket) -> None:
        from mpi4py import MPI

        for p, start, stop in zip(bucket.params, bucket.offsets, bucket.offsets[1:]):
            bucket.buffer[start:stop] = p.grad.data.reshape(-1)
        bucket.request = pg.comm().Iallreduce(MPI.IN_PLACE, bucket.buffer, op=MPI.SUM)

    def _finish(self) -> None:
        from mpi4py import MPI

        start = time.perf_counter()
        MPI.Request.Waitall([b.request for b in self._buckets])
        self.last_comm_wait_s = time.perf_counter() - start
        inverse = 1.0 / self.world_size
        for b in self._buckets:
            b.buffer *= inverse
            for p, s, e in zip(b.params, b.offsets, b.offsets[1:]):
                p.grad.data[...] = b.buffer[s:e].reshape(p.data.shape)
            b.request, b.pending = None, len(b.params)
            b.ready.clear()
        self._next_bucket = 0

    def extra_repr(self) -> str:
        sizes = ", ".join(f"{b.nbytes / 2**20:.2f}" for b in self._buckets)
        return f"world_size={self.world_size}, buckets=[{sizes}] MB"


def _test_all(requests: list[Any]) -> None:
    if requests:
        from mpi4py import MPI

        MPI.Request.Testall(requests)


def _make_buckets(named: list[tuple[str, Parameter]], cap_mb: float) -> list[_Bucket]:
    """Parameters in reverse order, cut into buckets of at most ``cap_mb`` MB (one dtype each)."""
    cap = cap_mb * 2**20
    buckets, current, size = [], [], 0
    for name, p in reversed(named):
        if current and (size + p.data.nbytes > cap or p.data.dtype != current[0][1].data.dtype):
            buckets.append(_Bucket(current))
            current, size = [], 0
        current.append((name, p))
        size += p.data.nbytes
    if current:
        buckets.append(_Bucket(current))
    return buckets


def _check_same_parameters(module: Module) -> None:
    """Refuse, on every rank alike, models whose parameters differ between ranks."""
    mine = [(n, tuple(p.shape), str(p.dtype)) for n, p in module.named_parameters()]
    every = pg.all_gather_object(mine)
    for r, theirs in enumerate(every[1:], start=1):
        for i in range(max(len(every[0]), len(theirs))):
            a = every[0][i] if i < len(every[0]) else None
            b = theirs[i] if i < len(theirs) else None
            if a != b:
                def say(x: Any) -> str:
                    return "no parameter" if x is None else f"parameter {x[0]!r} of shape {x[1]} ({x[2]})"
                raise ValueError(
                    f"DistributedDataParallel: the ranks' models differ: parameter #{i} is {say(a)} on rank 0 "
                    f"but {say(b)} on rank {r}. Every rank must build the same model.")
