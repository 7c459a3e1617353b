"""``minidl.compile``: capture a step once, guard it, replay it (``torch.compile``'s front end)."""

from __future__ import annotations

import builtins
import warnings
from typing import Any, Callable

from minidl.compiler import replay
from minidl.compiler.capture import Tracer, _is_array, capturing
from minidl.engine.grad_mode import _State
from minidl.engine.tensor import Tensor
from minidl.nn.module import Module


class config:  # noqa: N801 - torch._dynamo.config's name
    """Settings shared by every compiled function, as ``torch._dynamo.config``."""

    #: captures kept per compiled function; past it, new guards run eagerly (with a warning)
    cache_size_limit = 8


def _guard_key(inputs: tuple[Any, ...], kw_names: tuple[str, ...]) -> tuple[Any, ...]:
    """What a capture is specialized on, per call: grad mode and each input's kind.

    A Tensor: shape, dtype, requires_grad and array type; an array: shape and dtype; any
    other value (an int, a flag): the value itself, as torch.compile specializes on ints.
    """
    key: list[Any] = [_State.enabled, kw_names]
    for a in inputs:
        if type(a) is Tensor:
            d = a.data
            key.append((type(d), d.shape, d.dtype, a.requires_grad))
        elif hasattr(a, "shape") and hasattr(a, "dtype"):
            key.append((type(a), a.shape, a.dtype))
        else:
            try:
                hash(a)
                key.append(("value", type(a), a))
            except TypeError:
                key.append(("id", id(a)))
    return tuple(key)


def _describe_key(key: tuple[Any, ...]) -> list[str]:
    lines = [f"grad mode {'on' if key[0] else 'off (no_grad)'}"]
    for i, k in enumerate(key[2:]):
        if k[0] in ("value", "id"):
            lines.append(f"input {i} == {k[2] if k[0] == 'value' else 'object #' + str(k[1])}")
        elif len(k) == 4:
            lines.append(f"input {i}: Tensor shape {tuple(k[1])} {k[2]} requires_grad={k[3]}")
        else:
            lines.append(f"input {i}: array shape {tuple(k[1])} {k[2]}")
    return lines


_SCALARS = (bool, int, float, complex, str, type(None))


def _scalar_reads(fn: Any) -> list[tuple[str, str, Any, Any]]:
    """The Python numbers and strings ``fn`` reads from its module's globals and its closure
    cells, as (kind, name, holder, value): a capture bakes them in (``x / temperature``), so
    each one is guarded — a new value captures again, as Dynamo's guards on globals do. Only
    ``fn``'s own code is read: a value read deeper (a module attribute in ``forward``) is baked
    without a guard, like CUDA graphs and TinyJit do; ``explain()`` lists every constant."""
    code = getattr(fn, "__code__", None)
    if code is None:  # a callable object or a builtin: nothing of its own to read
        return []
    reads = []
    names = getattr(fn, "__globals__", {})
    for name in code.co_names:
        if name in names and type(names[name]) in _SCALARS:
            reads.append(("global", name, names, names[name]))
    for name, cell in zip(code.co_freevars, getattr(fn, "__closure__", None) or ()):
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell: assigned later in the enclosing function
            continue
        if type(value) in _SCALARS:
            reads.append(("closure", name, cell, value))
    return reads


_MISSING = object()  # a global deleted, or a closure cell emptied, since the capture


def _current(kind: str, name: str, holder: Any) -> Any:
    """The value a guarded global or closure variable holds now."""
    if kind == "global":
        return holder.get(name, _MISSING)
    try:
        return holder.cell_contents
    except ValueError:
        return _MISSING


