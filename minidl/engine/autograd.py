"""Reverse-mode automatic differentiation: walk the graph from the output back to the leaves.

The chain rule, applied node by node in reverse topological order (every node after all
the nodes that use its output):

    ∂L/∂x = Σ over the ops f that consumed x of  (∂L/∂f(x)) · ∂f/∂x

Each node's ``backward`` turns the gradient of its output into gradients of its inputs;
gradients arriving at the same tensor by different paths are added (a tensor used twice,
the "diamond", gets both contributions). Leaves accumulate into ``.grad`` across calls,
as in PyTorch; ``zero_grad`` clears them.
"""

from __future__ import annotations

import heapq
import sys
from typing import Any, Sequence

import numpy as np

from minidl import backend
from minidl.engine import grad_hooks
from minidl.engine.function import Function
from minidl.engine.grad_mode import _State
from minidl.engine.tensor import Tensor, array_of


def topological_order(root: Function) -> list[Function]:
    """The nodes reachable from ``root``, each before the nodes that produced its inputs.

    Nodes are numbered in the order they were made (``seq``), and a node is always made
    after the nodes of its inputs, so sorting by ``seq`` from high to low is such an
    order. The engine itself does this lazily with a heap (see :func:`_walk`).
    """
    seen = {root}
    stack = [root]
    while stack:
        for x in stack.pop().inputs:
            parent = x.grad_fn
            if parent is not None and parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return sorted(seen, key=lambda fn: -fn.seq)


def _run_backward(roots: Sequence[Tensor], root_grads: Sequence[Any], create_graph: bool,
                  retain_graph: bool, capture: dict[int, Any] | None, accumulate: bool) -> None:
    """The engine shared by ``Tensor.backward`` and ``grad``.

    ``capture`` maps id(tensor) → gradient for the tensors ``grad`` asked about;
    ``accumulate`` says whether leaves' ``.grad`` receive their gradients.
    """
    pending: dict[Function, Any] = {}  # node -> gradient of its output, summed so far
    heap: list[tuple[int, Function]] = []  # nodes whose gradient has started to arrive
    leaf_grads: dict[int, tuple[Tensor, Any]] = {}
    if accumulate and grad_hooks.has_hooks():  # some leaf wants to hear when its .grad is final
        leaf_grads = _HookedLeafGrads(grad_hooks.count_uses(roots), capture, create_graph)
    for root, g in zip(roots, root_grads):
        _route(root, g, pending, heap, leaf_grads)
    if heap:
        previous = _State.enabled
        _State.enabled = create_graph  # the backward pass is itself recorded only on request
        try:
            _walk(heap, pending, leaf_grads, create_graph, retain_graph, capture)
        finally:
            _State.enabled = previous
    # _walk's locals are gone now, so _owned can count who else holds each gradient.
    late = [x for x, _ in leaf_grads.values() if grad_hooks.is_hooked(x)] if type(leaf_grads) is not dict else ()
    _finish_leaves(leaf_grads, capture, accumulate, create_graph)
    for x in late:  # hooked leaves whose uses did not all send a gradient (a backward returned None)
        grad_hooks.run_hooks(x)


