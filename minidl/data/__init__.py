"""Datasets and loading: bundled digits, MNIST and Fashion-MNIST, toy 2-D sets, splits, subsampling,
``DataLoader``."""

from minidl.data.dataset import ArrayDataset
from minidl.data.datasets import load_digits
from minidl.data.download import ChecksumError, DatasetNotAvailableError, DownloadError, data_home
from minidl.data.idx import DataFileError, read_idx
from minidl.data.loader import DataLoader
from minidl.data.mnist import load_fashion_mnist, load_mnist
from minidl.data.splits import random_split, stratified_sample, stratified_split
from minidl.data.subsample import subsample
from minidl.data.toy import make_blobs, make_circles, make_moons, make_spirals, make_xor

__all__ = ["ArrayDataset", "ChecksumError", "DataFileError", "DataLoader", "DatasetNotAvailableError",
           "DownloadError", "data_home", "load_digits", "load_fashion_mnist", "load_mnist", "random_split",
           "make_blobs", "make_circles", "make_moons", "make_spirals", "make_xor", "read_idx",
           "stratified_sample", "stratified_split", "subsample"]
