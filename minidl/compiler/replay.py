"""Replay: the recorded steps as one straight-line Python function over arrays.

The recording (:mod:`minidl.compiler.capture`) becomes Python source, one line per step,
with a local variable per slot::

    def replay(a0, a1):
        v0 = a0.data                    # input 0
        v2 = L2.data                    # a parameter, read live
        v4 = F3(v0, v2, v3)             # Linear.forward
        ...
        v20 = B11(v19, v0, v2, v3)      # Linear.backward
        G14(v20)                        # tensor(128, 64).grad
        C15()                           # SGD.step()
        return v9

Running it does the same array operations as eager, in the same order, on the same
values, so the results are bit-equal — but no Tensor is made, no graph is built, no heap
is walked and no version is checked. That is the "unfused" replay (``fuse=False``);
:mod:`minidl.compiler.fusion` rewrites some lines into fused kernels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minidl.compiler.capture import Step, Tracer
from minidl.engine.tensor import Tensor


def _scalar_as_array(y: Any) -> Any:
    """NumPy reductions return scalars; a slot holds an array (as ``Function.__call__`` does)."""
    return np.asarray(y) if isinstance(y, np.generic) else y  # host: only NumPy makes NumPy scalars


def _slot_name(s: int) -> str:
    return f"v{s}"


def step_line(i: int, step: Step, ns: dict[str, Any], v: Any = _slot_name) -> str:
    """One step as a line of Python, with its label as a comment (see :func:`_code`)."""
    return f"{_code(i, step, ns, v)}  # {step.label}"


def _code(i: int, step: Step, ns: dict[str, Any], v: Any = _slot_name) -> str:
    """One step as a line of Python; the callables it names are put into ``ns``.

    ``v(slot)`` names the variable that holds a slot (the plan renames slots that share a
    buffer in place)."""
    name = {"forward": "F", "backward": "B", "add": "A", "ones": "O", "grad": "G", "call": "C",
            "provider": "P", "bind": "K"}[step.kind] + str(i)
    args = ", ".join(v(s) for s in step.ins)
    if step.kind == "bind":
        ns[name] = step.op
        return f"{name}.{step.fn} = {v(step.ins[0])}"
    if step.kind == "add" and not step.extra.get("wrapped"):
        return f"v{step.outs[0]} = {v(step.ins[0])} + {v(step.ins[1])}"
    ns[name] = step.fn
    call = f"{name}({args})"
    if step.kind == "forward" and step.extra.get("scalar"):
        call = f"_asarray({call})"
    outs = [f"v{o}" if o is not None else "_" for o in step.outs]
    if step.tuple_out:
        return f"{', '.join(outs)}{',' if len(outs) == 1 else ''} = {call}"
    if step.outs[0] is None:
        return call
    return f"{outs[0]} = {call}"


def output_expr(value: Any, tr: Tracer, ns: dict[str, Any]) -> str:
    """Python for the function's return value, rebuilt from slots (Tensors become new Tensors)."""
    if isinstance(value, Tensor):
        s = tr.slot_of.get(id(value.data))
        if s is None or tr.slots[s].kind in ("leaf", "const"):
            key = f"R{len(ns)}"
            ns[key] = value
            return key
        return f"_wrap(v{s})"
    if isinstance(value, (tuple, list)):
        items = ", ".join(output_expr(v, tr, ns) for v in value)
        return f"({items}{',' if len(value) == 1 else ''})" if isinstance(value, tuple) else f"[{items}]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {output_expr(v, tr, ns)}" for k, v in value.items()) + "}"
    key = f"R{len(ns)}"
    ns[key] = value  # a Python value: baked, as torch.compile does with constants it returns
    return key


def slot_reads(tr: Tracer, ns: dict[str, Any]) -> list[str]:
    """The lines that load inputs and leaves into their slots; constants go into ``ns``."""
    lines = []
    for s, slot in enumerate(tr.slots):
        if slot.kind == "input":
            lines.append(f"v{s} = a{slot.source}.data" if slot.from_tensor else f"v{s} = a{slot.source}")
        elif slot.kind == "leaf":
            ns[f"L{s}"] = slot.source
            name = tr.names.get(id(slot.source))
            lines.append(f"v{s} = L{s}.data" + (f"  # {name}" if name else ""))
        elif slot.kind == "const":
            ns[f"v{s}"] = slot.source
    return lines


def build(tr: Tracer, result: Any, steps: list[str] | None = None,
          ns: dict[str, Any] | None = None) -> tuple[Any, str]:
    """``(replay, source)``: the function that replays ``tr``'s recording, and its source."""
    ns = {} if ns is None else ns
    ns.update(_wrap=Tensor._wrap, _asarray=_scalar_as_array)
    body = slot_reads(tr, ns)
    if steps is None:
        steps = [step_line(i, st, ns) for i, st in enumerate(tr.steps)]
    body += steps
    body.append(f"return {output_expr(result, tr, ns)}")
    args = ", ".join(f"a{i}" for i in range(tr.n_inputs))
    source = f"def replay({args}):\n" + "".join(f"    {line}\n" for line in body)
    code = compile(source, "<minidl.compile replay>", "exec")
    exec(code, ns)  # noqa: S102 - our own generated source
    return ns["replay"], source
