"""Compaction: turn a pruned network into a genuinely smaller dense one with the same outputs.

A hidden unit j of a layer A (a neuron of a Linear, a filter of a Conv2d) can be
removed, together with its row in A and its input column(s) in the next layer B, when

- it is **dead**: its incoming weights and its bias are all zero and the activation
  maps 0 to 0 (ReLU, LeakyReLU, tanh, dropout, pooling; not sigmoid) — it always
  outputs exactly 0, so B never sees anything from it; or
- it is **unused**: B's weights from it are all zero — whatever it outputs is
  multiplied by 0.

Removing one unit can make another removable (a neuron whose only inputs were dead
units), so the passes repeat until nothing changes. A neuron with zero weights but a
nonzero bias outputs a constant and is *kept* (reported as constant): that is why
structured pruning offers ``prune_bias=True`` (PyTorch leaves the bias alone). The model's inputs and final outputs
are never changed.

Works on ``Sequential`` models (``MLP`` is one), looking through nested Sequentials.
Layers are recognized by shape, not by class: a ``weight`` of shape (out, in) is
Linear-like, (out, in, kh, kw) is Conv2d-like (``groups`` must be 1), and a ``Flatten``
between a conv and a Linear maps channel c to the block of columns c·hw … (c+1)·hw − 1.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from minidl import backend
from minidl.compress.prune.masks import pruned_parameters, remove
from minidl.nn.activation import Dropout, Flatten, LeakyReLU, ReLU, Sigmoid, Tanh
from minidl.nn.container import Sequential
from minidl.nn.linear import Identity
from minidl.nn.module import Module

_ZERO_TO_ZERO = (ReLU, LeakyReLU, Tanh, Dropout, Identity, Flatten)
_TRANSPARENT = _ZERO_TO_ZERO + (Sigmoid,)  # per-unit maps: units keep their identity through them


def _is_pool(m: Module) -> bool:
    name = type(m).__name__
    return name.endswith(("Pool1d", "Pool2d", "Pool3d")) and "Adaptive" not in name


def _weighted(m: Module) -> bool:
    w = m._parameters.get("weight")
    if w is None or w.ndim not in (2, 4):
        return False
    return getattr(m, "groups", 1) == 1


def _leaves(model: Module, prefix: str = "") -> list[tuple[str, Module]]:
    out = []
    for name, child in model.named_children():
        full = f"{prefix}.{name}" if prefix else name
        if isinstance(child, Sequential):
            out.extend(_leaves(child, full))
        else:
            out.append((full, child))
    return out


@dataclass
class _Junction:
    a: Module
    b: Module
    between: list[Module]
    block: int  # how many input columns of B belong to one unit of A (h·w after a Flatten, else 1)


def _junctions(chain: list[tuple[str, Module]]) -> tuple[list[_Junction], list[str]]:
    weighted = [i for i, (_, m) in enumerate(chain) if _weighted(m)]
    found, barriers = [], []
    for i, j in zip(weighted, weighted[1:]):
        a, b = chain[i][1], chain[j][1]
        between = [m for _, m in chain[i + 1:j]]
        unknown = [type(m).__name__ for m in between if not isinstance(m, _TRANSPARENT) and not _is_pool(m)]
        if unknown:
            barriers.append(f"{chain[i][0]} → {chain[j][0]}: {', '.join(unknown)} in between")
            continue
        n_out = a.weight.shape[0]
        n_in = b.weight.shape[1]
        flatten = any(isinstance(m, Flatten) for m in between)
        if a.weight.ndim == 4 and b.weight.ndim == 2 and flatten and n_in % n_out == 0:
            block = n_in // n_out
        elif n_in == n_out and a.weight.ndim == b.weight.ndim:
            block = 1
        else:
            barriers.append(f"{chain[i][0]} → {chain[j][0]}: shapes {tuple(a.weight.shape)} and "
                            f"{tuple(b.weight.shape)} do not line up")
            continue
        if any(isinstance(m, Flatten) and (m.start_dim, m.end_dim) != (1, -1) for m in between):
            barriers.append(f"{chain[i][0]} → {chain[j][0]}: a Flatten other than Flatten(1, -1)")
            continue
        found.append(_Junction(a, b, between, block))
    return found, barriers


def _axes_except(w: Any, dim: int) -> tuple[int, ...]:
    return tuple(d for d in range(w.ndim) if d != dim)


def _removable(j: _Junction) -> tuple[Any, Any]:
    """Boolean arrays over A's units: (dead, unused)."""
    wa = j.a.weight.data
    xp = backend.get_array_module(wa)
    zero_rows = ~(wa != 0).any(axis=_axes_except(wa, 0))
    bias = j.a._parameters.get("bias")
    if bias is not None:
        zero_rows &= bias.data == 0
    zero_preserving = all(isinstance(m, _ZERO_TO_ZERO) or _is_pool(m) for m in j.between)
    dead = zero_rows if zero_preserving else xp.zeros(zero_rows.shape, dtype=bool)
    wb = j.b.weight.data
    used = (wb != 0).any(axis=_axes_except(wb, 1))  # per input column (or input channel)
    if j.block > 1:
        used = used.reshape(-1, j.block).any(axis=1)
    return dead, ~used


