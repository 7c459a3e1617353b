"""Capture: run a step once, eagerly, and record every array operation it performs.

The first call of a compiled function runs it exactly as eager minidl would, with a
*tracer* switched on. The tracer sees the arrays, never the Python around them:

- each op's ``forward`` (every op goes through ``Function.__call__``);
- the backward pass: ``loss.backward()`` is walked here, node by node in the engine's
  order, so each node's ``backward``, each sum of gradients that meet and each store into
  a leaf's ``.grad`` becomes a recorded step;
- the optimizer: ``opt.zero_grad()`` and ``opt.step()`` (with its hooks: pruning's mask)
  are recorded as calls, replayed as they are;
- *providers*: the few places where minidl computes an op's constants from the data in
  plain Python (cross-entropy's target coefficients, a fake-quantizer's observer, dropout's
  mask) are recorded as steps too, so they are recomputed from the new data on replay.

Each array gets a *slot*. A slot is an input of the function, a leaf (a parameter or a
buffer, read again at every replay, so a replaced ``.data`` is seen), a constant, or the
result of a step. The recording is a straight-line program over slots: no Tensor, no
graph, no heap — what :mod:`minidl.compiler.replay` turns into Python source.

Python that reads a value (``loss.item()``, ``float(t)``, ``if loss > 1:``, ``.numpy()``,
``.tolist()``) cannot be recorded: the next call could take the other branch. It raises
:class:`GraphBreak` naming the user's line (or, with ``fallback=True``, the step runs
eagerly). The switches are swapped in for the capture only, so eager minidl pays nothing.
"""

from __future__ import annotations

import functools
import heapq
import operator
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from minidl import backend
from minidl.engine import autograd, grad_hooks
from minidl.engine.function import Function
from minidl.engine.grad_mode import _State
from minidl.engine.tensor import Tensor
from minidl.nn.module import Module
from minidl.optim.optimizer import Optimizer

_MINIDL_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class CaptureError(RuntimeError):
    """Something in the function cannot be captured (see the message for what and where)."""


class GraphBreak(CaptureError):  # noqa: N818 - the concept's name in torch.compile
    """Data-dependent Python in a compiled function (``.item()``, ``if loss > x``, ...)."""


@dataclass
class Step:
    """One recorded operation: ``outs = fn(*ins)`` over slots.

    ``kind`` is one of ``forward`` (an op's forward), ``backward`` (a node's backward),
    ``add`` (two gradients of one tensor meet), ``ones`` (the root gradient ∂L/∂L),
    ``grad`` (store into a leaf's ``.grad``), ``call`` (``opt.step()``, ``zero_grad()``,
    gradient clipping: replayed as they are), ``provider`` (constants computed from the
    data) or ``bind`` (hand a provider's result to the op that reads it).
    """

    kind: str
    fn: Any
    ins: tuple[int, ...]
    outs: tuple[int | None, ...]
    label: str
    op: Any = None
    tuple_out: bool = False  # fn returns a tuple (unpacked into outs)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Slot:
    """One array of the program: where its value comes from, and its shape and dtype."""

    kind: str  # "input" | "leaf" | "const" | "step"
    shape: tuple[int, ...] | None
    dtype: Any
    source: Any = None  # input index, the leaf Tensor, the constant, or the step index
    nbytes: int = 0
    from_tensor: bool = False  # an input passed as a Tensor (read as .data)


def user_location() -> str:
    """``file:line (function)`` of the innermost frame outside minidl: the user's line."""
    frame = sys._getframe(1)
    while frame is not None:
        name = os.path.abspath(frame.f_code.co_filename)
        if not name.startswith(_MINIDL_DIR + os.sep):
            return f"{frame.f_code.co_filename}:{frame.f_lineno} (in {frame.f_code.co_name})"
        frame = frame.f_back
    return "<unknown>"


def _is_array(x: Any) -> bool:
    return type(x) in backend._by_type or isinstance(x, np.ndarray)


