"""Datasets and loading: the bundled digits, ``ArrayDataset``, splits, subsampling, ``DataLoader``."""

from minidl.data.dataset import ArrayDataset
from minidl.data.datasets import load_digits
from minidl.data.loader import DataLoader
from minidl.data.splits import random_split, stratified_sample, stratified_split
from minidl.data.subsample import subsample

__all__ = ["ArrayDataset", "DataLoader", "load_digits", "random_split", "stratified_sample",
           "stratified_split", "subsample"]
