"""The autograd engine: Tensor, the ops, and reverse-mode differentiation."""

from minidl.engine import ops
from minidl.engine.autograd import backward, grad
from minidl.engine.function import Function
from minidl.engine.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from minidl.engine.tensor import Tensor, array_of

__all__ = ["Function", "Tensor", "array_of", "backward", "enable_grad", "grad", "is_grad_enabled",
           "no_grad", "ops", "set_grad_enabled"]
