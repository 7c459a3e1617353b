"""Optimizers with PyTorch's names, defaults and update rules, and the rules themselves.

- ``GD``, ``SGD``, ``Adam``, ``AdamW``, ``RMSprop``, ``Adagrad``: PyTorch-shaped classes
  (``param_groups``, ``state``, ``state_dict``, step hooks)
- ``rules`` and ``transforms``: each update rule as pure functions on arrays (Optax's design)
- ``lr_scheduler``: learning-rate schedules
- ``trajectory``: the points an optimizer visits on a small function (the lessons' contour plots)
- ``regularization``: L1/L2 penalties and the proximal L1 step
- ``clip_grad_norm_``, ``clip_grad_value_``: gradient clipping (also in ``minidl.nn.utils``)
"""

from minidl.nn.utils import clip_grad_norm_, clip_grad_value_
from minidl.optim import lr_scheduler, regularization, rules, transforms
from minidl.optim.adagrad import Adagrad
from minidl.optim.adam import Adam, AdamW
from minidl.optim.optimizer import Optimizer
from minidl.optim.regularization import (
    add_proximal_l1,
    l1_penalty,
    l2_penalty,
    proximal_l1_,
    soft_threshold,
)
from minidl.optim.rmsprop import RMSprop
from minidl.optim.sgd import GD, SGD
from minidl.optim.trajectory import trajectory

__all__ = [
    "GD", "SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "add_proximal_l1",
    "clip_grad_norm_", "clip_grad_value_", "l1_penalty", "l2_penalty", "lr_scheduler",
    "proximal_l1_", "regularization", "rules", "soft_threshold", "trajectory", "transforms",
]
