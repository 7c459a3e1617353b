"""Hooks that run during ``backward()`` as soon as a leaf's ``.grad`` is final.

PyTorch's ``Tensor.register_post_accumulate_grad_hook(hook)``: ``hook(tensor)`` is called
once per ``backward()``, right after the gradient for ``tensor`` has been accumulated into
``tensor.grad``, while the rest of the backward pass is still running.
:class:`minidl.nn.parallel.DistributedDataParallel` uses it to start sending a bucket of
gradients to the other processes before the backward pass ends.

A leaf's gradient is final once every node of the graph that uses the leaf has run. The
engine counts those uses before it walks the graph (:func:`count_uses`), and only when
some hook is registered, so a backward without hooks costs nothing extra. Hooks fire only
in ``backward()`` (which fills ``.grad``), not in ``minidl.grad`` (which returns gradients)
nor in ``backward(inputs=...)``, which minidl computes through ``grad``.
"""

from __future__ import annotations

import functools
import weakref
from typing import TYPE_CHECKING, Any, Callable, Sequence

from minidl.hooks import RemovableHandle

if TYPE_CHECKING:
    from minidl.engine.tensor import Tensor

# id(tensor) -> (weak reference to it, {handle id: hook}). Keyed by id because Tensor's
# ``==`` is elementwise; the weak reference's callback drops the entry with the tensor.
_registry: dict[int, tuple[weakref.ref, dict[int, Callable[[Any], None]]]] = {}


def register(tensor: Tensor, hook: Callable[[Tensor], None]) -> RemovableHandle:
    """Call ``hook(tensor)`` after each backward's gradient for leaf ``tensor`` is in ``.grad``."""
    if not callable(hook):
        raise TypeError(f"hook must be callable (got {type(hook).__name__})")
    if tensor.grad_fn is not None:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors "
                           "(only leaves accumulate into .grad)")
    key = id(tensor)
    if key not in _registry or _registry[key][0]() is not tensor:
        _registry[key] = (weakref.ref(tensor, functools.partial(_forget, key, _registry)), {})
    return RemovableHandle(_registry[key][1], hook)


def _forget(key: int, registry: dict, ref: weakref.ref) -> None:
    """Drop a dead tensor's hooks (unless its id already belongs to a newer tensor)."""
    entry = registry.get(key)
    if entry is not None and entry[0] is ref:
        del registry[key]


def has_hooks() -> bool:
    return bool(_registry)


def is_hooked(tensor: Tensor) -> bool:
    entry = _registry.get(id(tensor))
    return entry is not None and bool(entry[1]) and entry[0]() is tensor


def run_hooks(tensor: Tensor) -> None:
    entry = _registry.get(id(tensor))
    if entry is not None and entry[0]() is tensor:
        for hook in list(entry[1].values()):
            hook(tensor)


def count_uses(roots: Sequence[Tensor]) -> dict[int, int]:
    """id(leaf) -> how many gradients will arrive at it, for the hooked leaves under ``roots``."""
    uses: dict[int, int] = {}
    seen = set()
    stack = []
    for root in roots:
        if root.grad_fn is None:
            if is_hooked(root):
                uses[id(root)] = uses.get(id(root), 0) + 1
        elif root.grad_fn not in seen:
            seen.add(root.grad_fn)
            stack.append(root.grad_fn)
    while stack:
        fn = stack.pop()
        for x, needed in zip(fn.inputs, fn.needs_input_grad):
            parent = x.grad_fn
            if parent is None:
                if needed and is_hooked(x):
                    uses[id(x)] = uses.get(id(x), 0) + 1
            elif parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return uses
