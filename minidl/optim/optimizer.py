"""``Optimizer``: parameter groups, per-parameter state, one ``step``, and saving both (``torch.optim.Optimizer``)."""

from __future__ import annotations

import copy
import functools
import math
import numbers
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from minidl import backend
from minidl.engine.grad_mode import enable_grad
from minidl.engine.tensor import Tensor
from minidl.hooks import RemovableHandle
from minidl.optim.transforms import GradientTransformation, step_in_place

#: ``step_function(param, grad, state)``: one parameter's update, in place (arrays, not Tensors).
StepFunction = Callable[[Any, Any, dict[str, Any]], None]


class Optimizer:
    """Base class: holds ``param_groups`` (each a dict of params and settings) and ``state``.

    :meth:`step` is written once, here. An optimizer class supplies two things:

    - ``_rule(group)``: its update rule for a group's settings, a pure function of arrays
      from :mod:`minidl.optim.rules` — the formula lives there. The rule's ``init`` also makes
      each parameter's state (PyTorch's keys and layout).
    - optionally ``_step_function(group)``: the in-place step that runs the rule, replaced by
      a fused kernel tested equal to it where one exists (SGD, Adam).

    A subclass does not override ``step``. A parameter whose ``.grad`` is None is skipped,
    with no change to its state (PyTorch's rule); a zero gradient is a real step (Adam's
    moments and t still advance). Hooks registered with :meth:`register_step_pre_hook` /
    :meth:`register_step_post_hook` run around every ``step()`` (pruning uses a post hook to
    keep pruned weights at exactly zero).
    """

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self._step_pre_hooks: dict[int, Callable[..., Any]] = {}
        self._step_post_hooks: dict[int, Callable[..., Any]] = {}
        self.defaults = defaults
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        if hasattr(params, "parameters") and not isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or "
                            f"dicts, but got the module {_type_name(params)}: pass model.parameters()")
        if isinstance(params, Tensor) or not isinstance(params, Iterable):
            # list(tensor) would iterate over its rows and optimize slices, never the tensor itself
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or "
                            f"dicts, but got {_type_name(params)}")
        if isinstance(params, dict):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or "
                            "dicts, but got a dict: put one parameter group in a list, [{'params': ...}]")
        if isinstance(params, (set, frozenset)):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the "
                            "ordering of tensors in sets will change between runs. Please use a list instead.")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a group of parameters with its own settings (e.g. no weight decay for biases).

        The same parameter may appear only once across all groups. Listed twice in one group
        is an error too: PyTorch warns and then steps that parameter twice per ``step()``.
        """
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"a parameter group must be a dict with a 'params' entry (got {_type_name(group)})")
        params = group["params"]
        if isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the "
                            "ordering of tensors in sets will change between runs. Please use a list instead.")
        params = [params] if isinstance(params, Tensor) else list(params)
        first_at: dict[int, int] = {}
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {_type_name(p)}")
            if not p.requires_grad:
                raise ValueError("optimizer got a tensor that does not require grad")
            if id(p) in first_at:
                raise ValueError(f"a parameter group lists the same parameter twice (positions "
                                 f"{first_at[id(p)]} and {i}, shape {p.shape}); pass each parameter once "
                                 "(PyTorch warns and steps it twice)")
            first_at[id(p)] = i
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        unknown = set(group) - set(self.defaults) - {"params"}
        if unknown:
            raise TypeError(f"unknown optimizer setting(s) {sorted(unknown)}; "
                            f"this optimizer takes {sorted(self.defaults)}")
        full = dict(self.defaults)
        full.update(group)
        full["params"] = params
        self._validate(full)
        self.param_groups.append(full)

    def _validate(self, group: dict[str, Any]) -> None:
        """Subclasses check their settings here and raise an error naming the bad one."""
        if "lr" in group:
            _check_number("lr", group["lr"], low=0.0)
        if "maximize" in group:
            _check_bool("maximize", group["maximize"])

    # -- one step -----------------------------------------------------------------------------
    def _rule(self, group: dict[str, Any]) -> GradientTransformation:  # pragma: no cover - abstract
        """The update rule (:mod:`minidl.optim.rules`) for ``group``'s settings."""
        raise NotImplementedError

    def _step_function(self, group: dict[str, Any]) -> StepFunction:
        """One parameter's in-place step under ``group``'s settings: the rule, as written."""
        return functools.partial(step_in_place, self._rule(group))

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; returns ``closure()``'s loss if given.

        Order: pre hooks, ``closure()`` (with gradients on), the update of each parameter,
        post hooks. Each updated parameter's version counter goes up by one, as PyTorch's,
        so a graph that saved it before the step refuses to backward through the old value.
        """
        for hook in list(self._step_pre_hooks.values()):
            hook(self)
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            update = None  # made once per group and step: schedulers change the settings between steps
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad.data
                if grad.shape != p.data.shape:
                    raise ValueError(f"a parameter of shape {p.data.shape} has a gradient of shape "
                                     f"{grad.shape}")
                if update is None:
                    update = self._step_function(group)
                state = self.state.get(p)
                if state is None:
                    state = self.state[p] = self._rule(group).init(p.data)
                update(p.data, grad, state)
                p._version += 1  # PyTorch's version counter: backward refuses a graph that saved p
        for hook in list(self._step_post_hooks.values()):
            hook(self)
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of every parameter (to None by default, as PyTorch ≥ 2.0)."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad = Tensor._wrap(backend.get_array_module(p.grad.data).zeros_like(p.grad.data))

    def register_step_pre_hook(self, hook: Callable[[Optimizer], None]) -> RemovableHandle:
        """Call ``hook(optimizer)`` before every ``step()``; ``handle.remove()`` undoes it."""
        return RemovableHandle(self._step_pre_hooks, hook)

    def register_step_post_hook(self, hook: Callable[[Optimizer], None]) -> RemovableHandle:
        """Call ``hook(optimizer)`` after every ``step()``; ``handle.remove()`` undoes it."""
        return RemovableHandle(self._step_post_hooks, hook)

    # -- saving and restoring ---------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}``, as PyTorch.

        Parameters are referred to by their position across the groups, so the dict can be
        loaded into an optimizer built the same way over a freshly made model.
        """
        index = {}
        groups = []
        for g in self.param_groups:
            packed = {k: v for k, v in g.items() if k != "params"}
            packed["params"] = []
            for p in g["params"]:
                index.setdefault(id(p), len(index))
                packed["params"].append(index[id(p)])
            groups.append(packed)
        # empty states (plain SGD keeps none) are left out, as in PyTorch's state_dict
        state = {index[id(p)]: dict(s) for p, s in self.state.items() if id(p) in index and s}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore settings and state saved by :meth:`state_dict` (arrays are copied).

        Everything is checked first — the layout, the number of groups and of parameters in
        each, every setting, each state's keys, shapes and dtypes — and nothing changes unless
        all of it fits: a failed load leaves the optimizer exactly as it was.
        """
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= state_dict.keys():
            got = sorted(map(str, state_dict)) if isinstance(state_dict, dict) else _type_name(state_dict)
            raise TypeError("optimizer.load_state_dict expects the dict optimizer.state_dict() made, with "
                            f"'state' and 'param_groups' (got {got})")
        groups, states = state_dict["param_groups"], state_dict["state"]
        if not isinstance(groups, (list, tuple)) or not all(isinstance(g, dict) and "params" in g for g in groups):
            raise TypeError("optimizer state_dict['param_groups'] must be a list of dicts with 'params' "
                            f"(got {_type_name(groups)})")
        if not isinstance(states, dict):
            raise TypeError(f"optimizer state_dict['state'] must be a dict (got {_type_name(states)})")
        if len(groups) != len(self.param_groups):
            raise ValueError(f"loaded state has {len(groups)} parameter groups, "
                             f"this optimizer has {len(self.param_groups)}")
        new_settings: list[dict[str, Any]] = []
        param_at: dict[int, tuple[Tensor, dict[str, Any]]] = {}  # saved index -> (parameter, its new group)
        for i, (saved, own) in enumerate(zip(groups, self.param_groups)):
            if len(saved["params"]) != len(own["params"]):
                raise ValueError(f"loaded parameter group {i} has {len(saved['params'])} parameters, "
                                 f"this optimizer's has {len(own['params'])}")
            settings = {k: copy.deepcopy(v) for k, v in saved.items() if k != "params"}
            merged = {**own, **settings}
            self._validate(merged)  # may normalize (betas to a tuple): keep what it made
            new_settings.append({k: merged[k] for k in settings})
            for saved_index, p in zip(saved["params"], own["params"]):
                if isinstance(saved_index, bool) or not isinstance(saved_index, numbers.Integral):
                    raise TypeError(f"loaded parameter group {i} refers to a parameter by {saved_index!r}; "
                                    "expected integer indices")
                if int(saved_index) in param_at:
                    raise ValueError(f"loaded state lists parameter index {saved_index} twice")
                param_at[int(saved_index)] = (p, merged)
        new_state: dict[Tensor, dict[str, Any]] = {}
        for key, saved_state in states.items():
            try:
                index = int(key)
            except (TypeError, ValueError):
                raise TypeError(f"loaded optimizer state has the key {key!r}; expected a parameter index") from None
            if index not in param_at:
                raise ValueError(f"loaded optimizer state is for parameter index {index}, which no "
                                 "parameter group lists")
            p, group = param_at[index]
            new_state[p] = self._restore_state(index, saved_state, p, group)
        self.state = new_state
        for own, settings in zip(self.param_groups, new_settings):
            own.update(settings)

    def _restore_state(self, index: int, saved: Any, param: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        """One parameter's loaded state, checked against the state its rule makes, as new arrays."""
        where = f"loaded optimizer state for parameter {index}"
        if not isinstance(saved, dict):
            raise TypeError(f"{where} must be a dict (got {_type_name(saved)})")
        fresh = self._rule(group).init(param.data)
        unknown = saved.keys() - fresh.keys()
        # a value that starts as None (a momentum buffer before its first step) may be absent
        missing = {k for k, v in fresh.items() if v is not None} - saved.keys()
        if unknown or missing:
            raise ValueError(f"{where} has the keys {sorted(saved)}; {type(self).__name__} with these "
                             f"settings keeps {sorted(fresh)}")
        return {k: _restore(f"{where}, {k!r}", v, fresh[k], param) for k, v in saved.items()}

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(g.items()) if k != "params"]
        return "\n".join(lines + [")"])


