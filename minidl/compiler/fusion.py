"""The plan (``fuse=True``): lower recorded steps to BLAS calls into planned buffers and
fused Numba kernels; replay the rest as recorded.

Three ideas, each visible in ``explain()``:

- **Lowering.** A step with a known lowering becomes direct array calls: ``Linear``'s
  forward is ``matmul(x, Wᵀ, out=Y)`` and its backward three more products into buffers
  (``G W``, ``Gᵀ x``, ``Σ G``); ``ReLU``'s backward is one kernel. A step without one (a
  convolution, a fake-quantizer, a reshape) is replayed as recorded, so every model still
  compiles.
- **Fusion.** Chains of elementwise work run as one generated kernel
  (:mod:`minidl.compiler.codegen`): the bias add and the ReLU after a product
  (``bias_relu_``); softmax cross-entropy's forward *and* backward, bias included
  (``softmax_cross_entropy_``: the loss and ∂L/∂logits in two passes over the logits,
  where eager makes about ten temporaries); the optimizer's update (the fused loops of
  :mod:`minidl.kernels.optim`, called directly with each group's settings read at replay).
- **Memory planning.** Every array a lowered step writes gets a buffer allocated once; two
  arrays whose lifetimes (first write to last read) do not overlap share one buffer, as
  a register allocator shares registers. Arrays that outlive the step (gradients, which
  ``p.grad`` keeps) get their own; arrays an unlowered step reads are never shared
  (it might keep a view).

What is given up for speed: gradients live in buffers reused at every call (the Tensor
in ``p.grad`` after one call is overwritten by the next, as CUDA graphs' static outputs);
results agree with eager to float32 rounding, not bit for bit (the kernels sum in float64).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from minidl.compiler import replay
from minidl.compiler.capture import Step, Tracer, _store_grad
from minidl.compiler.codegen import warm_up
from minidl.engine.ops.elementwise import ReLU
from minidl.engine.ops.linalg import Linear
from minidl.engine.tensor import Tensor
from minidl.kernels import _State as _kernel_state
from minidl.kernels import optim as fused_optim
from minidl.nn.losses.cross_entropy import SoftmaxCrossEntropy
from minidl.nn.module import Module
from minidl.optim.adam import Adam
from minidl.optim.optimizer import Optimizer
from minidl.optim.sgd import SGD


@dataclass
class Plan:
    """The fused program: its replay function, its source and what ``explain()`` shows."""

    run: Any
    source: str
    groups: list[tuple[str, str]] = field(default_factory=list)  # (what was fused, into what)
    buffers: list[tuple[int, str, list[tuple[int, int, int]]]] = field(default_factory=list)
    unlowered: list[str] = field(default_factory=list)
    step_count: int = 0

    def describe(self) -> str:
        lines = [f"\n-- fusion groups: {len(self.groups)} lowered/fused, {len(self.unlowered)} replayed as "
                 "recorded --"]
        lines += [f"  {what:55s} → {into}" for what, into in self.groups]
        if self.unlowered:
            lines.append("  replayed as recorded: " + ", ".join(self.unlowered))
        total = sum(_nbytes(desc) for _, desc, _ in self.buffers)
        lines.append(f"\n-- buffer plan: {len(self.buffers)} buffers, {total / 1024:.1f} KiB, allocated once --")
        width = max(self.step_count, 1)
        scale = min(1.0, 48 / width)
        for b, desc, lives in self.buffers:
            bar = [" "] * (int(width * scale) + 1)
            for _slot, start, end in lives:
                for k in range(int(start * scale), int(end * scale) + 1):
                    bar[k] = "█" if bar[k] == " " else "▓"
            owners = ", ".join(f"v{slot}[{start}..{end}]" for slot, start, end in lives)
            lines.append(f"  B{b:<3d} {desc:22s} |{''.join(bar)}| {owners}")
        lines.append("  (columns: the steps of the program; a bar: the lines where the buffer holds a live value)")
        return "\n".join(lines)


def _nbytes(desc: str) -> int:
    dtype, shape = desc.split("[", 1)
    dims = [int(d) for d in shape.rstrip("]").split(",") if d.strip()]
    return int(np.prod(dims, dtype=np.int64)) * np.dtype(dtype).itemsize  # host: sizes, not data


def _numpy_only(tr: Tracer) -> bool:
    return all(type(v) is np.ndarray or not hasattr(v, "shape") or isinstance(v, np.generic)
               for v in tr.values)


class _Lowering:
    """Walks the recorded steps and writes the fused program's lines."""

    def __init__(self, tr: Tracer, result: Any) -> None:
        from minidl.compiler import codegen

        self.tr = tr
        self.k = codegen.kernels()
        self.result = result
        self.ns: dict[str, Any] = {
            "_matmul": np.matmul, "_sum": np.sum, "_add": np.add, "_maximum": np.maximum,
            "_bias_relu": self.k.bias_relu_, "_relu_grad": self.k.relu_backward_,
            "_xent": self.k.softmax_cross_entropy_, "_target_error": _target_error,
        }
        self.lines: list[str] = []
        self.groups: list[tuple[str, str]] = []
        self.unlowered: list[str] = []
        self.planned: set[int] = set()  # slots written into planned buffers
        self.alias: dict[int, int] = {}  # slot -> the slot whose buffer it shares (in place)
        self.persistent: set[int] = set()  # slots whose buffer must not be shared (gradients)
        self.skip: set[int] = set()  # step indices absorbed into a fused group
        self.readers = self._readers()
        self.zeroed = self._zeroed_before()
        self.grad_tensors: dict[int, Tensor] = {}

    def _readers(self) -> dict[int, list[int]]:
        readers: dict[int, list[int]] = {}
        for i, st in enumerate(self.tr.steps):
            for s in st.ins:
                readers.setdefault(s, []).append(i)
        return readers

    def _zeroed_before(self) -> dict[int, int]:
        """id(parameter) -> index of the zero_grad() call that clears it (if any) in the program."""
        out: dict[int, int] = {}
        for i, st in enumerate(self.tr.steps):
            if st.kind == "call" and st.label.endswith("zero_grad()"):
                owner = st.op
                params = ([p for g in owner.param_groups for p in g["params"]] if isinstance(owner, Optimizer)
                          else list(owner.parameters()) if isinstance(owner, Module) else [])
                for p in params:
                    out.setdefault(id(p), i)
        return out

    # -- names -----------------------------------------------------------------------------
    def v(self, s: int) -> str:
        return f"v{self.alias.get(s, s)}"

    def out(self, s: int) -> str:
        """Name of a planned output slot (its buffer is bound to v<slot> at the top)."""
        self.planned.add(s)
        return f"v{s}"

    def value(self, s: int) -> Any:
        return self.tr.values[s]

    # -- the walk ----------------------------------------------------------------------------
    def lower(self) -> None:
        steps = self.tr.steps
        self.losses: dict[int, tuple[int, int, int]] = {}  # loss forward -> (provider, backward, seed) steps
        for i, st in enumerate(steps):
            if st.kind == "forward" and type(st.op) is SoftmaxCrossEntropy:
                found = self._cross_entropy_parts(i)
                if found is not None:
                    self.losses[i] = found
                    self.skip.update(found[:3])
                    self.skip.update(k for k, s in enumerate(steps) if s.kind == "bind" and s.op is st.op)
        for i, st in enumerate(steps):
            if i in self.skip:
                continue
            handled = False
            if st.kind == "forward" and type(st.op) is Linear:
                handled = self._linear_forward(i, st)
            elif st.kind == "forward" and type(st.op) is ReLU:
                handled = self._relu_forward(i, st)
            elif st.kind == "backward" and type(st.op) is Linear:
                handled = self._linear_backward(i, st)
            elif st.kind == "backward" and type(st.op) is ReLU:
                handled = self._relu_backward(i, st)
            elif st.kind == "forward" and type(st.op) is SoftmaxCrossEntropy:
                handled = self._cross_entropy(i, st)
            elif st.kind == "add" and self._plannable(st.outs[0]):
                a, b = st.ins
                self.lines.append(f"_add({self.v(a)}, {self.v(b)}, out={self.out(st.outs[0])})")
                handled = True
            elif st.kind == "grad":
                handled = self._grad(i, st)
            elif st.kind == "call" and isinstance(st.op, Optimizer) and st.label.endswith(".step()"):
                handled = self._optimizer_step(i, st)
            if not handled:
                self._as_recorded(i, st)

    def _as_recorded(self, i: int, st: Step) -> None:
        line = replay.step_line(i, st, self.ns, self.v)
        for s in st.ins:  # an unlowered step may keep a view of what it reads: never share those buffers
            self.persistent.add(self.alias.get(s, s))
        self.lines.append(line)
        if st.kind in ("forward", "backward"):
            self.unlowered.append(st.label)

    def _plannable(self, s: int | None) -> bool:
        if s is None:
            return False
        value = self.value(s)
        return type(value) is np.ndarray and value.dtype.kind == "f" and value.flags.c_contiguous

    def _linear_forward(self, i: int, st: Step) -> bool:
        x, w, *b = st.ins
        (y,) = st.outs
        if len(b) != 1 or self.value(x).ndim != 2 or not self._plannable(y):
            return False
        self.lines.append(f"_matmul({self.v(x)}, {self.v(w)}.T, out={self.out(y)})")
        after = self._next_forward(i)
        if after is not None and type(after[1].op) is ReLU and after[1].ins == (y,) \
                and set(self.readers.get(y, [])) <= {after[0]} | self._relu_backward_steps(after[1].op):
            # y is read only by the ReLU and its backward: the ReLU can work in place
            relu_i, relu = after
            self.lines.append(f"_bias_relu({self.v(y)}, {self.v(b[0])})")
            self.alias[relu.outs[0]] = y
            self.skip.add(relu_i)
            self.groups.append((f"{st.label} + {relu.label}", "matmul(out=) + bias_relu_ (Numba)"))
            return True
        if after is not None and after[0] in self.losses and after[1].ins == (y,):
            self.bias_for_loss = (y, b[0])  # the loss kernel adds the bias itself
            self.groups.append((f"{st.label}", "matmul(out=), bias added in the loss kernel"))
            return True
        self.lines.append(f"_add({self.v(y)}, {self.v(b[0])}, out={self.v(y)})")
        self.groups.append((st.label, "matmul(out=) + bias add in place"))
        return True

    def _relu_backward_steps(self, op: Any) -> set[int]:
        return {j for j, s in enumerate(self.tr.steps) if s.kind == "backward" and s.op is op}

    def _next_forward(self, i: int) -> tuple[int, Step] | None:
        for j in range(i + 1, len(self.tr.steps)):
            st = self.tr.steps[j]
            if st.kind == "forward":
                return j, st
            if st.kind not in ("provider", "bind"):
                return None
        return None

    def _relu_forward(self, i: int, st: Step) -> bool:
        (x,), (y,) = st.ins, st.outs
        if not self._plannable(y):
            return False
        self.lines.append(f"_maximum({self.v(x)}, 0, out={self.out(y)})")
        self.groups.append((st.label, "maximum(out=)"))
        return True

    def _relu_backward(self, i: int, st: Step) -> bool:
        gy, x = st.ins
        (gx,) = st.outs
        if gx is None or not self._plannable(gx) or not self._plannable(gy) or not self._plannable(x):
            return False
        shape = self.value(gy).shape
        if len(shape) == 2:
            g, xs = self.v(gy), self.v(x)
        else:  # the kernel takes rows × columns: contiguous arrays reshape for free
            rows = f"({shape[0] if shape else 1}, -1)"
            g, xs = f"{self.v(gy)}.reshape{rows}", f"{self.v(x)}.reshape{rows}"
        if self.readers.get(gy) == [i] and gy in self.planned:
            self.alias[gx] = self.alias.get(gy, gy)  # the last reader of gy: overwrite it
            self.lines.append(f"_relu_grad({g}, {xs}, {g})")
        else:
            out = self.out(gx)
            self.lines.append(f"_relu_grad({g}, {xs}, {out if len(shape) == 2 else out + '.reshape' + rows})")
        self.groups.append((st.label, "relu_backward_ (Numba)"))
        return True

    def _linear_backward(self, i: int, st: Step) -> bool:
        gy, x, w, *b = st.ins
        if self.value(x).ndim != 2 or type(self.value(gy)) is not np.ndarray:
            return False
        outs = list(st.outs) + [None] * (3 - len(st.outs))
        gx, gw, gb = outs
        if any(o is not None and not self._plannable(o) for o in outs):
            return False
        if gx is not None:
            self.lines.append(f"_matmul({self.v(gy)}, {self.v(w)}, out={self.out(gx)})")
        if gw is not None:
            self.lines.append(f"_matmul({self.v(gy)}.T, {self.v(x)}, out={self.out(gw)})")
        if gb is not None:
            self.lines.append(f"_sum({self.v(gy)}, axis=0, out={self.out(gb)})")
        self.groups.append((st.label, "matmul(out=) ×2 + sum(out=)"))
        return True

    def _cross_entropy_parts(self, i: int) -> tuple[int, int, int] | None:
        """(provider, backward, seed) steps of a loss the kernel can take whole: plain class
        targets, mean or sum, its gradient seeded by ``backward()`` on the loss itself."""
        steps = self.tr.steps
        st = steps[i]
        op = st.op
        if op.per_sample or not isinstance(op.row_sums, float):
            return None
        binds = [k for k, s in enumerate(steps) if s.kind == "bind" and s.op is op]
        if [steps[k].fn for k in binds] != ["a"]:
            return None
        a = steps[binds[0]].ins[0]
        provider = [k for k, s in enumerate(steps) if s.kind == "provider" and a in s.outs]
        backward = [k for k, s in enumerate(steps) if s.kind == "backward" and s.op is op]
        if len(provider) != 1 or len(backward) != 1 or self.readers.get(a) != binds:
            return None
        p, j = provider[0], backward[0]
        if len(steps[p].ins) != 1:
            return None
        gy = steps[j].ins[0]
        seed = [k for k, s in enumerate(steps) if gy in s.outs]
        target = self.value(steps[p].ins[0])
        if (len(seed) != 1 or steps[seed[0]].kind != "ones" or self.readers.get(gy) != [j]
                or type(target) is not np.ndarray or target.dtype.kind not in "iu"
                or not self._plannable(steps[j].outs[0]) or not self._plannable(st.ins[0])):
            return None
        return p, j, seed[0]

    def _cross_entropy(self, i: int, st: Step) -> bool:
        if i not in self.losses:
            return False
        provider_i, j, _ = self.losses[i]
        op, provider, bw = st.op, self.tr.steps[provider_i], self.tr.steps[j]
        (z,), (loss,) = st.ins, st.outs
        bias = getattr(self, "bias_for_loss", None)
        if bias is not None and bias[0] == z:
            b = self.v(bias[1])
        else:
            self.ns[f"Z{i}"] = np.zeros(self.value(z).shape[1], dtype=self.value(z).dtype)  # host: NumPy plan
            b = f"Z{i}"
        g = self.out(bw.outs[0])
        self.planned.add(loss)
        t = self.v(provider.ins[0])
        self.lines.append(f"_l = _xent({self.v(z)}, {b}, {t}, {op.row_sums!r}, {g})")
        self.lines.append(f"if _l < 0: _target_error({t}, {self.value(z).shape[1]})")
        self.lines.append(f"v{loss}[()] = _l")
        self.groups.append((f"{provider.label} + {st.label} + {bw.label}",
                            "softmax_cross_entropy_ (Numba): loss and gradient"))
        return True

    def _grad(self, i: int, st: Step) -> bool:
        (g,) = st.ins
        p = st.op
        s = self.alias.get(g, g)
        zeroed = self.zeroed.get(id(p))
        if s not in self.planned:
            return False
        if zeroed is None or zeroed > i or self.readers.get(g) != [i]:
            # .grad may still hold last call's array here (accumulation): store a copy of the
            # buffer, which the next call overwrites
            self.ns[f"G{i}"] = functools.partial(_store_grad, p, copy=True)
            self.lines.append(f"G{i}({self.v(g)})  # {st.label}: a copy")
            self.groups.append((st.label, "a copy of the gradient buffer (accumulates)"))
            return True
        self.persistent.add(s)
        t = Tensor._wrap(self.value(s))
        self.grad_tensors[s] = t
        self.ns[f"P{i}"], self.ns[f"T{i}"] = p, t
        # zero_grad() ran before: .grad is None, so eager would store this array (no copy needed,
        # nothing else reads it). T<i> is a Tensor around the buffer, made once.
        self.lines.append(f"P{i}.grad = T{i}  # {st.label}: the buffer itself")
        self.groups.append((st.label, "the gradient buffer itself (no copy)"))
        return True

    def _optimizer_step(self, i: int, st: Step) -> bool:
        opt = st.op
        if type(opt) not in (SGD, Adam) and type(opt).__name__ != "AdamW":
            return False
        self.ns[f"S{i}"] = FusedOptimizerStep(opt)
        self.lines.append(f"S{i}()")
        self.groups.append((st.label, f"{'sgd' if isinstance(opt, SGD) else 'adam'} loop per parameter "
                            "(Numba, minidl.kernels.optim)"))
        return True


