"""Viewing a dataset's samples as images, for convolutional networks."""

from __future__ import annotations

import math

from minidl.data.dataset import ArrayDataset


def as_images(dataset: ArrayDataset, channels: int = 1) -> ArrayDataset:
    """The same samples shaped (channels, side, side): flat rows of channels·side² features
    are reshaped; samples that already have a channel axis are returned as they are."""
    x = dataset.features
    if x.ndim == 2:
        side = math.isqrt(x.shape[1] // channels)
        if channels * side * side != x.shape[1]:
            raise ValueError(f"cannot view {x.shape[1]} features as {channels} square image(s)")
        x = x.reshape(-1, channels, side, side)
    elif x.ndim == 3:  # (N, H, W): one channel
        x = x.reshape(x.shape[0], 1, x.shape[1], x.shape[2])
    return ArrayDataset(x, dataset.labels, dataset.class_names, dataset.name)
