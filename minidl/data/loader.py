"""``DataLoader``: batches of a dataset, shuffled reproducibly, optionally transformed."""

from __future__ import annotations

import math
from typing import Any, Callable, Iterator

import numpy as np

from minidl import backend, random
from minidl.data.transforms.base import Transform
from minidl.engine.tensor import Tensor


class DataLoader:
    """Yields ``(x, y)`` batches of Tensors, every sample exactly once per epoch.

    Order: with ``shuffle=False`` the dataset's order; with ``shuffle=True`` a new
    permutation each epoch, the k-th permutation drawn from a generator seeded with
    ``seed``, so two loaders with the same seed agree epoch by epoch and
    :meth:`set_epoch` resumes the sequence anywhere. Without a seed the loader draws one
    from minidl's generator when it is made, so :func:`minidl.manual_seed` fixes the
    orders (PyTorch's behaviour).

    Batches: an :class:`~minidl.data.ArrayDataset` is sliced a batch at a time (one
    fancy-index per batch, in the dataset's array module: NumPy, or CuPy on a GPU); any
    other dataset (``len`` and ``dataset[i] -> (x, y)``, arrays or Tensors) is read sample
    by sample and stacked. The last batch is smaller unless ``drop_last=True``. Batches
    live where the dataset's arrays live; ``device="gpu"`` (or ``"cpu"``) moves each
    batch there, for a dataset kept on the host and a model on the GPU.

    ``transform(x, y) -> (x, y)`` runs on each batch's arrays before they become
    Tensors; a :mod:`minidl.data.transforms` object (an augmentation, a fitted
    ``Standardize``, ``OneHot``, a ``Compose`` of them) can be passed directly and
    transforms the features (or, for ``OneHot``, the labels). minidl transforms per
    batch rather than per sample (PyTorch's dataset transforms work per sample) because
    one vectorized call per batch is what makes NumPy fast.

    ``sampler`` (PyTorch's; excludes ``shuffle=True``) gives the indices to visit instead,
    e.g. a :class:`~minidl.data.DistributedSampler` for this rank's share. Unlike PyTorch,
    the loader calls the sampler's ``set_epoch`` with its own epoch before each pass, so a
    shuffling sampler reshuffles every epoch inside :func:`minidl.train.fit` too.
    """

    def __init__(self, dataset: Any, batch_size: int = 1, shuffle: bool = False,
                 drop_last: bool = False, seed: int | None = None,
                 transform: Callable[[Any, Any], tuple[Any, Any]] | None = None,
                 device: str | None = None, sampler: Any = None) -> None:
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive int (got {batch_size!r})")
        if len(dataset) == 0:
            raise ValueError("DataLoader got an empty dataset")
        if seed is not None and (not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"seed must be a non-negative int or None (got {seed!r})")
        if transform is not None and not callable(transform):
            raise TypeError(f"transform must be callable (got {type(transform).__name__})")
        if device not in (None, "cpu", "gpu", "cuda"):
            raise ValueError(f"device must be None, 'cpu' or 'gpu' (got {device!r})")
        if sampler is not None:
            if shuffle:
                raise ValueError("sampler option is mutually exclusive with shuffle=True "
                                 "(the sampler decides the order)")
            sampled = getattr(sampler, "dataset", dataset)
            if sampled is not dataset and len(sampled) != len(dataset):
                raise ValueError(f"the sampler was made for a dataset of {len(sampled)} samples, "
                                 f"the DataLoader got one of {len(dataset)}")
        self.sampler = sampler
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.transform = transform
        self.device = device
        self.epoch = 0
        # Without a seed the orders still follow minidl.manual_seed, as PyTorch's follow
        # torch.manual_seed: the loader's seed is drawn from minidl's generator.
        self._seed = int(seed) if seed is not None else int(random.host_rng().integers(2**63 - 1))
        self._rng = np.random.default_rng(self._seed)  # host: index bookkeeping
        self._drawn = 0  # permutations drawn from self._rng so far

    def __len__(self) -> int:
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration epoch ``epoch`` (its shuffle order)."""
        if not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ValueError(f"epoch must be a non-negative int (got {epoch!r})")
        self.epoch = int(epoch)

    def order(self, epoch: int | None = None) -> np.ndarray:
        """The sample indices in the order epoch ``epoch`` (default: the next one) visits them.

        Inspecting an order does not disturb the loader's own sequence.
        """
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)  # host: index bookkeeping
        rng = np.random.default_rng(self._seed)  # host: index bookkeeping
        for _ in range(self.epoch if epoch is None else epoch):
            rng.permutation(n)
        return rng.permutation(n)

    def _next_order(self) -> np.ndarray:
        if self.sampler is not None:
            if hasattr(self.sampler, "set_epoch"):
                self.sampler.set_epoch(self.epoch)
            return np.fromiter(iter(self.sampler), dtype=np.int64)  # host: index bookkeeping
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)  # host: index bookkeeping
        if self._drawn != self.epoch:  # set_epoch moved us: replay the stream up to this epoch
            self._rng = np.random.default_rng(self._seed)  # host: index bookkeeping
            for _ in range(self.epoch):
                self._rng.permutation(n)
        self._drawn = self.epoch + 1
        return self._rng.permutation(n)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        order = self._next_order()
        self.epoch += 1
        stop = len(order) - len(order) % self.batch_size if self.drop_last else len(order)
        batched = hasattr(self.dataset, "features")
        for start in range(0, stop, self.batch_size):
            idx = order[start:start + self.batch_size]
            x, y = self.dataset[idx] if batched else _collate([self.dataset[int(i)] for i in idx], idx)
            if isinstance(self.transform, Transform):
                x, y = self.transform.apply_batch(x, y)
            elif self.transform is not None:
                x, y = self.transform(x, y)
            xb, yb = _as_tensor(x), _as_tensor(y)
            if self.device is not None:  # e.g. a host dataset feeding a model on the GPU
                xb, yb = xb.to(self.device), yb.to(self.device)
            yield xb, yb

    def __repr__(self) -> str:
        return (f"DataLoader({getattr(self.dataset, 'name', '') or type(self.dataset).__name__}, "
                f"batch_size={self.batch_size}, shuffle={self.shuffle}, drop_last={self.drop_last}, "
                f"seed={self.seed}, {len(self)} batches)")


def _as_tensor(a: Any) -> Tensor:
    return a if isinstance(a, Tensor) else Tensor._wrap(a)


def _collate(pairs: list[tuple[Any, Any]], indices: Any = None) -> tuple[Any, Any]:
    """Stack (sample, label) pairs into a batch; samples and labels may be Tensors or arrays.

    Samples of different shapes cannot be stacked: the error names the first sample whose
    shape differs from the batch's first, by its index in the dataset (``indices``).
    """
    samples = [p[0].data if isinstance(p[0], Tensor) else p[0] for p in pairs]
    labels = [p[1].data if isinstance(p[1], Tensor) else p[1] for p in pairs]
    xp = backend.get_array_module(*samples)
    x = _stack(xp, samples, "sample", indices)
    if all(hasattr(v, "shape") for v in labels):
        y = _stack(xp, labels, "label", indices)
    else:
        y = xp.asarray(labels)
    return x, y


def _stack(xp: Any, values: list[Any], what: str, indices: Any) -> Any:
    arrays = [xp.asarray(v) for v in values]
    first = arrays[0].shape
    for k, a in enumerate(arrays):
        if a.shape != first:
            at = (lambda j: int(indices[j])) if indices is not None else (lambda j: j)
            raise ValueError(f"DataLoader cannot stack a batch: {what} {at(k)} has shape {tuple(a.shape)} "
                             f"but {what} {at(0)} has shape {tuple(first)}; every {what} of a dataset "
                             "must have the same shape (pad, crop or resize them first)")
    return xp.stack(arrays)
