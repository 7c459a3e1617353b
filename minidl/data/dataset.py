"""``ArrayDataset``: features and labels held as arrays, with class names."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from minidl import backend


class ArrayDataset:
    """Samples as rows of ``features`` with matching ``labels`` (like ``TensorDataset``).

    Indexing with an int gives one ``(x, y)`` pair; with an array of indices it gives a
    whole batch at once, which is what :class:`~minidl.data.DataLoader` uses.
    """

    def __init__(self, features: Any, labels: Any, class_names: Sequence[str] | None = None,
                 name: str = "") -> None:
        if len(features) != len(labels):
            raise ValueError(f"features and labels differ in length ({len(features)} vs {len(labels)})")
        self.features = features
        self.labels = labels
        self.class_names = list(class_names) if class_names is not None else None
        self.name = name

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: Any) -> tuple[Any, Any]:
        return self.features[index], self.labels[index]

    @property
    def num_classes(self) -> int:
        if self.class_names is not None:
            return len(self.class_names)
        return int(backend.to_numpy(self.labels).max()) + 1

    @property
    def num_features(self) -> int:
        return int(np.prod(self.features.shape[1:]))

    def subset(self, indices: Any, name: str | None = None) -> ArrayDataset:
        """The samples at ``indices`` (a new dataset with the same class names)."""
        return ArrayDataset(self.features[indices], self.labels[indices], self.class_names,
                            self.name if name is None else name)

    def __repr__(self) -> str:
        return (f"ArrayDataset({self.name or 'unnamed'}: {len(self)} samples, features "
                f"{tuple(self.features.shape[1:])} {self.features.dtype}, "
                f"{self.num_classes} classes)")
