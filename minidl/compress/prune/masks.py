"""The reparametrization behind pruning: ``weight = weight_orig ⊙ weight_mask``.

Pruning ``module.weight`` (as ``torch.nn.utils.prune`` does) turns the parameter into
two tensors and a hook:

- ``module.weight_orig`` — the same Parameter object as before (so an optimizer built
  earlier still holds it), still learnable;
- ``module.weight_mask`` — a boolean buffer, True where the weight is kept; it is in
  ``state_dict()`` and saved and loaded with the model;
- a forward pre-hook that recomputes ``module.weight = weight_orig * weight_mask`` before
  every forward pass, inside the graph, so the gradient reaching ``weight_orig`` is
  ``∂L/∂weight ⊙ mask``: pruned weights receive exactly zero gradient.

Gradients are not the whole story: momentum and weight decay move a parameter even
when its gradient is zero. The effective weight stays zero anyway (it is multiplied by
the mask), and :func:`enforce_masks` also zeroes ``weight_orig`` at the pruned places
after every optimizer step, so nothing can creep back. :func:`remove` makes pruning
permanent: it bakes the mask into the Parameter (same object) and drops the hook.

Pruning a tensor that is already pruned combines the masks (a unit once pruned stays
pruned), and keeps the parameters in their original order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from minidl import backend
from minidl.engine.ops import mul
from minidl.engine.tensor import Tensor
from minidl.nn.module import Module, Parameter


class MaskHook:
    """The forward pre-hook that recomputes ``module.<name> = <name>_orig ⊙ <name>_mask``.

    ``history`` records how the mask came to be (``"l1_unstructured(amount=0.5)"``, …).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.history: list[str] = []

    def __call__(self, module: Module, args: tuple[Any, ...]) -> None:
        _refresh(module, self.name)

    def __repr__(self) -> str:
        return f"MaskHook({self.name!r}, history={self.history})"


def _find_hook(module: Module, name: str) -> MaskHook | None:
    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, MaskHook) and hook.name == name:
            return hook
    return None


def _refresh(module: Module, name: str) -> None:
    orig = module._parameters[name + "_orig"]
    mask = module._buffers[name + "_mask"]
    setattr(module, name, mul(orig, mask))


def _check_module(module: Any, name: Any) -> None:
    if not isinstance(module, Module):
        raise TypeError(f"expected a Module and a parameter name, got a {type(module).__name__} "
                        f"as the module")
    if not isinstance(name, str):
        raise TypeError(f"the parameter name must be a str (got {type(name).__name__} {name!r})")


def is_pruned(module: Module) -> bool:
    """True if ``module`` or any module inside it has a pruned (masked) parameter."""
    return any(isinstance(h, MaskHook) for m in module.modules() for h in m._forward_pre_hooks.values())


def pruned_parameters(model: Module) -> Iterator[tuple[Module, str]]:
    """Every pruned ``(module, name)`` pair in ``model``."""
    for m in model.modules():
        for hook in list(m._forward_pre_hooks.values()):
            if isinstance(hook, MaskHook):
                yield m, hook.name


def learnable(module: Module, name: str) -> Parameter:
    """The Parameter that training updates: ``<name>_orig`` when pruned, else ``<name>`` itself."""
    _check_module(module, name)
    if _find_hook(module, name) is not None:
        return module._parameters[name + "_orig"]
    p = module._parameters.get(name)
    if p is None:
        have = [k for k, v in module._parameters.items() if v is not None]
        raise ValueError(f"{type(module).__name__} has no parameter {name!r} (its parameters: {have})")
    return p


def get_mask(module: Module, name: str) -> Any:
    """The keep-mask of ``module.<name>`` (all True when it is not pruned); a boolean array."""
    if _find_hook(module, name) is not None:
        return module._buffers[name + "_mask"].data
    p = learnable(module, name)
    return backend.get_array_module(p.data).ones(p.shape, dtype=bool)


def current_weight(module: Module, name: str) -> Any:
    """The weight the module computes with, as an array: ``orig ⊙ mask`` when pruned.

    Always up to date, unlike the attribute ``module.<name>``, which the hook refreshes
    only at the next forward pass (after an optimizer step it still shows the old values).
    """
    p = learnable(module, name)
    if _find_hook(module, name) is None:
        return p.data
    return p.data * module._buffers[name + "_mask"].data


def _as_mask(mask: Any, like: Tensor, what: str = "mask") -> Any:
    m = mask.data if isinstance(mask, Tensor) else mask
    xp = backend.get_array_module(like.data)
    m = xp.asarray(m)
    if tuple(m.shape) != tuple(like.shape):
        raise ValueError(f"{what} has shape {tuple(m.shape)} but the parameter has shape {tuple(like.shape)}")
    if m.dtype != bool:
        if m.dtype.kind not in "biuf" or bool(((m != 0) & (m != 1)).any()):
            raise ValueError(f"{what} must be boolean or hold only 0 and 1 (got dtype {m.dtype})")
        m = m != 0
    return m


def _rename_parameter(module: Module, old: str, new: str) -> None:
    """Rename a registered parameter in place, keeping its position in the registry."""
    params = module._parameters
    items = [(new if k == old else k, v) for k, v in params.items()]
    param = params[old]
    params.clear()
    params.update(items)
    object.__delattr__(module, old)
    object.__setattr__(module, new, param)