class _Entry:
    """One capture: its guards, its replay function and what ``explain()`` shows."""

    def __init__(self, key: tuple[Any, ...], tracer: Tracer, run: Callable[..., Any] | None, source: str,
                 plan: Any = None, reads: list[tuple[str, str, Any, Any]] | None = None) -> None:
        self.key, self.tracer, self.run, self.source, self.plan = key, tracer, run, source, plan
        self.reads = reads or []
        self.eager_reason = tracer.broken
        self.modules = [(m, training, _ids(m._parameters)) for m, training in tracer.modules.values()]
        self.optimizers = [(opt, _group_ids(opt)) for opt in tracer.optimizers.values()]
        self.hits = 0
        self.guard, self.guard_source = _guard_function(key, self.modules, self.optimizers, self.reads)

    def failed_guard(self) -> str | None:
        """None when every guard holds, else what changed (the recompile reason)."""
        for m, training, params in self.modules:
            if m.training is not training:
                return f"{type(m).__name__}.training changed to {m.training} (train/eval)"
            if _ids(m._parameters) != params:
                return f"a parameter of {type(m).__name__} was replaced by another Tensor"
        for opt, groups in self.optimizers:
            if _group_ids(opt) != groups:
                return f"the parameter groups of {type(opt).__name__} changed"
        for kind, name, holder, value in self.reads:
            now = _current(kind, name, holder)
            if type(now) is not type(value) or now != value:
                return f"the {kind} variable {name} changed from {value!r} to " + (
                    "nothing" if now is _MISSING else repr(now))
        return None


def _guard_function(key: tuple[Any, ...], modules: list[Any], optimizers: list[Any],
                    reads: list[tuple[str, str, Any, Any]]) -> tuple[Any, str]:
    """The guards as one generated boolean expression (torch.compile's guards are generated too).

    Identity tests (``is``) only: cheap, and a False here is not final — the caller then
    compares the full key with ``==`` (:meth:`CompiledFunction.__call__`), so a guard that
    fails for a harmless reason (an equal but distinct dtype object) costs time, not a capture.
    """
    ns: dict[str, Any] = {"_S": _State, "_Tensor": Tensor}
    terms = [f"_S.enabled is {key[0]}"]
    if key[1]:  # keyword arguments: the slow path checks their names
        terms.append("False")
    for i, k in enumerate(key[2:]):
        a = f"a{i}"
        if k[0] == "value":
            ns[f"V{i}"], ns[f"W{i}"] = k[2], k[1]
            terms.append(f"type({a}) is W{i} and {a} == V{i}")
        elif k[0] == "id":
            terms.append("False")
        elif len(k) == 4:
            ns[f"T{i}"], ns[f"D{i}"] = k[0], k[2]
            terms.append(f"type({a}) is _Tensor and type({a}.data) is T{i} and {a}.data.shape == {tuple(k[1])!r} "
                         f"and {a}.data.dtype is D{i} and {a}.requires_grad is {k[3]}")
        else:
            ns[f"T{i}"], ns[f"D{i}"] = k[0], k[2]
            terms.append(f"type({a}) is T{i} and {a}.shape == {tuple(k[1])!r} and {a}.dtype is D{i}")
    for j, (m, training, _) in enumerate(modules):
        ns[f"M{j}"] = m
        terms.append(f"M{j}.training is {training}")
        for name, p in m._parameters.items():
            ns[f"M{j}_{name}"] = p
            terms.append(f"M{j}._parameters.get({name!r}) is M{j}_{name}")
    for j, (opt, _) in enumerate(optimizers):
        ns[f"O{j}"] = opt
        terms.append(f"len(O{j}.param_groups) == {len(opt.param_groups)}")
        for g, group in enumerate(opt.param_groups):
            terms.append(f"len(O{j}.param_groups[{g}]['params']) == {len(group['params'])}")
            for n, p in enumerate(group["params"]):
                ns[f"O{j}_{g}_{n}"] = p
                terms.append(f"O{j}.param_groups[{g}]['params'][{n}] is O{j}_{g}_{n}")
    for j, (kind, name, holder, value) in enumerate(reads):
        ns[f"H{j}"], ns[f"R{j}"], ns[f"RT{j}"] = holder, value, type(value)
        now = f"H{j}.get({name!r})" if kind == "global" else f"H{j}.cell_contents"
        terms.append(f"type({now}) is RT{j} and {now} == R{j}")
    args = ", ".join(f"a{i}" for i in range(len(key) - 2))
    source = f"def guard({args}):\n    return (" + "\n            and ".join(terms) + ")\n"
    exec(builtins.compile(source, "<minidl.compile guard>", "exec"), ns)  # noqa: S102 - our own generated source
    return ns["guard"], source


