"""Datasets and loading: bundled digits, MNIST and Fashion-MNIST, toy 2-D sets, splits,
subsampling, the ``DataLoader`` and ``transforms`` (scaling and augmentation).

- ``load_digits`` (bundled, offline), ``load_mnist``, ``load_fashion_mnist`` (IDX files,
  downloaded on first use and verified) → :class:`ArrayDataset` with train/val/test splits;
  ``load_mnist_if_available``: MNIST's (train, test), or None offline (for a demo with a fallback)
- ``make_moons``, ``make_circles``, ``make_spirals``, ``make_xor``, ``make_blobs``
- ``stratified_split``, ``random_split``, ``subsample`` (random, stratified or class-balanced)
- ``DataLoader(dataset, batch_size, shuffle, drop_last, seed, transform, device)``
- ``minidl.data.transforms``: ``Standardize``, ``MinMaxScale``, ``OneHot``, ``Compose``,
  ``RandomAffine``, ``RandomRotation``, ``RandomHorizontalFlip``, ``RandomCrop``, ``GaussianNoise``
- ``condition_number``, ``mse_hessian``: how well-conditioned least squares on some features is
- ``python -m minidl.data download mnist fashion-mnist``: fetch the files ahead of time
"""

from minidl.data import transforms
from minidl.data.conditioning import condition_number, hessian_eigenvalues, mse_hessian
from minidl.data.dataset import ArrayDataset
from minidl.data.datasets import load_digits
from minidl.data.download import ChecksumError, DatasetNotAvailableError, DownloadError, data_home
from minidl.data.idx import DataFileError, read_idx
from minidl.data.loader import DataLoader
from minidl.data.mnist import load_fashion_mnist, load_mnist, load_mnist_if_available
from minidl.data.splits import random_split, stratified_sample, stratified_split
from minidl.data.subsample import subsample
from minidl.data.toy import make_blobs, make_circles, make_moons, make_spirals, make_xor

__all__ = [
    "ArrayDataset", "ChecksumError", "DataFileError", "DataLoader", "DatasetNotAvailableError",
    "DownloadError", "condition_number", "data_home", "hessian_eigenvalues", "load_digits",
    "load_fashion_mnist", "load_mnist", "load_mnist_if_available", "make_blobs", "make_circles",
    "make_moons", "make_spirals", "make_xor", "mse_hessian", "random_split", "read_idx", "stratified_sample",
    "stratified_split", "subsample", "transforms",
]

from minidl.data.sampler import DistributedSampler  # noqa: E402

__all__ += ["DistributedSampler"]
