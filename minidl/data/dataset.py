"""``ArrayDataset``: features and labels held as arrays, with class names."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from minidl import backend


class ArrayDataset:
    """Samples as rows of ``features`` with matching ``labels`` (like ``TensorDataset``).

    Indexing with an int gives one ``(x, y)`` pair; with an array of indices it gives a
    whole batch at once, which is what :class:`~minidl.data.DataLoader` uses. Index
    arrays may be NumPy arrays even when the data lives on another array module (a
    GPU): they are moved there first.
    """

    def __init__(self, features: Any, labels: Any, class_names: Sequence[str] | None = None,
                 name: str = "") -> None:
        if not hasattr(features, "shape") or not hasattr(labels, "shape"):
            raise TypeError("features and labels must be arrays (NumPy, or of the active array "
                            f"module); got {type(features).__name__} and {type(labels).__name__}")
        if len(features) != len(labels):
            raise ValueError(f"features and labels differ in length ({len(features)} vs {len(labels)})")
        self.features = features
        self.labels = labels
        self.class_names = list(class_names) if class_names is not None else None
        self.name = name

    def __len__(self) -> int:
        return len(self.labels)

    def _index(self, index: Any) -> Any:
        """``index`` in a form the data's array module accepts (host index arrays moved over)."""
        if isinstance(index, (int, np.integer, slice)):
            return index
        xp = backend.get_array_module(self.features)
        return index if xp is np or backend.get_array_module(index) is xp else xp.asarray(index)

    def __getitem__(self, index: Any) -> tuple[Any, Any]:
        index = self._index(index)
        return self.features[index], self.labels[index]

    @property
    def num_classes(self) -> int:
        if self.class_names is not None:
            return len(self.class_names)
        return int(backend.to_numpy(self.labels).max()) + 1

    @property
    def num_features(self) -> int:
        return math.prod(self.features.shape[1:])

    def subset(self, indices: Any, name: str | None = None) -> ArrayDataset:
        """The samples at ``indices`` (a new dataset with the same class names)."""
        index = self._index(indices)
        return ArrayDataset(self.features[index], self.labels[index], self.class_names,
                            self.name if name is None else name)

    def map(self, transform: Callable[[Any], Any], name: str | None = None) -> ArrayDataset:
        """A new dataset whose features are ``transform(features)`` (labels unchanged).

        For preprocessing done once, e.g. ``train.map(scaler)`` with a fitted
        :class:`~minidl.data.transforms.Standardize`; random augmentation belongs in the
        :class:`~minidl.data.DataLoader` instead, so every epoch sees new variants.
        """
        features = transform(self.features)
        if len(features) != len(self):
            raise ValueError(f"transform changed the number of samples ({len(self)} → {len(features)})")
        return ArrayDataset(features, self.labels, self.class_names, self.name if name is None else name)

    def __repr__(self) -> str:
        return (f"ArrayDataset({self.name or 'unnamed'}: {len(self)} samples, features "
                f"{tuple(self.features.shape[1:])} {self.features.dtype}, "
                f"{self.num_classes} classes)")