def _ids(params: dict[str, Any]) -> tuple[int, ...]:
    return tuple([id(p) for p in params.values()])


def _group_ids(opt: Any) -> tuple[tuple[int, ...], ...]:
    return tuple([tuple([id(p) for p in g["params"]]) for g in opt.param_groups])


def _attributes_set_by_ops(tr: Tracer) -> list[tuple[Module, str, Tensor]]:
    """Module attributes that hold a result of a recorded op: pruning's forward pre-hook sets
    ``module.weight = weight_orig ⊙ weight_mask`` on every forward. Hooks are Python and do
    not replay, so each replay sets these attributes again from the values it computed —
    code that reads ``module.weight`` between steps (a gradual pruner) sees what eager shows."""
    found = []
    for m, _ in tr.modules.values():
        for name, value in vars(m).items():
            if isinstance(value, Tensor) and name not in m._parameters and name not in m._buffers:
                s = tr.slot_of.get(id(value.data))
                if s is not None and tr.slots[s].kind == "step":
                    found.append((m, name, value))
    return found


def _setting_attributes(run: Callable[..., Any], targets: list[tuple[Module, str]]) -> Callable[..., Any]:
    """``run``, which returns (result, values), wrapped to set ``module.name = value`` for each target."""
    def replay_and_set(*args: Any) -> Any:
        result, values = run(*args)
        for (module, name), value in zip(targets, values):
            setattr(module, name, value)
        return result

    return replay_and_set


class CompiledFunction:
    """What :func:`compile` returns for a function: call it like the function.

    ``explain()`` prints what was captured. ``cache`` holds the captures (at most
    ``config.cache_size_limit``), ``recompile_reasons`` why each new one was made.
    """

    def __init__(self, fn: Callable[..., Any], fuse: bool, fallback: bool) -> None:
        self.fn, self.fuse, self.fallback = fn, fuse, fallback
        self.cache: list[_Entry] = []
        self.recompile_reasons: list[str] = []
        self._warned: set[str] = set()
        self.__wrapped__ = fn
        self.__doc__ = getattr(fn, "__doc__", None)
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not kwargs:  # the fast path: the generated guards of each capture
            for entry in self.cache:
                if entry.guard(*args):
                    entry.hits += 1
                    if entry.run is None:
                        return self.fn(*args)
                    return entry.run(*args)
        names = tuple(sorted(kwargs)) if kwargs else ()
        inputs = args + tuple([kwargs[k] for k in names]) if kwargs else args
        key = _guard_key(inputs, names)
        reason = "first call"
        for entry in self.cache:
            if entry.key == key:
                failed = entry.failed_guard()
                if failed is None:
                    entry.hits += 1
                    if entry.run is None:
                        return self.fn(*args, **kwargs)
                    return entry.run(*inputs)
                reason = failed
            elif reason == "first call":
                reason = "the inputs changed: " + _key_change(entry.key, key)
        if len(self.cache) >= config.cache_size_limit:
            self._warn_once("limit", f"minidl.compile: {self.__name__} was recompiled "
                            f"{config.cache_size_limit} times (config.cache_size_limit); new inputs now run "
                            f"eagerly. Last reason: {reason}. Keep shapes fixed (e.g. drop_last=True) "
                            "or raise minidl.compiler.config.cache_size_limit.")
            return self.fn(*args, **kwargs)
        if self.cache:
            self.recompile_reasons.append(reason)
        return self._capture(key, args, kwargs, inputs)

    def _capture(self, key: tuple[Any, ...], args: tuple[Any, ...], kwargs: dict[str, Any],
                 inputs: tuple[Any, ...]) -> Any:
        tr = Tracer(self.fallback)
        tr.n_inputs = len(inputs)
        for i, a in enumerate(inputs):
            if isinstance(a, Tensor):
                tr.input(i, a.data, True)
                tr.input_tensors.add(id(a))
            elif _is_array(a):
                tr.input(i, a, False)
        reads = _scalar_reads(self.fn)  # before the call: the values the capture will bake in
        with capturing(tr):
            result = self.fn(*args, **kwargs)
            tr.check_constants()
        tr.name_parameters()
        if tr.broken is not None:
            self._warn_once(tr.broken, f"minidl.compile: {self.__name__} runs eagerly for these inputs "
                            f"(fallback=True): it has {tr.broken}. This warning is shown once.")
            self.cache.append(_Entry(key, tr, None, "", reads=reads))
            return result
        attributes = _attributes_set_by_ops(tr)
        recorded = (result, tuple(t for _, _, t in attributes)) if attributes else result
        plan = None
        if self.fuse:
            from minidl.compiler import fusion

            plan = fusion.plan(tr, recorded)
        if plan is not None:
            run, source = plan.run, plan.source
        else:
            run, source = replay.build(tr, recorded)
        if attributes:
            run = _setting_attributes(run, [(m, name) for m, name, _ in attributes])
        self.cache.append(_Entry(key, tr, run, source, plan, reads))
        return result

    def _warn_once(self, tag: str, message: str) -> None:
        if tag not in self._warned:
            self._warned.add(tag)
            warnings.warn(message, UserWarning, stacklevel=3)

    # -- the teaching view --------------------------------------------------------------------
    def explain(self, file: Any = None) -> str:
        """Print (and return) the captured graph, the fusion groups, the buffer plan and the code."""
        from minidl.compiler import explain

        text = explain.describe(self)
        print(text, file=file)
        return text


