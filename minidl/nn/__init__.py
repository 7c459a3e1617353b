"""Neural-network building blocks, with PyTorch's names.

- ``module.py``      ``Module``, ``Parameter`` (the base of every layer, ``state_dict``)
- ``linear.py``      ``Linear``, ``Identity``;  ``conv.py``: ``Conv2d``, ``MaxPool2d``, ``AvgPool2d``
- ``activation.py``  ``ReLU``, ``LeakyReLU``, ``Tanh``, ``Sigmoid``, ``Softplus``, ``Softmax``,
  ``LogSoftmax``, ``Dropout``, ``Flatten``
- ``container.py``   ``Sequential``, ``ModuleList``
- ``mlp.py``, ``cnn.py``  ready-made networks: ``MLP``, ``LeNet``, ``SmallCNN``
- ``losses/``        every loss, as a function and as a Module (its ``__init__`` is the table)
- ``functional``     the stateless functions (``F.relu``, ``F.cross_entropy``…)
- ``init``           weight initialisers;  ``utils``: gradient clipping
- ``parallel``       ``DistributedDataParallel``: one model trained on several processes (MPI)
"""

from minidl.nn import functional, init, parallel, utils
from minidl.nn.activation import (
    Dropout,
    Flatten,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    Softmax,
    Softplus,
    Tanh,
)
from minidl.nn.cnn import LeNet, SmallCNN
from minidl.nn.container import ModuleList, Sequential
from minidl.nn.conv import AvgPool2d, Conv2d, MaxPool2d
from minidl.nn.linear import Identity, Linear
from minidl.nn.losses import (  # the loss Modules again, as in nn.losses: torch.nn has them too
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from minidl.nn.mlp import MLP
from minidl.nn.module import Module, Parameter

__all__ = [
    # the base
    "Module", "Parameter",
    # layers
    "Linear", "Identity", "Conv2d", "MaxPool2d", "AvgPool2d", "Dropout", "Flatten",
    # activations
    "ReLU", "LeakyReLU", "Tanh", "Sigmoid", "Softplus", "Softmax", "LogSoftmax",
    # containers and ready-made networks
    "Sequential", "ModuleList", "MLP", "LeNet", "SmallCNN",
    # losses
    "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss", "MSELoss", "L1Loss",
    "SmoothL1Loss", "HuberLoss", "KLDivLoss",
    # submodules
    "functional", "init", "parallel", "utils",
]
