"""Datasets. ``load_digits`` reads the copy bundled inside minidl, so it works offline."""

from __future__ import annotations

from importlib import resources
from typing import Any

import numpy as np

from minidl import backend
from minidl.data.dataset import ArrayDataset
from minidl.data.splits import stratified_split

SPLITS = ("train", "val", "test", "all")
DIGITS_FRACTIONS = {"train": 0.6, "val": 0.2, "test": 0.2}


def _load_digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    with resources.files("minidl.data.bundled").joinpath("digits.npz").open("rb") as f:
        with np.load(f, allow_pickle=False) as z:
            return z["X"], z["y"]


def check_float_dtype(dtype: Any) -> None:
    """Pixels are scaled to [0, 1], which needs a floating-point dtype."""
    if np.dtype(dtype).kind != "f":
        raise ValueError(f"dtype must be a floating-point type such as 'float32' (got {dtype!r})")


def load_digits(split: str = "train", seed: int = 0, flatten: bool = True,
                dtype: str = "float32") -> ArrayDataset:
    """The UCI handwritten digits: 1797 images of 8×8 pixels, 10 classes (bundled, offline).

    Pixel values 0..16 are scaled to [0, 1]. ``split`` is ``"train"`` (60%), ``"val"``
    (20%), ``"test"`` (20%) or ``"all"``; the split is stratified by class and fixed by
    ``seed``, so the same seed always gives the same disjoint splits. ``flatten=False``
    gives images of shape (1, 8, 8) for a CNN. Labels are int64.

    Source: E. Alpaydin and C. Kaynak (1998), UCI Machine Learning Repository, CC BY 4.0.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS} (got {split!r})")
    check_float_dtype(dtype)
    x, y = _load_digits_arrays()
    if split != "all":
        idx = stratified_split(y, DIGITS_FRACTIONS, seed)[split]
        x, y = x[idx], y[idx]
    x = x.astype(dtype) / np.asarray(16, dtype=dtype)  # host: scaled before moving to the device
    if not flatten:
        x = x.reshape(-1, 1, 8, 8)
    xp = backend.xp
    return ArrayDataset(xp.asarray(x), xp.asarray(y.astype(np.int64)),
                        class_names=[str(d) for d in range(10)], name=f"digits/{split}")