def _walk(heap: list[tuple[int, Function]], pending: dict[Function, Any],
          leaf_grads: dict[int, tuple[Tensor, Any]], create_graph: bool, retain_graph: bool,
          capture: dict[int, Any] | None) -> None:
    """Apply each node's backward, newest node first, routing gradients to parents and leaves.

    A node is popped only after every node made later has been processed, so all the
    gradient for its output has arrived: the newest-first order is a topological order.
    """
    pop = heapq.heappop
    anomaly = _State.anomaly
    while heap:
        fn = pop(heap)[1]
        gy = pending.pop(fn)
        if fn.freed:
            raise RuntimeError(
                "trying to backward through the graph a second time: its saved values were "
                "freed by the first backward. Use backward(retain_graph=True) the first time, "
                "or compute the loss again.")
        inputs = fn.inputs
        for x, v in zip(inputs, fn.versions):
            if x._version != v:  # changed in place since the forward pass: is it read?
                _check_saved_inputs(fn)
                break
        if fn.needs_output:
            out = fn.output_ref()
            if out is not None and out._version:
                raise _modified_error(fn, "output 0", out, out._version, 0)
        if fn.retained is not None:
            _keep_nonleaf_grad(fn, gy, create_graph)
        if capture is not None:
            _capture_output(fn, gy, capture)
        if create_graph:
            if fn.needs_output:
                out = fn.output_ref()
                gxs = fn.backward(gy, *inputs, out if out is not None else Tensor._wrap(fn.output_data))
            else:
                gxs = fn.backward(gy, *inputs)
        elif fn.needs_output:
            gxs = fn.backward(gy, *[x.data for x in inputs], fn.output_data)
        elif len(inputs) == 1:
            gxs = fn.backward(gy, inputs[0].data)
        elif len(inputs) == 2:
            gxs = fn.backward(gy, inputs[0].data, inputs[1].data)
        else:
            gxs = fn.backward(gy, *[x.data for x in inputs])
        if type(gxs) is not tuple:
            gxs = (gxs,)
        if anomaly:
            _check_finite(fn, gxs)
        for x, gx, needed in zip(inputs, gxs, fn.needs_input_grad):
            if gx is not None and needed:
                _route(x, gx, pending, heap, leaf_grads)
        if not retain_graph:
            fn.freed = True
            if fn.needs_output:
                fn.output_data = None


def _modified_error(fn: Function, which: str, t: Tensor, version: int, expected: int) -> RuntimeError:
    return RuntimeError(
        "one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: {fn.name} {which} is at version {version}; expected version {expected} "
        f"instead (a {t.dtype} tensor of shape {tuple(t.shape)}). Hint: change it in place only "
        "after backward (or before the forward pass), or change a copy (x.clone()) instead.")


def _check_saved_inputs(fn: Function) -> None:
    """Raise if an input that ``fn.backward`` reads was changed in place after the forward pass.

    An input counts as read when a gradient that needs it is wanted (``saved_for``): the
    weight of ``x @ w`` is not read when only ``w``'s own gradient is wanted, as in PyTorch.
    """
    saved_for = fn.saved_for
    for i, (x, v) in enumerate(zip(fn.inputs, fn.versions)):
        if x._version == v:
            continue
        if saved_for is None:
            read = True
        else:
            users = saved_for[i] if i < len(saved_for) else ()
            read = any(fn.needs_input_grad[j] for j in users)
        if read:
            raise _modified_error(fn, f"input {i}", x, x._version, v)


def _check_finite(fn: Function, gxs: tuple[Any, ...]) -> None:
    """Anomaly mode: raise if ``fn``'s backward produced NaN, with the forward traceback of ``fn``."""
    for i, gx in enumerate(gxs):
        if gx is None:
            continue
        data = array_of(gx)
        if backend.get_array_module(data).isnan(data).any():
            where = "".join(fn.forward_stack) if fn.forward_stack else (
                "  (not recorded: the op ran before anomaly detection was turned on)\n")
            raise RuntimeError(
                f"Function '{fn.name}' returned nan values in its {i}th output.\n"
                f"Traceback of the forward call that created {fn.name}:\n{where}")


def _route(x: Tensor, g: Any, pending: dict[Function, Any], heap: list[tuple[int, Function]],
           leaf_grads: dict[int, tuple[Tensor, Any]]) -> None:
    """Send gradient ``g`` of tensor ``x`` on: to its node (summed, queued once) or, for a leaf, aside."""
    parent = x.grad_fn
    if parent is None:
        _collect_leaf(leaf_grads, x, g)
    elif parent in pending:
        pending[parent] = pending[parent] + g
    else:
        pending[parent] = g
        heapq.heappush(heap, (-parent.seq, parent))