def _key_change(old: tuple[Any, ...], new: tuple[Any, ...]) -> str:
    if old[0] != new[0]:
        return "grad mode changed (no_grad)"
    a, b = _describe_key(old), _describe_key(new)
    diffs = [f"{x} → {y.split(': ', 1)[-1]}" for x, y in zip(a[1:], b[1:]) if x != y]
    return "; ".join(diffs) or f"{len(old) - 2} → {len(new) - 2} inputs"


class OptimizedModule:
    """What :func:`compile` returns for a module (``torch.compile``'s ``OptimizedModule``).

    Calling it under ``no_grad`` runs the compiled forward (inference); every other
    attribute is the module's own (``parameters()``, ``eval()``, ``state_dict()``...). The
    module itself is ``_orig_mod``. Unlike torch's, it does not compile a forward whose
    output you will call ``backward`` on: minidl records the backward pass only inside the
    compiled function, so with gradients enabled the module runs eagerly (one warning) —
    compile the whole training step instead.
    """

    def __init__(self, module: Module, fuse: bool, fallback: bool) -> None:
        object.__setattr__(self, "_orig_mod", module)
        object.__setattr__(self, "_compiled", CompiledFunction(lambda *a, **k: module(*a, **k), fuse, fallback))
        self._compiled.__name__ = f"{type(module).__name__}.forward"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if _State.enabled:
            self._compiled._warn_once("grad", "minidl.compile(model) compiles inference only (under "
                                      "minidl.no_grad()); with gradients on the model runs eagerly. To compile "
                                      "training, compile the whole step: minidl.compile(train_step).")
            return self._orig_mod(*args, **kwargs)
        return self._compiled(*args, **kwargs)

    forward = __call__

    def explain(self, file: Any = None) -> str:
        return self._compiled.explain(file)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._orig_mod, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._orig_mod, name, value)

    def __repr__(self) -> str:
        return f"OptimizedModule({self._orig_mod!r})"


