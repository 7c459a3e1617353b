"""``DataLoader``: batches of a dataset, shuffled reproducibly."""

from __future__ import annotations

import math
from typing import Any, Callable, Iterator

import numpy as np

from minidl import backend
from minidl.engine.tensor import Tensor


class DataLoader:
    """Yields ``(x, y)`` batches of Tensors, every sample exactly once per epoch.

    With ``shuffle=True`` each epoch has a new order; ``seed`` makes the sequence of
    orders reproducible (epoch k of two loaders with the same seed is the same). Datasets
    that accept an index array (like :class:`ArrayDataset`) are sliced a batch at a time;
    others are read sample by sample and stacked.
    """

    def __init__(self, dataset: Any, batch_size: int = 1, shuffle: bool = False,
                 drop_last: bool = False, seed: int | None = None,
                 transform: Callable[[Any, Any], tuple[Any, Any]] | None = None) -> None:
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive int (got {batch_size!r})")
        if len(dataset) == 0:
            raise ValueError("DataLoader got an empty dataset")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.transform = transform
        self.epoch = 0
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _order(self) -> np.ndarray:
        n = len(self.dataset)
        if self.shuffle:
            return self._rng.permutation(n)
        return np.arange(n)  # host: index bookkeeping

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        order = self._order()
        self.epoch += 1
        stop = len(order) - len(order) % self.batch_size if self.drop_last else len(order)
        batched = hasattr(self.dataset, "features")
        for start in range(0, stop, self.batch_size):
            idx = order[start:start + self.batch_size]
            if batched:
                x, y = self.dataset[self._device_index(idx)]
            else:
                pairs = [self.dataset[int(i)] for i in idx]
                xp = backend.get_array_module(pairs[0][0])
                x = xp.stack([xp.asarray(p[0]) for p in pairs])
                y = xp.asarray([p[1] for p in pairs])
            if self.transform is not None:
                x, y = self.transform(x, y)
            yield Tensor._wrap(x), Tensor._wrap(y)

    def _device_index(self, idx: np.ndarray) -> Any:
        xp = backend.get_array_module(self.dataset.features)
        return idx if xp is np else xp.asarray(idx)
