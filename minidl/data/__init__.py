"""Datasets and loading: the bundled digits, ``ArrayDataset``, splits, ``DataLoader``."""

from minidl.data.dataset import ArrayDataset
from minidl.data.datasets import load_digits
from minidl.data.loader import DataLoader
from minidl.data.splits import stratified_split

__all__ = ["ArrayDataset", "DataLoader", "load_digits", "stratified_split"]