def compile(model: Callable[..., Any] | Module | None = None, *, fullgraph: bool = False,  # noqa: A001
            dynamic: bool | None = None, fuse: bool = True, fallback: bool = False) -> Any:
    """Compile a training step (or a model's forward): capture it once, replay it after.

    ``minidl.compile(train_step)`` returns a function that, on its first call, runs
    ``train_step`` eagerly while recording every array operation it performs — forward,
    backward, the optimizer's update, pruning's mask, fake quantization — and from then on
    replays the recording with no Tensor objects, no graph building and no version checks
    (:mod:`minidl.compiler.capture`, :mod:`minidl.compiler.replay`). ``minidl.compile(model)``
    returns an :class:`OptimizedModule` whose calls under ``no_grad`` (inference) are compiled
    the same way; to compile training, compile the whole step.

    - **Guards**: a capture is reused only for the same input shapes, dtypes and
      ``requires_grad``, the same grad mode, the same train/eval mode of every module it ran,
      the same parameter Tensors and optimizer parameter groups, and the same values of the
      Python numbers and strings the function reads from its globals and closure
      (``x / temperature``); otherwise the function is
      captured again, up to ``config.cache_size_limit`` (8) captures, then it runs eagerly
      with a warning — as ``torch.compile``. ``recompile_reasons`` says why.
    - **Read live at every replay**: the inputs, each parameter's ``.data``, and everything
      ``opt.step()`` reads (each group's lr — schedulers work —, Adam's step count, momentum
      buffers). The returned loss is a new Tensor without a graph (call ``backward`` inside
      the compiled function, not on its result). ``p.grad`` holds what eager would leave.
    - **Data-dependent Python** (``loss.item()``, ``float(t)``, ``if loss > x:``, ``.numpy()``,
      ``.tolist()``) raises :class:`~minidl.compiler.capture.GraphBreak` naming your line. With
      ``fallback=True`` the function runs eagerly instead (one warning). torch.compile splits
      the function into graphs around such a line ("graph break"); minidl keeps one graph or
      none, which is simpler to reason about and enough for a training step.
    - ``fuse=True`` (the default) plans buffers once and runs the matrix products with BLAS
      into them and chains of elementwise work (bias add + ReLU, the ReLU mask, softmax
      cross-entropy forward and backward, the optimizer update) as generated Numba kernels
      (:mod:`minidl.compiler.fusion`); results agree with eager to float32 rounding.
      ``fuse=False`` replays the same ops unfused and is bit-equal to eager. On a GPU (CuPy
      or the stand-in) the replay is always unfused.

    ``fullgraph=True`` is torch's switch for "no graph breaks": minidl never breaks a graph,
    so it is accepted and means ``fallback=False``. ``dynamic=True`` (shape-polymorphic
    graphs) is not supported: minidl specializes on shapes, as ``dynamic=False``.
    Arrays that your own Python computes from the data between ops (not through minidl's
    ops) are baked in at capture, without an error: a loss that reads ``t.data`` (or
    ``t.numpy()`` outside the function) of an op's result and makes a new tensor from it
    replays the first batch's values, as CUDA graphs and TinyJit would. minidl refuses the
    one case it can see (an input converted outside the ops); ``explain()`` lists every
    constant, so check it when a compiled step trains differently. ``minidl.compress``'s
    ``Distiller`` softens the teacher's logits this way, so it trains eagerly.
    """
    if dynamic:
        raise NotImplementedError("minidl.compile(dynamic=True): minidl specializes every capture on its input "
                                  "shapes (dynamic=False); a new shape is captured again")
    if fullgraph and fallback:
        raise ValueError("minidl.compile: fullgraph=True and fallback=True contradict each other")
    if model is None:  # @minidl.compile(fuse=False) as a decorator factory
        return lambda fn: compile(fn, fullgraph=fullgraph, dynamic=dynamic, fuse=fuse, fallback=fallback)
    if isinstance(model, Module):
        return OptimizedModule(model, fuse, fallback)
    if not callable(model):
        raise TypeError(f"minidl.compile expects a function or a Module (got {type(model).__name__})")
    return CompiledFunction(model, fuse, fallback)
