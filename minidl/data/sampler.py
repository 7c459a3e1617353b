"""``DistributedSampler``: which samples each rank reads, so the ranks split every epoch between them.

PyTorch's semantics. Each epoch the indices 0 … n−1 are shuffled (with ``seed + epoch``, the
same permutation on every rank: call :meth:`set_epoch` each epoch, or every epoch repeats one
order), padded by repeating the first indices until their count is a multiple of the number
of ranks N (or, with ``drop_last=True``, cut down to one), and rank r takes every N-th one
starting at r:

    indices_r = padded[r :: N],   len = ⌈n / N⌉   (⌊n / N⌋ with drop_last)

so every rank runs the same number of steps — a rank with one batch fewer would leave the
others waiting in an all-reduce forever.
"""

from __future__ import annotations

import math
from typing import Any, Iterator

import numpy as np


class DistributedSampler:
    """The indices of ``dataset`` that rank ``rank`` of ``num_replicas`` reads this epoch.

    ``num_replicas`` and ``rank`` default to the process group's. When the process group has
    several ranks, construction checks (a collective: every rank builds its sampler) that
    every rank's dataset has the same length, and refuses otherwise.
    """

    def __init__(self, dataset: Any, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        from minidl.distributed import process_group as pg

        if num_replicas is None or rank is None:
            if not pg.is_initialized():
                raise RuntimeError("DistributedSampler needs num_replicas and rank, or the process group "
                                   "(call minidl.distributed.init_process_group() first)")
            num_replicas = pg.get_world_size() if num_replicas is None else num_replicas
            rank = pg.get_rank() if rank is None else rank
        if not isinstance(num_replicas, (int, np.integer)) or num_replicas < 1:
            raise ValueError(f"num_replicas must be a positive int (got {num_replicas!r})")
        if not isinstance(rank, (int, np.integer)) or not 0 <= rank < num_replicas:
            raise ValueError(f"rank must be in [0, {num_replicas}) (got {rank!r})")
        if not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative int (got {seed!r})")
        n = len(dataset)
        if drop_last and n < num_replicas:
            raise ValueError(f"drop_last=True with {n} samples and {num_replicas} ranks leaves no sample per rank")
        if pg.is_initialized() and pg.get_world_size() > 1 and num_replicas == pg.get_world_size():
            lengths = pg.all_gather_object(n)
            if len(set(lengths)) > 1:
                raise ValueError(f"DistributedSampler: the ranks' datasets differ in length: {lengths} "
                                 "(rank by rank); every rank must see the same dataset")
        self.dataset = dataset
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.shuffle = shuffle
        self.seed = int(seed)
        self.drop_last = drop_last
        self.epoch = 0
        self.num_samples = n // self.num_replicas if drop_last else math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use epoch ``epoch``'s shuffle (the same on every rank)."""
        if not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ValueError(f"epoch must be a non-negative int (got {epoch!r})")
        self.epoch = int(epoch)

    def indices(self) -> np.ndarray:
        """This rank's indices for the current epoch."""
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(n)  # host: index bookkeeping
        else:
            order = np.arange(n)  # host: index bookkeeping
        if self.total_size > n:  # pad with the first indices, repeated as often as needed
            order = np.concatenate([order, np.resize(order, self.total_size - n)])
        return order[:self.total_size][self.rank::self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())

    def __repr__(self) -> str:
        return (f"DistributedSampler(rank={self.rank}, num_replicas={self.num_replicas}, shuffle={self.shuffle}, "
                f"seed={self.seed}, drop_last={self.drop_last}, {self.num_samples} samples per rank)")