def _target_error(t: np.ndarray, c: int) -> None:
    raise IndexError(f"cross_entropy: target holds a class outside 0..{c - 1} (min {int(t.min())}, max "
                     f"{int(t.max())}); the compiled step's fused loss takes plain class indices only "
                     "(no ignore_index among the targets): use minidl.compile(..., fuse=False) for those")


class FusedOptimizerStep:
    """``opt.step()`` for SGD / Adam / AdamW calling the optimizer's own Numba loop
    (:mod:`minidl.kernels.optim`) directly on flat views made once: the same loop and the same
    bits as eager, without the per-parameter Python around it (partials, dispatch, checks).

    Read at every call, as eager reads them: each group's settings (a scheduler's lr), each
    parameter's ``.data``, ``.grad`` and state, the hooks. Whatever does not match the views
    made last time (a new array, no gradient, no state yet) goes the way ``Optimizer.step``
    goes, parameter by parameter.
    """

    def __init__(self, opt: Optimizer) -> None:
        self.opt, self.is_sgd = opt, isinstance(opt, SGD)
        self.loop = (fused_optim._sgd_loop if self.is_sgd else fused_optim._adam_loop).dispatcher()
        self.views: dict[int, tuple[Any, ...]] = {}  # id(param) -> (its arrays, their flat views)

    def __call__(self) -> None:
        opt = self.opt
        for hook in list(opt._step_pre_hooks.values()):
            hook(opt)
        state, views, loop = opt.state, self.views, self.loop
        for group in opt.param_groups:
            update = None
            if self.is_sgd:
                lr, mu, damp = float(group["lr"]), float(group["momentum"]), float(group["dampening"])
                wd, nesterov, maximize = float(group["weight_decay"]), bool(group["nesterov"]), bool(group["maximize"])
            else:
                b1, b2 = group["betas"]
                lr, b1, b2, eps, wd = float(group["lr"]), float(b1), float(b2), float(group["eps"]), \
                    float(group["weight_decay"])
                amsgrad, maximize, corrected = bool(group["amsgrad"]), bool(group["maximize"]), \
                    bool(group["bias_correction"])
                decoupled = bool(group["decoupled_weight_decay"])
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                st = state.get(p)
                v = views.get(id(p))
                if self.is_sgd:
                    buf = st.get("momentum_buffer") if st is not None and mu != 0 else None
                    if v is not None and v[0] is p.data and v[1] is grad.data and v[2] is buf:
                        loop(v[3], v[4], v[5] if mu != 0 else v[4], lr, mu, damp, wd, maximize, wd != 0,
                             mu != 0, False, nesterov)
                        p._version += 1
                        continue
                elif v is not None and v[0] is p.data and v[1] is grad.data and st is not None \
                        and v[2] is st["exp_avg"] and v[3] is st["exp_avg_sq"]:
                    t = st["step"] + 1
                    bc1, bc2 = (1 - b1**t, 1 - b2**t) if corrected else (1.0, 1.0)
                    loop(v[5], v[6], v[7], v[8], v[9] if amsgrad else v[8], lr, b1, b2, bc1, bc2, eps, wd,
                         maximize, wd != 0 and not decoupled, wd != 0 and decoupled, amsgrad)
                    st["step"] = t
                    p._version += 1
                    continue
                if update is None:
                    update = opt._step_function(group)
                if st is None:
                    st = state[p] = opt._rule(group).init(p.data)
                update(p.data, grad.data, st)  # as Optimizer.step does; then remember flat views
                p._version += 1
                self._remember(p, grad.data, st)
        for hook in list(opt._step_post_hooks.values()):
            hook(opt)

    def _remember(self, p: Tensor, grad: Any, st: dict[str, Any]) -> None:
        if self.is_sgd:
            arrays = (p.data, grad, st.get("momentum_buffer"))
        else:
            arrays = (p.data, grad, st["exp_avg"], st["exp_avg_sq"], st.get("max_exp_avg_sq"))
        present = [a for a in arrays if a is not None]
        if fused_optim.fusable(present[0], *present[1:]):
            self.views[id(p)] = arrays + tuple(a.reshape(-1) if a is not None else None for a in arrays)
        else:
            self.views.pop(id(p), None)