class Tracer:
    """Records steps while the function runs eagerly (see the module docstring)."""

    def __init__(self, fallback: bool) -> None:
        self.fallback = fallback
        self.steps: list[Step] = []
        self.slots: list[Slot] = []
        self.values: list[Any] = []  # capture-time arrays: kept alive, so no id is reused
        self.slot_of: dict[int, int] = {}  # id(array) -> slot
        self.suspended = 0  # > 0 inside recorded calls (opt.step, providers): they run as they are
        self.broken: str | None = None  # why this function runs eagerly (fallback=True only)
        self.modules: dict[int, tuple[Module, bool]] = {}
        self.optimizers: dict[int, Optimizer] = {}
        self.n_inputs = 0
        self.names: dict[int, str] = {}  # id(parameter) -> its name in the outermost module called
        self.input_tensors: set[int] = set()  # ids of the Tensors passed in

    # -- slots ------------------------------------------------------------------------------
    def _new(self, value: Any, kind: str, source: Any) -> int:
        s = len(self.slots)
        shape = tuple(value.shape) if hasattr(value, "shape") else None
        self.slots.append(Slot(kind, shape, getattr(value, "dtype", None), source,
                               int(getattr(value, "nbytes", 0))))
        self.values.append(value)
        if hasattr(value, "shape"):
            self.slot_of[id(value)] = s
        return s

    def input(self, index: int, array: Any, from_tensor: bool) -> int:
        s = self._new(array, "input", index)
        self.slots[s].from_tensor = from_tensor
        return s

    def slot(self, array: Any, tensor: Tensor | None = None) -> int:
        """The slot of an array the program reads: known, or a new leaf/constant."""
        s = self.slot_of.get(id(array))
        if s is not None:
            return s
        if tensor is not None and tensor.grad_fn is None:
            return self._new(array, "leaf", tensor)  # read as tensor.data at every replay
        return self._new(array, "const", array)

    def emit(self, kind: str, fn: Callable[..., Any], ins: list[int], label: str, op: Any = None,
             **extra: Any) -> Any:
        """Run ``fn`` on the slots' current values, record it, and give its results slots."""
        args = [self.values[i] for i in ins]
        self.suspended += 1
        try:
            result = fn(*args)
        finally:
            self.suspended -= 1
        step = Step(kind, fn, tuple(ins), (), label, op, type(result) is tuple, extra)
        index = len(self.steps)
        self.steps.append(step)
        results = result if step.tuple_out else (result,)
        if any(isinstance(r, np.generic) for r in results):
            # NumPy turns 0-d results into scalars (a gradient of a 0-d op): a slot holds an
            # array, so this step hands out 0-d arrays, now and at every replay (same values)
            step.fn = _scalars_as_arrays(fn, step.tuple_out)
            step.extra["wrapped"] = True
            results = tuple(np.asarray(r) if isinstance(r, np.generic) else r for r in results)  # host: NumPy's
            result = results if step.tuple_out else results[0]
        step.outs = tuple(self._new(r, "step", index) if _is_array(r) else None for r in results)
        return result

    # -- what cannot be captured -------------------------------------------------------------
    def unsupported(self, what: str, error: type[CaptureError] = CaptureError) -> None:
        """Raise (or, with fallback, stop recording and let the eager run go on)."""
        where = user_location()
        if self.fallback:
            if self.broken is None:
                self.broken = f"{what} at {where}"
            self.suspended += 1  # the rest of this call just runs eagerly
            return
        raise error(f"{where}: minidl.compile cannot capture {what}. " + _HINT)

    # -- the recorders the switches call ---------------------------------------------------
    def record_forward(self, op: Function, inputs: tuple[Tensor, ...], out: Tensor) -> None:
        ins = [self.slot(x.data, x) for x in inputs]
        for name, value in list(vars(op).items()):  # constants a provider computed: bind them
            if name != "output_data" and _is_array(value):
                s = self.slot_of.get(id(value))
                if s is not None and self.slots[s].kind in ("step", "input"):
                    self.steps.append(Step("bind", name, (s,), (), f"{type(op).__name__}.{name}", op))
        forward = type(op).forward.__get__(op)
        y = out.data
        step = Step("forward", forward, tuple(ins), (), f"{type(op).__name__}.forward", op,
                    extra={"scalar": y.ndim == 0})
        index = len(self.steps)
        self.steps.append(step)
        step.outs = (self._new(y, "step", index),)

    def uncapturable_backward(self, root: Tensor) -> str | None:
        """Why ``root.backward()`` cannot be recorded, or None. Checked over the graph this
        backward walks, before anything runs: a refusal with ``fallback=True`` then lets the
        eager backward run whole. Only the tensors of this graph count (a hooked tensor
        elsewhere in the program is none of this step's business)."""
        seen: set[int] = set()
        stack = [root]
        while stack:
            x = stack.pop()
            fn = x.grad_fn
            if fn is None:
                if grad_hooks.is_hooked(x):
                    return f"a backward into {_tensor_name(x)}, which has a post-accumulate-grad hook"
                if id(x) in self.input_tensors:
                    return "a gradient with respect to an input of the compiled function"
                continue
            if id(fn) in seen:
                continue
            seen.add(id(fn))
            if fn.retained is not None:
                return "retain_grad() on an intermediate tensor"
            stack.extend(t for t, needed in zip(fn.inputs, fn.needs_input_grad) if needed)
        return None

    def record_backward(self, root: Tensor, gradient: Any, retain_graph: bool | None) -> None:
        """``root.backward(gradient)`` as the engine runs it (``autograd._run_backward``), recorded."""
        if retain_graph is None:
            retain_graph = False
        if gradient is None:
            if root.data.size != 1:
                raise RuntimeError(f"backward() without a gradient needs a scalar output (got shape {root.shape})")
            shape, dtype = root.shape, root.dtype
            xp = backend.get_array_module(root.data)
            g0 = self.emit("ones", _ones(xp, shape, dtype), [], "ones")  # ∂L/∂L = 1
            g = self.slot_of[id(g0)]
        else:
            data = gradient.data if isinstance(gradient, Tensor) else Tensor(gradient, dtype=root.dtype).data
            g = self.slot(data, gradient if isinstance(gradient, Tensor) else None)
        pending: dict[Function, int] = {}
        heap: list[tuple[int, Function]] = []
        leaves: dict[int, tuple[Tensor, int]] = {}

        def route(x: Tensor, gs: int) -> None:  # autograd._route / _collect_leaf, recorded
            parent = x.grad_fn
            if parent is None:
                if id(x) in leaves:
                    leaves[id(x)] = (x, self._add(leaves[id(x)][1], gs))
                else:
                    leaves[id(x)] = (x, gs)
            elif parent in pending:
                pending[parent] = self._add(pending[parent], gs)
            else:
                pending[parent] = gs
                heapq.heappush(heap, (-parent.seq, parent))

        route(root, g)
        while heap:
            fn = heapq.heappop(heap)[1]
            gy = pending.pop(fn)
            if fn.freed:
                raise RuntimeError("trying to backward through the graph a second time: its saved values were "
                                   "freed by the first backward. Use backward(retain_graph=True) the first "
                                   "time, or compute the loss again.")
            if any(x._version != v for x, v in zip(fn.inputs, fn.versions)):
                autograd._check_saved_inputs(fn)
            ins = [gy] + [self.slot(x.data, x) for x in fn.inputs]
            if fn.needs_output:
                ins.append(self.slot(fn.output_data))
            gxs = self.emit("backward", type(fn).backward.__get__(fn), ins, f"{type(fn).__name__}.backward", fn)
            step = self.steps[-1]
            if type(gxs) is not tuple:
                gxs = (gxs,)
            for x, gx, out, needed in zip(fn.inputs, gxs, step.outs, fn.needs_input_grad):
                if gx is not None and needed:
                    if out is None:
                        return self.unsupported(f"a gradient of type {type(gx).__name__} from {fn.name}")
                    route(x, out)
            if not retain_graph:
                fn.freed = True
                if fn.needs_output:
                    fn.output_data = None
        for x, gs in leaves.values():
            copy = self._shared(gs)
            self.emit("grad", functools.partial(_store_grad, x, copy=copy), [gs], f"{_tensor_name(x)}.grad",
                      x, copy=copy)

    def _add(self, a: int, b: int) -> int:
        self.emit("add", operator.add, [a, b], "add")  # two gradients of one tensor meet
        return self.steps[-1].outs[0]

    def _shared(self, s: int) -> bool:
        """Does the array in slot ``s`` need copying before it becomes ``.grad`` (it is a view,
        or something else reads it)? The engine decides the same with a reference count."""
        value = self.values[s]
        if self.slots[s].kind != "step" or getattr(value, "base", None) is not None:
            return True
        readers = sum(ins.count(s) for ins in (st.ins for st in self.steps))
        writers = sum(1 for st in self.steps for o in st.outs if o is not None and self.values[o] is value)
        return readers > 0 or writers > 1

    def check_constants(self) -> None:
        """Refuse a constant that is an input in disguise: an input Python converted outside
        minidl's ops (a float64 array handed to a float32 model) would be baked in, and every
        replay would silently reuse the first call's data."""
        inputs = [(s, v) for s, v in enumerate(self.values) if self.slots[s].kind == "input"]
        for s, slot in enumerate(self.slots):
            if slot.kind not in ("const", "leaf") or slot.shape is None:
                continue
            value = self.values[s]
            for i, x in inputs:
                if getattr(x, "shape", None) == value.shape and value.size > 1 and bool((x == value).all()):
                    self.unsupported(f"input {self.slots[i].source} converted outside minidl's ops (its values "
                                     f"reached an op as a new {value.dtype} array, which would be baked in); "
                                     "pass a Tensor (or array) of the model's dtype")
                    return

    def name_parameters(self) -> None:
        """Name each parameter as the outermost module that was called names it ("0.weight"),
        for the labels of ``explain()``."""
        for m, _ in self.modules.values():
            for name, p in m.named_parameters():
                self.names.setdefault(id(p), name)
        for st in self.steps:
            if st.kind == "grad" and id(st.op) in self.names:
                st.label = f"{self.names[id(st.op)]}.grad"

    def bind_last_forward(self, **attributes: Any) -> None:
        """Make the op recorded last read ``attributes`` (provider results) from their slots at
        replay, even where the op holds a converted copy rather than the array itself."""
        index = max(i for i, st in enumerate(self.steps) if st.kind == "forward")
        op = self.steps[index].op
        bound = {st.fn for st in self.steps[:index] if st.kind == "bind" and st.op is op}
        for name, value in attributes.items():
            if name not in bound:
                s = self.slot_of[id(value)]
                self.steps.insert(index, Step("bind", name, (s,), (), f"{type(op).__name__}.{name}", op))

    def provide(self, fn: Callable[..., Any], arrays: list[Any], label: str) -> Any:
        """Run a provider (constants computed from data in Python) and record it."""
        return self.emit("provider", fn, [self.slot(a) for a in arrays], label)

    def call_function(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """A function marked ``recorded_by_compile`` (gradient clipping): replayed as it is.
        A Tensor it returns (clip_grad_norm_'s norm) becomes a slot, so returning it works."""
        if self.suspended:
            return fn(*args, **kwargs)
        # model.parameters() is a generator: spent at capture, it would be empty at every replay
        args = tuple([list(a) if isinstance(a, Iterator) else a for a in args])

        def run() -> Any:
            out = fn(*args, **kwargs)
            return out.data if isinstance(out, Tensor) else out

        out = self.call(run, f"{fn.__name__}(...)")
        return Tensor._wrap(out) if _is_array(out) else out

    def call(self, fn: Callable[[], Any], label: str, op: Any = None) -> Any:
        """Record a call replayed as it is (``opt.step()``): it reads live state each time."""
        return self.emit("call", fn, [], label, op)


def _scalars_as_arrays(fn: Callable[..., Any], many: bool) -> Callable[..., Any]:
    """``fn`` with NumPy scalars among its results turned into 0-d arrays."""
    if many:
        return lambda *a: tuple([np.asarray(r) if isinstance(r, np.generic) else r for r in fn(*a)])  # host
    return lambda *a: np.asarray(fn(*a))  # host: only NumPy makes NumPy scalars


def _ones(xp: Any, shape: tuple[int, ...], dtype: Any) -> Callable[[], Any]:
    if shape == ():
        return lambda: xp.array(1, dtype=dtype)
    return lambda: xp.ones(shape, dtype=dtype)


def _store_grad(x: Tensor, g: Any, copy: bool) -> None:
    """Store ``g`` into ``x.grad`` as the engine's ``_finish_leaves`` / ``_accumulate`` do."""
    if copy:
        g = g.copy()
    current = x.grad
    if current is None:
        if g.dtype != x.data.dtype:
            g = g.astype(x.data.dtype)
        x.grad = Tensor._wrap(g)
    else:
        x.grad = Tensor._wrap(current.data + g)


def _tensor_name(t: Tensor) -> str:
    return f"tensor{tuple(t.shape)}"


_HINT = ("Move it out of the compiled function (return the loss and call .item() outside), "
         "or pass fallback=True to run such steps eagerly.")

# -- the switches: swapped in for a capture, swapped back after -------------------------------
_DATA_READS = ("item", "tolist", "numpy", "__bool__", "__float__", "__int__", "__index__")
_IN_PLACE = ("zero_", "fill_", "copy_", "add_", "sub_", "mul_", "div_", "clamp_", "__setitem__")


class capturing:  # noqa: N801 - a context manager used as ``with capturing(tracer):``
    """Swap the tracer's switches in (class attributes and a few module functions), and back."""

    active: Tracer | None = None

    def __init__(self, tracer: Tracer) -> None:
        self.tracer = tracer
        self.saved: list[tuple[Any, str, Any]] = []

    def _swap(self, owner: Any, name: str, new: Any) -> None:
        self.saved.append((owner, name, owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)))
        setattr(owner, name, new)

    def __enter__(self) -> Tracer:
        if capturing.active is not None:
            raise CaptureError("minidl.compile: a compiled function called another one while capturing; "
                               "compile the outer function only")
        capturing.active = self.tracer
        try:
            self._swap_all(self.tracer)
        except BaseException:
            self.__exit__()
            raise
        return self.tracer

    def _swap_all(self, tr: Tracer) -> None:
        original_call = Function.__call__

        def traced_call(op: Function, *inputs: Tensor) -> Tensor:
            out = original_call(op, *inputs)
            if not tr.suspended:
                tr.record_forward(op, inputs, out)
            return out

        original_backward = Tensor.backward

        def traced_backward(t: Tensor, gradient: Any = None, retain_graph: bool | None = None,
                            create_graph: bool = False, inputs: Any = None) -> None:
            if tr.suspended:
                return original_backward(t, gradient, retain_graph, create_graph, inputs)
            if not t.requires_grad or create_graph or inputs is not None:
                if create_graph or inputs is not None:
                    tr.unsupported("backward(create_graph=True) or backward(inputs=...)")
                return original_backward(t, gradient, retain_graph, create_graph, inputs)
            why = tr.uncapturable_backward(t)
            if why is not None:  # refused before anything is recorded, so eager can still run it all
                tr.unsupported(why)
                return original_backward(t, gradient, retain_graph, create_graph, inputs)
            tr.record_backward(t, gradient, retain_graph)
            return None

        original_module_call = Module.__call__

        def traced_module_call(m: Module, *args: Any, **kwargs: Any) -> Any:
            if not tr.suspended:
                tr.modules.setdefault(id(m), (m, m.training))
            return original_module_call(m, *args, **kwargs)

        self._swap(_State, "recorder", tr.call_function)
        self._swap(Function, "__call__", traced_call)
        self._swap(Tensor, "backward", traced_backward)
        self._swap(Module, "__call__", traced_module_call)
        for name in ("step", "zero_grad"):
            self._swap(Optimizer, name, _recorded_method(tr, Optimizer.__dict__[name], name))
        self._swap(Module, "zero_grad", _recorded_method(tr, Module.__dict__["zero_grad"], "zero_grad"))
        for name in _DATA_READS:
            self._swap(Tensor, name, _data_read(tr, Tensor.__dict__[name], name))
        for name in _IN_PLACE:
            self._swap(Tensor, name, _in_place(tr, Tensor.__dict__[name], name))
        from minidl.compiler import providers

        for owner, name, make in providers.SWITCHES:
            original = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
            self._swap(owner, name, make(tr, original))

    def __exit__(self, *exc: object) -> None:
        for owner, name, value in reversed(self.saved):
            setattr(owner, name, value)
        capturing.active = None