def _finish_leaves(leaf_grads: dict[int, tuple[Tensor, Any]], capture: dict[int, Any] | None,
                   accumulate: bool, create_graph: bool) -> None:
    """Hand each leaf its gradient: into ``.grad`` (accumulating) and/or to ``grad``'s caller.

    ``.grad`` must own its memory, or an in-place change of one gradient (``zero_()``)
    would alter another: an op may pass one array to two inputs (``x + y`` does) or
    return a view. As PyTorch's AccumulateGrad does, a gradient is stored without a copy
    only when nothing else refers to it; in CPython that is what ``sys.getrefcount``
    tells. The usual case, a fresh array from a matmul or a sum, is never copied.
    """
    while leaf_grads:
        _, (x, g) = leaf_grads.popitem()
        if isinstance(g, np.generic):
            g = np.asarray(g)  # host: NumPy turns 0-d results into scalars; .grad holds an array
        if type(g) is not Tensor:
            # 2 references: the local ``g`` and getrefcount's own argument.
            if getattr(g, "base", None) is not None or sys.getrefcount(g) > 2:
                g = g.copy()
            if accumulate and x.grad is None and g.dtype == x.data.dtype and g.shape == x.data.shape:
                if capture is not None and id(x) in capture:
                    capture[id(x)] = g
                grad = Tensor.__new__(Tensor)  # Tensor._wrap, inlined on this hot path
                grad.data, grad.grad, grad.grad_fn, grad.requires_grad = g, None, None, False
                grad._version = 0
                x.grad = grad
                continue
        if capture is not None and id(x) in capture:
            capture[id(x)] = g
        if accumulate:
            _accumulate(x, g, create_graph)


def _collect_leaf(leaf_grads: dict[int, tuple[Tensor, Any]], x: Tensor, g: Any) -> None:
    key = id(x)
    if key in leaf_grads:
        leaf_grads[key] = (x, leaf_grads[key][1] + g)
    else:
        leaf_grads[key] = (x, g)
    if type(leaf_grads) is not dict:
        leaf_grads.arrived(key)  # type: ignore[attr-defined]


class _HookedLeafGrads(dict):
    """The leaves' gradients during a backward where some leaf has a post-accumulate-grad hook.

    ``uses`` counts the gradients still to arrive at each hooked leaf; when the last one
    arrives the leaf is finished at once (its ``.grad`` filled, its hooks run), in the
    middle of the walk, instead of with the other leaves at the end.
    """

    def __init__(self, uses: dict[int, int], capture: dict[int, Any] | None, create_graph: bool) -> None:
        super().__init__()
        self.uses, self.capture, self.create_graph = uses, capture, create_graph

    def arrived(self, key: int) -> None:
        left = self.uses.get(key)
        if left is None:
            return
        if left > 1:
            self.uses[key] = left - 1
            return
        del self.uses[key]
        x = self[key][0]
        _finish_leaves({key: self.pop(key)}, self.capture, True, self.create_graph)
        grad_hooks.run_hooks(x)


def _as_grad_tensor(g: Any, like: Tensor) -> Tensor:
    if isinstance(g, Tensor):
        return g
    if isinstance(g, np.generic):
        g = np.asarray(g)  # host: a 0-d NumPy result came back as a scalar
    if g.dtype != like.data.dtype:
        g = g.astype(like.data.dtype)  # a gradient always has its tensor's dtype
    return Tensor._wrap(g)


def _accumulate(x: Tensor, g: Any, create_graph: bool) -> None:
    """x.grad += g, as PyTorch's AccumulateGrad (a new gradient is stored as a fresh Tensor)."""
    if g.shape != x.shape:
        raise RuntimeError(f"internal error: gradient of shape {g.shape} for a tensor of shape {x.shape}")
    if x.grad is None:
        x.grad = _as_grad_tensor(g, x)
    elif create_graph or isinstance(g, Tensor) or x.grad.grad_fn is not None:
        x.grad = x.grad + (g if isinstance(g, Tensor) else Tensor._wrap(g))
    else:
        x.grad = Tensor._wrap(x.grad.data + g)


def _keep_nonleaf_grad(fn: Function, gy: Any, create_graph: bool) -> None:
    """Store a non-leaf's gradient in its ``.grad`` (after ``retain_grad()``)."""
    t = fn.retained()
    if t is None:
        return
    g = gy if isinstance(gy, Tensor) else gy.copy()  # gy flows on to other nodes: keep a copy
    _accumulate(t, g, create_graph)


def _capture_output(fn: Function, gy: Any, capture: dict[int, Any]) -> None:
    out = getattr(fn, "_capture_ref", None)
    if out is not None and id(out) in capture:
        capture[id(out)] = gy