def plan(tr: Tracer, result: Any) -> Plan | None:
    """The fused program for ``tr``'s recording, or None where it cannot fuse (not NumPy,
    Numba switched off): then the unfused replay runs."""
    if not _kernel_state.enabled or not _numpy_only(tr):
        return None
    low = _Lowering(tr, result)
    low.lower()
    used = {name for _, into in low.groups for name in ("bias_relu_", "relu_backward_", "softmax_cross_entropy_")
            if name in into}
    floats = [v.dtype for v in tr.values if type(v) is np.ndarray and v.dtype.kind == "f"]
    targets = [low.value(low.tr.steps[p].ins[0]).dtype for p, _, _ in low.losses.values()]
    for dtype in set(floats) if used else ():  # compile (or load) the kernels now, not mid-step
        warm_up(low.k, used, dtype, targets[0] if targets else np.int64)
    buffers, lives = _allocate(low, tr)
    bind = [f"v{s} = {name}" for s, name in buffers.items()]
    run, source = replay.build(tr, result, steps=bind + low.lines, ns=low.ns)
    # planned outputs are copied on return: the caller keeps the value, the buffer is reused
    return Plan(run, source, low.groups, lives, low.unlowered, len(low.lines))


def _allocate(low: _Lowering, tr: Tracer) -> tuple[dict[int, str], list[tuple[int, str, list[tuple[int, int, int]]]]]:
    """Give each planned slot a buffer; share buffers between slots whose lifetimes do not overlap."""
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for n, line in enumerate(low.lines):
        for s in low.planned:
            if f"v{s}" in _tokens(line):
                first.setdefault(s, n)
                last[s] = n
    for s in low.planned:  # slots read through an alias live as long as their aliases
        for a, target in low.alias.items():
            if target == s and a in last:
                last[s] = max(last[s], last[a])
    outputs = _output_slots(low.result, tr)
    order = sorted(first, key=lambda s: first[s])
    free: list[tuple[int, int]] = []  # (buffer, free from line)
    buffers: list[tuple[np.ndarray, list[tuple[int, int, int]]]] = []
    assigned: dict[int, str] = {}
    for s in order:
        value = tr.values[s]
        shared = s not in low.persistent and s not in outputs
        chosen = None
        if shared:
            for k, (b, free_from) in enumerate(free):
                arr = buffers[b][0]
                if arr.shape == value.shape and arr.dtype == value.dtype and free_from < first[s]:
                    chosen = b
                    free.pop(k)
                    break
        if chosen is None:
            arr = value if s in low.grad_tensors else np.empty_like(value)  # host: planned on NumPy only
            buffers.append((arr, []))
            chosen = len(buffers) - 1
        buffers[chosen][1].append((s, first[s], last[s]))
        assigned[s] = f"B{chosen}"
        if shared:
            free.append((chosen, last[s]))
    for b, (arr, _) in enumerate(buffers):
        low.ns[f"B{b}"] = arr
    for s in outputs & set(assigned):  # returned values are copied out of their buffer
        low.lines.append(f"v{s} = v{s}.copy()")
    lives = [(b, f"{arr.dtype}[{', '.join(map(str, arr.shape))}]", owners) for b, (arr, owners) in enumerate(buffers)]
    return assigned, lives


def _tokens(line: str) -> set[str]:
    import re

    return set(re.findall(r"\bv\d+\b", line.split("  #", 1)[0]))  # the code, not its comment


def _output_slots(value: Any, tr: Tracer) -> set[int]:
    if isinstance(value, Tensor):
        s = tr.slot_of.get(id(value.data))
        return {s} if s is not None else set()
    if isinstance(value, (tuple, list)):
        return set().union(*[_output_slots(v, tr) for v in value]) if value else set()
    if isinstance(value, dict):
        return set().union(*[_output_slots(v, tr) for v in value.values()]) if value else set()
    return set()