def _recorded_method(tr: Tracer, original: Callable[..., Any], name: str) -> Callable[..., Any]:
    def method(obj: Any, *args: Any, **kwargs: Any) -> Any:
        if tr.suspended:
            return original(obj, *args, **kwargs)
        if name == "step" and (args or kwargs):
            tr.unsupported("optimizer.step(closure)")
            return original(obj, *args, **kwargs)
        if isinstance(obj, Optimizer):
            tr.optimizers[id(obj)] = obj
        label = f"{type(obj).__name__}.{name}({', '.join(map(repr, args))})"
        return tr.call(lambda: original(obj, *args, **kwargs), label, obj)

    return method


def _data_read(tr: Tracer, original: Callable[..., Any], name: str) -> Callable[..., Any]:
    shown = {"__bool__": "bool(tensor) (an `if` on a tensor's value)", "__float__": "float(tensor)",
             "__int__": "int(tensor)", "__index__": "a tensor used as an index"}.get(name, f"tensor.{name}()")

    def method(t: Tensor, *args: Any) -> Any:
        if not tr.suspended:
            tr.unsupported(f"data-dependent Python: {shown} reads a value the graph cannot hold", GraphBreak)
        return original(t, *args)

    return method


def _in_place(tr: Tracer, original: Callable[..., Any], name: str) -> Callable[..., Any]:
    def method(t: Tensor, *args: Any, **kwargs: Any) -> Any:
        if not tr.suspended:
            tr.unsupported(f"the in-place tensor method {name}")
        return original(t, *args, **kwargs)

    return method
