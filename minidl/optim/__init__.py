"""Optimizers with PyTorch's names, defaults and update rules."""

from minidl.optim.adam import Adam
from minidl.optim.optimizer import Optimizer
from minidl.optim.sgd import SGD

__all__ = ["SGD", "Adam", "Optimizer"]