def set_mask(module: Module, name: str, keep: Any, method: str) -> Module:
    """Make ``keep`` (a boolean array, True = keep) the mask of ``module.<name>``.

    The low-level step every pruning function ends with; it does not combine with an
    existing mask (use :func:`from_mask` for that). ``method`` is recorded in the history.
    """
    _check_module(module, name)
    hook = _find_hook(module, name)
    param = learnable(module, name)
    keep = _as_mask(keep, param)
    if hook is None:
        _rename_parameter(module, name, name + "_orig")
        module.register_buffer(name + "_mask", Tensor._wrap(keep))
        hook = MaskHook(name)
        module.register_forward_pre_hook(hook)
    else:
        module._buffers[name + "_mask"].data = keep
    hook.history.append(method)
    _refresh(module, name)
    return module


def from_mask(module: Module, name: str, mask: Any) -> Module:
    """Prune ``module.<name>`` with a given mask (True/1 = keep), combined with any mask it has.

    PyTorch calls this ``custom_from_mask``; both names work. Returns ``module``.
    """
    _check_module(module, name)
    keep = _as_mask(mask, learnable(module, name)) & get_mask(module, name)
    return set_mask(module, name, keep, "from_mask")


custom_from_mask = from_mask


def identity(module: Module, name: str) -> Module:
    """Reparametrize ``module.<name>`` with an all-True mask (PyTorch's ``prune.identity``)."""
    return set_mask(module, name, get_mask(module, name), "identity")


def remove(module: Module, name: str) -> Module:
    """Make the pruning of ``module.<name>`` permanent: bake the mask in, drop the mask and hook.

    The weights become ``orig ⊙ mask`` in place, in the same Parameter object (so an
    optimizer built earlier keeps working); ``<name>_orig`` and ``<name>_mask`` disappear.
    Training afterwards may move the zeros again: nothing masks them any more.
    """
    _check_module(module, name)
    hook = _find_hook(module, name)
    if hook is None:
        raise ValueError(f"parameter {name!r} of {type(module).__name__} is not pruned, so there is "
                         "nothing to remove")
    orig = module._parameters[name + "_orig"]
    mask = module._buffers[name + "_mask"].data
    backend.get_array_module(orig.data).multiply(orig.data, mask, out=orig.data)
    _unprune(module, name)
    return module


def _unprune(module: Module, name: str) -> None:
    """Drop the reparametrization without baking the mask in: the original values come back."""
    hook = _find_hook(module, name)
    for key, h in list(module._forward_pre_hooks.items()):
        if h is hook:
            del module._forward_pre_hooks[key]
    delattr(module, name + "_mask")
    module.__dict__.get("_buffer_names", set()).discard(name + "_mask")
    if name in module.__dict__:
        object.__delattr__(module, name)
    _rename_parameter(module, name + "_orig", name)


@contextmanager
def masks_restored(targets: Iterable[tuple[Module, str]]) -> Iterator[None]:
    """Inside the ``with`` block, prune ``targets`` as you like; afterwards their masks are as before.

    Only masks are restored (weights that were never pruned come back unmasked): use it
    for what-if measurements such as sensitivity curves, not around training.
    """
    saved = []
    for module, name in targets:
        _check_module(module, name)
        hook = _find_hook(module, name)
        saved.append((module, name, hook, get_mask(module, name).copy(),
                      len(hook.history) if hook is not None else 0))
    try:
        yield
    finally:
        for module, name, hook, mask, n_history in saved:
            if hook is None:
                if _find_hook(module, name) is not None:
                    _unprune(module, name)
            else:
                module._buffers[name + "_mask"].data = mask
                del hook.history[n_history:]
                _refresh(module, name)


def apply_masks_(model: Module) -> None:
    """Zero ``<name>_orig`` wherever its mask is False, for every pruned tensor in ``model``."""
    for module, name in pruned_parameters(model):
        orig = module._parameters[name + "_orig"]
        mask = module._buffers[name + "_mask"].data
        backend.get_array_module(orig.data).multiply(orig.data, mask, out=orig.data)


def enforce_masks(optimizer: Any, model: Module) -> Any:
    """Keep every pruned weight of ``model`` at exactly zero through ``optimizer``'s steps.

    Registers a step post-hook that re-applies the masks after each ``optimizer.step()``,
    whatever the optimizer keeps in its state (momentum, Adam's moments) and whatever
    weight decay does; masks added later are picked up too. Returns the hook's handle
    (``handle.remove()`` stops it). The masks are applied once right away as well.
    """
    if not hasattr(optimizer, "register_step_post_hook"):
        raise TypeError(f"enforce_masks needs an optimizer with register_step_post_hook "
                        f"(got {type(optimizer).__name__})")
    if not isinstance(model, Module):
        raise TypeError("enforce_masks(optimizer, model): model must be a Module "
                        f"(got {type(model).__name__})")
    apply_masks_(model)
    return optimizer.register_step_post_hook(lambda _optimizer: apply_masks_(model))


def load_pruned_state_dict(model: Module, state_dict: dict[str, Any], strict: bool = True) -> Any:
    """Load a checkpoint saved from a pruned model into a model that may not be pruned yet.

    Every ``<name>_mask`` key in ``state_dict`` first reparametrizes the matching
    parameter (so ``<name>_orig`` and ``<name>_mask`` exist), then the usual
    ``load_state_dict`` copies values and masks in. Returns its ``(missing, unexpected)``.
    """
    modules = dict(model.named_modules())
    for key in state_dict:
        if not key.endswith("_mask"):
            continue
        prefix, _, leaf = key.rpartition(".")
        name = leaf[: -len("_mask")]
        module = modules.get(prefix)
        if module is not None and _find_hook(module, name) is None and name in module._parameters:
            identity(module, name)
    result = model.load_state_dict(state_dict, strict=strict)
    for module, name in pruned_parameters(model):
        _refresh(module, name)
    return result