def _type_name(value: Any) -> str:
    if isinstance(value, Tensor):
        return f"minidl.Tensor of shape {value.shape}"
    return type(value).__name__


def _check_number(name: str, value: Any, low: float | None = None, high: float | None = None,
                  high_open: bool = False) -> None:
    """Raise TypeError unless ``value`` is a finite real number, ValueError unless it is in range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"invalid {name}: expected a number (got {type(value).__name__} {value!r})")
    if not math.isfinite(value):  # a NaN or infinite setting would turn every weight NaN
        raise ValueError(f"invalid {name}: expected a finite number (got {value})")
    if low is not None and not value >= low:
        raise ValueError(f"invalid {name}: must be >= {low} (got {value})")
    if high is not None and not (value < high if high_open else value <= high):
        raise ValueError(f"invalid {name}: must be {'<' if high_open else '<='} {high} (got {value})")


def _check_bool(name: str, value: Any) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"invalid {name}: expected True or False (got {type(value).__name__} {value!r})")


def _restore(where: str, value: Any, fresh: Any, like: Tensor) -> Any:
    """``value`` as the rule keeps it: an array of ``like``'s shape and dtype (copied), or a number."""
    if isinstance(value, Tensor):
        value = value.data
    if hasattr(fresh, "shape") or (fresh is None and value is not None):  # an array (a buffer starts as None)
        if not hasattr(value, "shape") or not hasattr(value, "dtype"):
            raise TypeError(f"{where} must be an array of shape {like.shape} (got {_type_name(value)})")
        if value.dtype.kind not in "fiu":
            raise TypeError(f"{where} has dtype {value.dtype}; expected a numeric array (cast to {like.dtype})")
        if tuple(value.shape) != tuple(like.shape):
            raise ValueError(f"{where} has shape {tuple(value.shape)}, but the parameter has shape {like.shape}")
        xp = backend.get_array_module(like.data)
        return xp.array(value, dtype=like.dtype, copy=True)
    if value is None:
        return None
    if hasattr(value, "item") and getattr(value, "size", 1) == 1:  # a step counter saved as a 0-d array
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where} must be a number (got {_type_name(value)})")
    return value