def _root_gradient(t: Tensor, gradient: Any, create_graph: bool) -> Any:
    if gradient is None:
        if t.data.size != 1:
            raise RuntimeError(
                f"backward() without a gradient needs a scalar output (got shape {t.shape}); "
                "pass gradient= with the output's shape, or reduce the output first (e.g. .sum())")
        xp = backend.get_array_module(t.data)
        g = xp.array(1, dtype=t.dtype) if t.ndim == 0 else xp.ones(t.shape, dtype=t.dtype)
        return Tensor._wrap(g) if create_graph else g
    if isinstance(gradient, Tensor):
        g = gradient if create_graph else gradient.data
    else:
        g = Tensor(gradient, dtype=t.dtype).data
        if create_graph:
            g = Tensor._wrap(g)
    if tuple(g.shape) != tuple(t.shape):
        raise RuntimeError(f"gradient has shape {tuple(g.shape)} but the output has shape {t.shape}")
    return g


def backward(tensor: Tensor, gradient: Any = None, retain_graph: bool | None = None,
             create_graph: bool = False, inputs: Sequence[Tensor] | None = None) -> None:
    """Add ∂tensor/∂leaf to ``leaf.grad`` for every leaf that requires a gradient.

    ``gradient`` is ∂L/∂tensor for a non-scalar ``tensor`` (a vector-Jacobian product).
    ``create_graph=True`` records the backward pass itself, so the gradients can be
    differentiated again. ``retain_graph`` (default: ``create_graph``) allows walking the
    same graph again. ``inputs`` limits accumulation to the given leaves.
    """
    if not tensor.requires_grad:
        raise RuntimeError("backward() on a tensor that does not require grad: no input of the "
                           "computation had requires_grad=True (or it ran under no_grad)")
    if retain_graph is None:
        retain_graph = create_graph
    g = _root_gradient(tensor, gradient, create_graph)
    if inputs is None:
        _run_backward([tensor], [g], create_graph, retain_graph, None, accumulate=True)
        return
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    found = grad([tensor], inputs, [g], retain_graph=retain_graph, create_graph=create_graph,
                 allow_unused=True)
    for x, gx in zip(inputs, found):
        if gx is not None:
            _accumulate(x, gx if create_graph else gx.data, create_graph)


def grad(outputs: Tensor | Sequence[Tensor], inputs: Tensor | Sequence[Tensor],
         grad_outputs: Any = None, retain_graph: bool | None = None, create_graph: bool = False,
         allow_unused: bool = False) -> tuple[Tensor | None, ...]:
    """∂outputs/∂inputs, returned rather than accumulated into ``.grad`` (``torch.autograd.grad``).

    With ``create_graph=True`` the returned gradients are part of a new graph, so they can
    be differentiated again: a Hessian-vector product is
    ``grad(grad(loss, w, create_graph=True)[0] @ v, w)``.
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: {len(outputs)} outputs but {len(grad_outputs)} grad_outputs")
    for i, x in enumerate(inputs):
        if not x.requires_grad:
            raise RuntimeError(f"grad: inputs[{i}] does not require grad")
    for out in outputs:
        if not out.requires_grad:
            raise RuntimeError("grad: an output does not require grad (nothing to differentiate)")
    if retain_graph is None:
        retain_graph = create_graph
    roots = [_root_gradient(o, g, create_graph) for o, g in zip(outputs, grad_outputs)]

    capture: dict[int, Any] = {id(x): None for x in inputs}
    marked = []
    for x in inputs:
        if x.grad_fn is not None:  # a non-leaf input: catch the gradient of its node's output
            x.grad_fn._capture_ref = x  # type: ignore[attr-defined]
            marked.append(x.grad_fn)
    try:
        _run_backward(outputs, roots, create_graph, retain_graph, capture, accumulate=False)
    finally:
        for fn in marked:
            fn._capture_ref = None  # type: ignore[attr-defined]

    result: list[Tensor | None] = []
    for i, x in enumerate(inputs):
        g = capture[id(x)]
        if g is None:
            if not allow_unused:
                raise RuntimeError(f"grad: inputs[{i}] was not used to compute the outputs "
                                   "(pass allow_unused=True to get None for it)")
            result.append(None)
        else:
            result.append(g if isinstance(g, Tensor) else _as_grad_tensor(g, x))
    return tuple(result)
