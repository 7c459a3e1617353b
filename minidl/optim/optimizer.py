"""``Optimizer``: parameter groups, per-parameter state, and saving both (``torch.optim.Optimizer``)."""

from __future__ import annotations

import copy
import functools
import numbers
from collections.abc import Callable, Iterable
from typing import Any

from minidl import backend
from minidl.engine.grad_mode import enable_grad
from minidl.engine.tensor import Tensor
from minidl.hooks import RemovableHandle


class Optimizer:
    """Base class: holds ``param_groups`` (each a dict of params and settings) and ``state``.

    Subclasses implement ``step()``. The optimizers in minidl do it in one line,
    ``return self._step_each(closure)``, and supply the rest:

    - ``_rule(group)``: the pure update rule for a group's settings (:mod:`minidl.optim.rules`),
      whose ``init`` also makes each parameter's state (PyTorch's keys and layout);
    - ``_update(param, grad, state, group)``: one parameter's step, in place; by default the
      rule itself, replaced by a fused kernel where one exists (SGD, Adam).

    A parameter whose ``.grad`` is None is skipped, with no change to its state (PyTorch's
    rule); a zero gradient is a real step (Adam's moments and t still advance). Hooks registered with
    :meth:`register_step_pre_hook` / :meth:`register_step_post_hook` run around every
    ``step()`` (pruning uses a post hook to keep pruned weights at exactly zero).
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "step" in cls.__dict__:
            cls.step = _with_step_hooks(cls.__dict__["step"])  # type: ignore[method-assign]

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self._step_pre_hooks: dict[int, Callable[..., Any]] = {}
        self._step_post_hooks: dict[int, Callable[..., Any]] = {}
        self._rules_this_step: dict[int, Any] = {}
        self.defaults = defaults
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add a group of parameters with its own settings (e.g. no weight decay for biases)."""
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors (got {type(p).__name__})")
            if not p.requires_grad:
                raise ValueError("optimizer got a tensor that does not require grad")
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
        """Subclasses check their settings here and raise ValueError naming the bad one."""
        if "lr" in group:
            _check_number("lr", group["lr"], low=0.0)

    # -- one step -----------------------------------------------------------------------------
    def _rule(self, group: dict[str, Any]) -> Any:  # pragma: no cover - abstract
        """The :class:`~minidl.optim.transforms.GradientTransformation` for ``group``'s settings."""
        raise NotImplementedError

    def _update(self, param: Any, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        """Update one parameter (array) and its state in place; the pure rule unless overridden."""
        from minidl.optim.transforms import step_in_place

        rule = self._rules_this_step.get(id(group))
        if rule is None:  # made once per group and step: the settings may change between steps
            rule = self._rules_this_step[id(group)] = self._rule(group)
        step_in_place(rule, param, grad, state)

    def _step_each(self, closure: Callable[[], Any] | None = None) -> Any:
        """``closure()`` (with gradients on) if given, then ``_update`` every parameter with a grad."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        self._rules_this_step = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad.data
                if grad.shape != p.data.shape:
                    raise ValueError(f"a parameter of shape {p.data.shape} has a gradient of shape "
                                     f"{grad.shape}")
                state = self.state.get(p)
                if state is None:
                    state = self.state[p] = self._rule(group).init(p.data)
                self._update(p.data, grad, state, group)
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of every parameter (to None by default, as PyTorch ≥ 2.0)."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad = Tensor._wrap(backend.get_array_module(p.grad.data).zeros_like(p.grad.data))

    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # pragma: no cover - abstract
        """Update every parameter that has a gradient; returns ``closure()``'s loss if given."""
        raise NotImplementedError

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
        """Restore settings and state saved by :meth:`state_dict` (arrays are copied)."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"loaded state has {len(groups)} parameter groups, "
                             f"this optimizer has {len(self.param_groups)}")
        params = []
        for saved, own in zip(groups, self.param_groups):
            if len(saved["params"]) != len(own["params"]):
                raise ValueError(f"a loaded parameter group has {len(saved['params'])} parameters, "
                                 f"this optimizer's has {len(own['params'])}")
            params.extend(zip(saved["params"], own["params"]))
        self.state = {}
        states = {int(k): v for k, v in state_dict["state"].items()}
        for saved_index, p in params:
            if saved_index in states:
                self.state[p] = {k: _restore(v, p) for k, v in states[saved_index].items()}
        for saved, own in zip(groups, self.param_groups):
            for k, v in saved.items():
                if k != "params":
                    own[k] = copy.deepcopy(v)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(g.items()) if k != "params"]
        return "\n".join(lines + [")"])


def _with_step_hooks(step: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(step)
    def step_with_hooks(self: Optimizer, *args: Any, **kwargs: Any) -> Any:
        for hook in list(self._step_pre_hooks.values()):
            hook(self)
        result = step(self, *args, **kwargs)
        for hook in list(self._step_post_hooks.values()):
            hook(self)
        return result

    return step_with_hooks


def _check_number(name: str, value: Any, low: float | None = None, high: float | None = None,
                  high_open: bool = False) -> None:
    """Raise TypeError unless ``value`` is a real number, ValueError unless it is in range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"invalid {name}: expected a number (got {type(value).__name__} {value!r})")
    if low is not None and not value >= low:  # `not >=` also rejects NaN
        raise ValueError(f"invalid {name}: must be >= {low} (got {value})")
    if high is not None and not (value < high if high_open else value <= high):
        raise ValueError(f"invalid {name}: must be {'<' if high_open else '<='} {high} (got {value})")


def _restore(value: Any, like: Tensor) -> Any:
    if isinstance(value, Tensor):
        value = value.data
    if hasattr(value, "shape") and getattr(value, "ndim", 0) > 0:
        xp = backend.get_array_module(like.data)
        if value.shape != like.shape:
            raise ValueError(f"loaded optimizer state of shape {value.shape} for a parameter of "
                             f"shape {like.shape}")
        return xp.array(value, dtype=like.dtype, copy=True)
    return value.item() if hasattr(value, "item") else value
