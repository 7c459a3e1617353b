"""Neural-network building blocks, with PyTorch's names: ``Module``, layers, losses, ``init``."""

from minidl.nn import functional, init, utils
from minidl.nn.activation import Dropout, Flatten, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from minidl.nn.container import ModuleList, Sequential
from minidl.nn.divergence import KLDivLoss
from minidl.nn.linear import Identity, Linear
from minidl.nn.loss import BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from minidl.nn.mlp import MLP
from minidl.nn.module import Module, Parameter

__all__ = [
    "BCEWithLogitsLoss", "CrossEntropyLoss", "Dropout", "Flatten", "Identity", "L1Loss",
    "LeakyReLU", "Linear", "LogSoftmax", "MLP", "MSELoss", "Module", "ModuleList", "NLLLoss",
    "Parameter", "ReLU", "Sequential", "Sigmoid", "Softmax", "Tanh", "functional", "init", "utils",
]
__all__ += ["KLDivLoss"]

# Convolutional layers and networks.
from minidl.nn.cnn import LeNet, SmallCNN  # noqa: E402
from minidl.nn.conv import AvgPool2d, Conv2d, MaxPool2d  # noqa: E402

__all__ += ["AvgPool2d", "Conv2d", "LeNet", "MaxPool2d", "SmallCNN"]

# Data parallelism across processes (minidl.nn.parallel.DistributedDataParallel).
from minidl.nn import parallel  # noqa: E402