def _set(module: Module, name: str, values: Any) -> None:
    """Give the copy's parameter new values (same object, same place in the registry)."""
    p = module._parameters[name]
    p.data = values
    p.grad = None


def _slice_units(j: _Junction, keep: Any) -> None:
    xp = backend.get_array_module(keep)
    _set(j.a, "weight", j.a.weight.data[keep].copy())
    if j.a._parameters.get("bias") is not None:
        _set(j.a, "bias", j.a.bias.data[keep].copy())
    n = int(keep.sum())
    for attr in ("out_features", "out_channels"):
        if hasattr(j.a, attr):
            setattr(j.a, attr, n)
    columns = xp.repeat(keep, j.block) if j.block > 1 else keep
    _set(j.b, "weight", j.b.weight.data[:, columns].copy())
    for attr in ("in_features", "in_channels"):
        if hasattr(j.b, attr):
            setattr(j.b, attr, int(keep.sum()) if attr == "in_channels" else int(columns.sum()))


@dataclass
class LayerChange:
    """One layer's shape before and after compaction, and why units went."""

    name: str
    before: tuple[int, ...]
    after: tuple[int, ...]
    dead: int = 0
    unused: int = 0
    constant: int = 0


@dataclass
class CompactionReport:
    """What :func:`compact` did: per-layer shapes, parameter counts and bytes before and after."""

    layers: list[LayerChange]
    params_before: int
    params_after: int
    bytes_before: int
    bytes_after: int
    notes: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        """Parameters after / before."""
        return self.params_after / max(self.params_before, 1)

    def __str__(self) -> str:
        rows = [("layer", "before", "after", "removed (dead + unused)", "constant kept")]
        for c in self.layers:
            rows.append((c.name, "×".join(map(str, c.before)), "×".join(map(str, c.after)),
                         f"{c.dead + c.unused} ({c.dead} + {c.unused})", str(c.constant)))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        lines.append(f"parameters {self.params_before:,} → {self.params_after:,} ({self.ratio:.1%}); "
                     f"bytes {self.bytes_before:,} → {self.bytes_after:,}")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def _count(model: Module) -> tuple[int, int]:
    ps = list(model.parameters())
    return sum(p.numel() for p in ps), sum(int(p.data.nbytes) for p in ps)


def compact(model: Module) -> tuple[Module, CompactionReport]:
    """A smaller copy of ``model`` without its dead and unused units, and a report.

    The copy computes the same function as the pruned model: only units that
    contribute exactly nothing are removed. Numerically the outputs agree up to the
    order in which BLAS adds the remaining products (its blocking depends on the
    matrix shapes), i.e. to the last bit or two of float32. Pruning masks are baked
    into the copy; ``model`` itself is not changed.
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"compact needs a Sequential model (layers applied in order, like MLP); got "
                        f"{type(model).__name__}. Wrap the layers in minidl.nn.Sequential first.")
    params_before, bytes_before = _count(model)
    small = copy.deepcopy(model)
    for module, name in list(pruned_parameters(small)):
        remove(module, name)
    chain = _leaves(small)
    junctions, barriers = _junctions(chain)
    names = {id(m): n for n, m in chain}
    changes = {id(m): LayerChange(names[id(m)], tuple(m.weight.shape), tuple(m.weight.shape))
               for _, m in chain if _weighted(m)}
    changed = True
    while changed:
        changed = False
        for j in junctions:
            dead, unused = _removable(j)
            gone = dead | unused
            if not bool(gone.any()):
                continue
            keep = ~gone
            if not bool(keep.any()):  # keep one unit so every layer still has a shape
                keep[0] = True
                dead[0] = unused[0] = False
            change = changes[id(j.a)]
            change.dead += int((dead & ~keep).sum())
            change.unused += int((unused & ~dead & ~keep).sum())
            _slice_units(j, keep)
            changed = True
    for j in junctions:
        wa = j.a.weight.data
        zero_rows = ~(wa != 0).any(axis=_axes_except(wa, 0))
        change = changes[id(j.a)]
        change.constant = int(zero_rows.sum())
    for _, m in chain:
        if _weighted(m):
            changes[id(m)].after = tuple(m.weight.shape)
    params_after, bytes_after = _count(small)
    notes = [f"not compacted across {b}" for b in barriers]
    report = CompactionReport(list(changes.values()), params_before, params_after, bytes_before,
                              bytes_after, notes)
    return small, report
