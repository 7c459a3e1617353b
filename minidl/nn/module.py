"""``Module``: a piece of a network that owns parameters and sub-modules, as ``torch.nn.Module``.

Assigning a :class:`Parameter` or a ``Module`` to an attribute registers it; everything
else (``parameters()``, ``state_dict()``, ``train()``, ``repr``) walks that registry.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Callable, Iterator, NamedTuple

from minidl import backend
from minidl.engine.tensor import Tensor
from minidl.hooks import RemovableHandle


class Parameter(Tensor):
    """A Tensor that is a learnable weight: ``requires_grad=True`` and found by ``parameters()``."""

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        super().__init__(data.data if isinstance(data, Tensor) else data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class IncompatibleKeys(NamedTuple):
    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class of layers and networks: subclasses set attributes in ``__init__`` and define ``forward``."""

    training: bool

    def __init__(self) -> None:
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_modules"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()

    # -- registration -------------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError(f"{type(self).__name__}.__init__ must call super().__init__() "
                                 f"before assigning attributes (assigning {name!r})")
        if isinstance(value, Parameter):
            target = "_parameters"
        elif isinstance(value, Module):
            target = "_modules"
        elif name in d.get("_buffer_names", ()):  # re-assigning a registered buffer
            target = "_buffers"
        else:
            target = None
        for registry in ("_parameters", "_modules", "_buffers"):
            if registry != target:
                d[registry].pop(name, None)
        if target is not None:
            d[target][name] = value  # an existing name keeps its place: replacing layer "0" keeps the order
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        for registry in ("_parameters", "_modules", "_buffers"):
            self.__dict__[registry].pop(name, None)
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` under ``name`` (``None`` declares an absent parameter, e.g. no bias)."""
        if param is None:
            self.__dict__["_parameters"].pop(name, None)
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, param)

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """A Tensor that belongs to the module's state but is not learned (running statistics, masks)."""
        d = self.__dict__
        d.setdefault("_buffer_names", set()).add(name)
        if not persistent:
            d.setdefault("_non_persistent", set()).add(name)
        object.__setattr__(self, name, tensor)
        d["_buffers"][name] = tensor

    def add_module(self, name: str, module: Module | None) -> None:
        if module is None:
            self.__dict__["_modules"][name] = None
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, module)

    # -- running ------------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._forward_pre_hooks:
            for hook in list(self._forward_pre_hooks.values()):
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        out = self.forward(*args, **kwargs)
        if self._forward_hooks:
            for hook in list(self._forward_hooks.values()):
                result = hook(self, args, out)
                if result is not None:
                    out = result
        return out

    def register_forward_pre_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """Call ``hook(module, args)`` before ``forward``; it may return replacement args."""
        return RemovableHandle(self._forward_pre_hooks, hook)

    def register_forward_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """Call ``hook(module, args, output)`` after ``forward``; it may return a replacement output."""
        return RemovableHandle(self._forward_hooks, hook)

    # -- walking the tree ---------------------------------------------------------------------
    def named_modules(self, prefix: str = "", memo: set[int] | None = None) -> Iterator[tuple[str, Module]]:
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(f"{prefix}.{name}" if prefix else name, memo)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, child in self._modules.items():
            if child is not None:
                yield name, child

    def children(self) -> Iterator[Module]:
        for _, child in self.named_children():
            yield child

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        """(name, parameter) pairs, each shared parameter once, names like ``"0.weight"``."""
        seen: set[int] = set()
        modules = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for mod_prefix, module in modules:
            for name, p in module._parameters.items():
                if p is None or id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{mod_prefix}.{name}" if mod_prefix else name), p

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        modules = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for mod_prefix, module in modules:
            for name, b in module._buffers.items():
                if b is not None:
                    yield (f"{mod_prefix}.{name}" if mod_prefix else name), b

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call ``fn`` on every sub-module (children first) and on ``self``; returns ``self``."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # -- modes and gradients ------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active); ``train(False)`` is ``eval()``. Returns ``self``."""
        for m in self.modules():
            m.__dict__["training"] = bool(mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode (dropout off). Returns ``self``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's ``.grad`` (to ``None`` by default, as PyTorch ≥ 2.0)."""
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad = Tensor._wrap(backend.get_array_module(p.grad.data).zeros_like(p.grad.data))

    def to(self, target: Any) -> Module:
        """Move every parameter and buffer to a device ("cpu"/"gpu"), or cast floating ones to a dtype.

        Works in place and keeps the Parameter objects, so an optimizer built earlier stays valid.
        """
        is_device = isinstance(target, str) and target in ("cpu", "gpu", "cuda")

        def convert(data: Any) -> Any:
            if is_device:
                return backend.to_device(data, target)
            return data.astype(target) if data.dtype.kind == "f" else data  # as PyTorch: ints stay

        for p in self.parameters():
            p.data = convert(p.data)
            if p.grad is not None:
                p.grad = Tensor._wrap(convert(p.grad.data))
        for b in self.buffers():
            b.data = convert(b.data)
        return self

    def float(self) -> Module:
        return self.to("float32")

    def double(self) -> Module:
        return self.to("float64")

    # -- saving and loading -------------------------------------------------------------------
    def state_dict(self, prefix: str = "") -> OrderedDict[str, Tensor]:
        """Every parameter and persistent buffer by dotted name (the Tensors themselves, as PyTorch)."""
        out: OrderedDict[str, Tensor] = OrderedDict()
        for mod_prefix, module in self.named_modules(prefix):
            skip = module.__dict__.get("_non_persistent", set())
            for name, t in list(module._parameters.items()) + list(module._buffers.items()):
                if t is not None and name not in skip:
                    out[f"{mod_prefix}.{name}" if mod_prefix else name] = t
        return out

    def load_state_dict(self, state_dict: dict[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy values into the existing parameters and buffers (their identity is kept).

        With ``strict=True`` missing or unexpected keys are an error; a shape mismatch is
        always an error, naming the key and both shapes. Nothing is changed unless every
        check passes. ``state_dict`` must be a mapping from names to Tensors or arrays (what
        :meth:`state_dict` and ``minidl.load`` return): anything else is a TypeError naming it.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{type(self).__name__}.load_state_dict: state_dict must be a dict of name -> "
                            f"Tensor or array (as model.state_dict() returns), got {type(state_dict).__name__}")
        not_arrays = [f"{k!r} ({type(v).__name__})" for k, v in state_dict.items()
                      if not isinstance(v, Tensor) and not (hasattr(v, "shape") and hasattr(v, "dtype"))]
        if not_arrays:
            raise TypeError(f"{type(self).__name__}.load_state_dict: every value must be a Tensor or an array; "
                            f"got {', '.join(not_arrays)} (wrap lists with minidl.tensor(...))")
        not_numbers = [f"{k!r} (dtype {v.dtype})" for k, v in state_dict.items()
                       if getattr(v.dtype, "kind", "?") not in "biuf"]
        if not_numbers:
            raise TypeError(f"{type(self).__name__}.load_state_dict: every value must hold numbers; "
                            f"got {', '.join(not_numbers)}")
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        problems = []
        if strict and missing:
            problems.append(f"missing keys: {missing}")
        if strict and unexpected:
            problems.append(f"unexpected keys: {unexpected}")
        for k, t in own.items():
            if k in state_dict:
                value = state_dict[k]
                shape = tuple(getattr(value, "shape", ()))
                if shape != tuple(t.shape):
                    problems.append(f"size mismatch for {k}: the checkpoint has shape {shape}, "
                                    f"the model has shape {tuple(t.shape)}")
        if problems:
            raise RuntimeError(f"error loading state_dict into {type(self).__name__}:\n  "
                               + "\n  ".join(problems))
        for k, t in own.items():
            if k in state_dict:
                value = state_dict[k]
                src = value.data if isinstance(value, Tensor) else value
                xp = backend.get_array_module(t.data)
                t.data[...] = xp.asarray(src).astype(t.data.dtype, copy=False)
        return IncompatibleKeys(missing, unexpected)

    # -- printing -----------------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The text inside ``Name(...)``; layers override it with their settings."""
        return ""

    def __repr__(self) -> str:
        lines = []
        extra = self.extra_repr()
        if extra:
            lines.extend(extra.split("\n"))
        for name, child in self._modules.items():
            child_repr = repr(child).replace("\n", "\n  ")
            lines.append(f"({name}): {child_repr}")
        if not lines:
            return f"{type(self).__name__}()"
        if len(lines) == 1 and not self._modules:
            return f"{type(self).__name__}({lines[0]})"
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._modules))
