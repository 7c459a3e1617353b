"""``DataLoader``: batches of a dataset, shuffled reproducibly."""

from __future__ import annotations

import math
from typing import Any, Callable, Iterator

import numpy as np

from minidl import backend, random
from minidl.engine.tensor import Tensor


class DataLoader:
    """Yields ``(x, y)`` batches of Tensors, every sample exactly once per epoch.

    Batches live where the dataset's arrays live; ``device="gpu"`` (or ``"cpu"``) moves
    each batch there, for a dataset kept on the host and a model on the GPU.

    With ``shuffle=True`` each epoch has a new order; ``seed`` makes the sequence of
    orders reproducible (epoch k of two loaders with the same seed is the same). Datasets
    that accept an index array (like :class:`ArrayDataset`) are sliced a batch at a time;
    others are read sample by sample and stacked.
    """

    def __init__(self, dataset: Any, batch_size: int = 1, shuffle: bool = False,
                 drop_last: bool = False, seed: int | None = None,
                 transform: Callable[[Any, Any], tuple[Any, Any]] | None = None,
                 device: str | None = None) -> None:
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
        if device not in (None, "cpu", "gpu", "cuda"):
            raise ValueError(f"device must be None, 'cpu' or 'gpu' (got {device!r})")
        self.device = device
        self.epoch = 0
        # Without a seed the order still follows minidl.manual_seed, as PyTorch's follows
        # torch.manual_seed: the loader's generator is seeded from minidl's.
        if seed is None:
            seed = int(random.host_rng().integers(2**63 - 1))
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
                x, y = _collate([self.dataset[int(i)] for i in idx])
            if self.transform is not None:
                x, y = self.transform(x, y)
            xb, yb = Tensor._wrap(x), Tensor._wrap(y)
            if self.device is not None:  # e.g. a host dataset feeding a model on the GPU
                xb, yb = backend.to_device(xb, self.device), backend.to_device(yb, self.device)
            yield xb, yb

    def _device_index(self, idx: np.ndarray) -> Any:
        xp = backend.get_array_module(self.dataset.features)
        return idx if xp is np else xp.asarray(idx)


def _collate(pairs: list[tuple[Any, Any]]) -> tuple[Any, Any]:
    """Stack (sample, label) pairs into a batch; samples and labels may be Tensors or arrays."""
    samples = [p[0].data if isinstance(p[0], Tensor) else p[0] for p in pairs]
    labels = [p[1].data if isinstance(p[1], Tensor) else p[1] for p in pairs]
    xp = backend.get_array_module(*samples)
    x = xp.stack([xp.asarray(s) for s in samples])
    if all(hasattr(v, "shape") for v in labels):
        y = xp.stack([xp.asarray(v) for v in labels])
    else:
        y = xp.asarray(labels)
    return x, y
