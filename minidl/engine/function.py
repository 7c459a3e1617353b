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
arrays and Tensors share (``*``, ``@``, ``.sum``, ``.reshape``), the op functions (which
take either, through :meth:`Function.apply`), and :func:`~minidl.engine.tensor.array_of`
for constant masks, so each formula is written once and serves both.

An op function is one line: ``def exp(x): return Exp().apply(x)``. ``apply`` records the
op when an input is a Tensor and just computes the value on plain arrays.
"""

from __future__ import annotations

import itertools
import traceback
import weakref
from typing import Any

import numpy as _np

from minidl.backend import _by_type as _array_types  # the known array types; grows in place
from minidl.backend import check_same_device
from minidl.engine.grad_mode import _State
from minidl.engine.tensor import Tensor, as_tensor, constant_like, promote

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
    promotes = False  # True for elementwise binary ops: float with int keeps the float dtype

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

    def apply(self, *inputs: Any) -> Any:
        """Run this op on Tensors or plain arrays: the one entry point of every op function.

        - All inputs Tensors (the usual case): recorded, ``self(*inputs)``.
        - A Tensor among numbers or arrays: those become constants in the Tensor's dtype and
          array module (``x * 0.5`` stays float32), then recorded.
        - Only arrays: just the value, ``forward(*inputs)``. This is what a backward rule
          gets in a plain ``backward()``, so the same rule runs at NumPy speed there.
        - Only Python numbers or lists: made a Tensor first (``minidl.exp(2.0)``).

        Ops with ``promotes = True`` (elementwise binary ops) first bring two Tensors to
        PyTorch's result dtype (:func:`~minidl.engine.tensor.promote`).
        """
        for x in inputs:
            if not isinstance(x, Tensor):
                break
        else:  # all Tensors: the usual case, kept short
            if self.promotes and inputs[0].data.dtype is not inputs[1].data.dtype:
                inputs = promote(*inputs)
            return self(*inputs)
        like = next((x for x in inputs if isinstance(x, Tensor)), None)
        if like is None:  # no Tensor at all
            if any(hasattr(x, "shape") for x in inputs):
                return self.forward(*inputs)
            like = as_tensor(inputs[0])
        inputs = tuple([x if isinstance(x, Tensor) else constant_like(x, like) for x in inputs])
        if self.promotes and inputs[0].data.dtype is not inputs[1].data.dtype:
            inputs = promote(*inputs)
        return self(*inputs)

    def __call__(self, *inputs: Tensor) -> Tensor:
        """Run ``forward`` on the inputs' arrays and, if any input needs a gradient, record the node."""
        if len(inputs) == 1:
            # The one special case: one-input ops (relu, exp, reshape, sum, ...) are about half
            # of every graph. Issue 15 measured the general loop alone at 1.13-1.17x the
            # unrolled code on a chain of 300 tiny ops (0.98-1.01x on the 64-128-10 MLP step);
            # on Python 3.11 the loop costs ~0.3 µs a call more than this branch.
            x = inputs[0]
            y = self.forward(x.data)
            needs = (x.requires_grad,)
            versions = (x._version,)
        else:
            # One loop gathers all three: for three inputs on Python 3.11 it takes 0.15 µs where
            # three comprehensions took 0.4 µs (issue 15: the Linear nodes of the small MLP step).
            arrays, needs, versions = [], [], []
            for x in inputs:
                arrays.append(x.data)
                needs.append(x.requires_grad)
                versions.append(x._version)
            if len(_array_types) > 1:  # devices can only mix once a GPU (or stand-in) module is known
                kind = type(arrays[0])
                for a in arrays:
                    if type(a) is not kind:  # rare: only then ask which devices they are on
                        check_same_device(tuple(arrays), type(self).__name__.lower())
                        break
            y = self.forward(*arrays)
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
            self.needs_input_grad = tuple(needs)
            self.seq = _next_seq()
            self.versions = tuple(versions)
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
