"""A differentiable operation: the node of the computational graph.

Each op is a small class with two methods::

    class Exp(Function):
        '''y = eˣ;   ∂y/∂x = eˣ = y'''
        needs_output = True

        def forward(self, x):
            return get_array_module(x).exp(x)

        def backward(self, gy, x, y):
            return gy * y

``forward`` works on plain arrays. ``backward`` receives the output's gradient and the
inputs (and the output, when ``needs_output`` is set), and returns one gradient per input
(``None`` where an input needs none).

What ``backward`` receives depends on how it is called. In an ordinary
``loss.backward()`` everything is a plain array, so the rule runs at NumPy speed. With
``backward(create_graph=True)`` or ``minidl.grad(..., create_graph=True)`` everything is a
``Tensor``, so the rule itself is recorded and can be differentiated again (Hessian-vector
products, Optimal Brain Damage). The rules are written with operators and methods that
arrays and Tensors share (``*``, ``@``, ``.sum``, ``.reshape``), plus the few helpers in
:mod:`minidl.engine.generic`, so each formula is written once and serves both.
"""

from __future__ import annotations

import itertools
import traceback
import weakref
from typing import Any

import numpy as _np

from minidl.backend import check_same_device
from minidl.engine.grad_mode import _State
from minidl.engine.tensor import Tensor

_numpy_scalar = _np.generic
# Nodes are numbered as they are made: a node is always made after the nodes of its inputs,
# so walking nodes from the highest number down is a topological order (PyTorch's sequence_nr).
_next_seq = itertools.count().__next__


class Function:
    """Base class of every op. Subclasses define ``forward`` and ``backward``."""

    needs_output = False  # set True when backward uses the output (exp, tanh, softmax...)
    # Which input values backward reads, for the version check (PyTorch's saved tensors):
    # saved_for[i] lists the inputs whose gradients read input i's values. None: every
    # gradient reads every input; (): backward reads only shapes (add, sum, reshape...).
    # An input changed in place after the forward pass is an error only where it is read.
    saved_for: tuple[tuple[int, ...], ...] | None = None

    # Filled in when the op is recorded in the graph.
    inputs: tuple[Tensor, ...]
    needs_input_grad: tuple[bool, ...]
    seq: int
    versions: tuple[int, ...]
    forward_stack: list[str] | None = None
    output_data: Any
    output_ref: weakref.ref | None
    retained: weakref.ref | None
    freed: bool

    def forward(self, *xs: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, gy: Any, *args: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, *inputs: Tensor) -> Tensor:
        """Run ``forward`` on the inputs' arrays and, if any input needs a gradient, record the node."""
        # Written out by arity: this runs for every op, and list comprehensions cost here.
        n = len(inputs)
        if n == 1:
            x0 = inputs[0]
            y = self.forward(x0.data)
            needs = (x0.requires_grad,)
            versions = (x0._version,)
        elif n == 2:
            x0, x1 = inputs
            if type(x0.data) is not type(x1.data):
                check_same_device((x0.data, x1.data), type(self).__name__.lower())
            y = self.forward(x0.data, x1.data)
            needs = (x0.requires_grad, x1.requires_grad)
            versions = (x0._version, x1._version)
        elif n == 3:
            x0, x1, x2 = inputs
            if not type(x0.data) is type(x1.data) is type(x2.data):
                check_same_device((x0.data, x1.data, x2.data), type(self).__name__.lower())
            y = self.forward(x0.data, x1.data, x2.data)
            needs = (x0.requires_grad, x1.requires_grad, x2.requires_grad)
            versions = (x0._version, x1._version, x2._version)
        else:
            arrays = [x.data for x in inputs]
            if len({type(a) for a in arrays}) > 1:
                check_same_device(tuple(arrays), type(self).__name__.lower())
            y = self.forward(*arrays)
            needs = tuple([x.requires_grad for x in inputs])
            versions = tuple([x._version for x in inputs])
        if isinstance(y, _numpy_scalar):
            # NumPy reductions return scalars (np.float32); a Tensor always wraps an array.
            y = _np.asarray(y)  # host: only NumPy makes NumPy scalars
        out = Tensor.__new__(Tensor)
        out.data = y
        out.grad = None
        out._version = 0
        if _State.enabled and True in needs:
            out.requires_grad = True
            out.grad_fn = self
            self.inputs = inputs
            self.needs_input_grad = needs
            self.seq = _next_seq()
            self.versions = versions
            if _State.anomaly:  # detect_anomaly: remember where this op ran
                self.forward_stack = traceback.format_stack()[:-1]
            self.retained = None
            self.freed = False
            if self.needs_output:
                self.output_data = y
                self.output_ref = weakref.ref(out)
        else:
            out.requires_grad = False
            out.grad_fn = None
        return out

    @property
    def name(self) -> str:
        """The op's name as PyTorch prints ``grad_fn`` (``MulBackward``)."""
        return type(self).__name__ + "Backward"

    @property
    def next_functions(self) -> tuple[Function | None, ...]:
        """The nodes that produced this node's inputs (``None`` for leaves), as in PyTorch."""
        return tuple(x.grad_fn for x in getattr(self, "inputs", ()))

    def __repr__(self) -> str:
        return f"<{self.name}>"
