"""Transforms of feature batches: scaling fitted on the training split, one-hot labels, and
image augmentation built on one affine resampling routine.

Preprocessing (fit once on the training split, then apply everywhere)::

    scaler = Standardize().fit(train.features)
    train, val, test = (d.map(scaler) for d in (train, val, test))   # or transform=scaler

Augmentation (fresh random parameters for every batch)::

    augment = Compose([RandomAffine(degrees=10, translate=(0.1, 0.1), image_shape=(28, 28), seed=0),
                       GaussianNoise(sigma=0.05, seed=1)])
    loader = DataLoader(train, 128, shuffle=True, seed=0, transform=augment)
"""

from minidl.data.transforms.affine import affine, affine_matrices, affine_resample, crop_matrices, hflip, rotate
from minidl.data.transforms.augment import (
    GaussianNoise,
    RandomAffine,
    RandomCrop,
    RandomHorizontalFlip,
    RandomRotation,
    RandomTransform,
)
from minidl.data.transforms.base import Compose, Transform
from minidl.data.transforms.scaling import MinMaxScale, Standardize
from minidl.data.transforms.target import OneHot

__all__ = [
    "Compose", "GaussianNoise", "MinMaxScale", "OneHot", "RandomAffine", "RandomCrop",
    "RandomHorizontalFlip", "RandomRotation", "RandomTransform", "Standardize", "Transform", "affine",
    "affine_matrices", "affine_resample", "crop_matrices", "hflip", "rotate",
]
