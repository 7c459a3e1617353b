"""``explain()``: the captured graph, the fusion groups and the buffer plan, as text."""

from __future__ import annotations

from typing import Any


def _shape(slot: Any) -> str:
    if slot.shape is None:
        return "—"
    return f"{str(slot.dtype)}{list(slot.shape)}"


def describe(compiled: Any) -> str:
    """The teaching view of every capture of ``compiled`` (a CompiledFunction)."""
    from minidl.compiler.api import _describe_key

    out = [f"minidl.compile({compiled.__name__}, fuse={compiled.fuse}, fallback={compiled.fallback}): "
           f"{len(compiled.cache)} capture(s)"]
    if compiled.recompile_reasons:
        out.append("recompiled because: " + "; ".join(compiled.recompile_reasons))
    for n, entry in enumerate(compiled.cache):
        tr = entry.tracer
        out.append(f"\n=== capture {n} (replayed {entry.hits} times) ===")
        out.append("guards: " + "; ".join(_describe_key(entry.key)))
        if entry.modules:
            modes = ", ".join(sorted({"train" if t else "eval" for _, t, _ in entry.modules}))
            out.append(f"        modules in {modes} mode: " + ", ".join(type(m).__name__ for m, _, _ in entry.modules))
        out.append("the guards, as generated:\n" + entry.guard_source)
        if entry.run is None:
            out.append(f"runs eagerly: {entry.eager_reason}")
            continue
        out.append(f"\n-- graph: {len(tr.steps)} steps over {len(tr.slots)} slots --")
        for i, st in enumerate(tr.steps):
            ins = ", ".join(f"v{s}" for s in st.ins)
            outs = ", ".join(f"v{o}" for o in st.outs if o is not None)
            shapes = ", ".join(_shape(tr.slots[o]) for o in st.outs if o is not None)
            arrow = f" -> {outs} {shapes}" if outs else ""
            call = (f"{st.label} = {ins}" if st.kind in ("bind", "grad") else st.label
                    if st.label.endswith(")") else f"{st.label}({ins})")
            out.append(f"  {i:3d} {st.kind:8s} {call}{arrow}")
        consts = [(s, sl) for s, sl in enumerate(tr.slots) if sl.kind == "const"]
        if consts:
            out.append("constants baked in at capture: " + ", ".join(f"v{s} {_shape(sl)}" for s, sl in consts))
        if entry.plan is not None:
            out.append(entry.plan.describe())
        else:
            out.append("\n-- unfused replay: every step as recorded --")
        out.append("\n-- generated replay code --\n" + entry.source)
    return "\n".join(out)
