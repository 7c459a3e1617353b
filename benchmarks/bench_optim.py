"""The optimizer update itself: one Adam step and one SGD-with-momentum step over 10 million
float32 parameters, from plain NumPy expressions down to a fused loop; minidl and PyTorch."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from benchmarks.harness import Section, fmt_time, measure, spread
from benchmarks.reference_optim import adam_in_place, fused_adam, fused_sgd_momentum, sgd_momentum_in_place

N = 10_000_000
LR, B1, B2, EPS, MU = 1e-3, 0.9, 0.999, 1e-8, 0.9
TARGET = 1.2  # minidl / fused loop
FLOOR = "fused Numba loop (floor)"


def _arrays(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal(n, dtype=np.float32), rng.standard_normal(n, dtype=np.float32)


def pure_rule(rule, n: int) -> Callable[[], None]:
    """The specification as it reads: ``u, state = rule.update(g, state, θ); θ = θ + u``."""
    from minidl.optim.transforms import apply_updates

    p, g = _arrays(n)
    box = {"p": p, "state": rule.init(p)}

    def step() -> None:
        u, box["state"] = rule.update(g, box["state"], box["p"])
        box["p"] = apply_updates(box["p"], u)

    return step


def minidl_class(make_optimizer, n: int) -> Callable[[], None]:
    import minidl

    p0, g = _arrays(n)
    p = minidl.tensor(p0, requires_grad=True)
    p.grad = minidl.tensor(g)
    opt = make_optimizer([p])

    def step() -> None:
        opt.step()

    step()
    assert p.dtype == np.float32, "float64 leaked into the parameter"
    for value in opt.state[p].values():
        assert not isinstance(value, np.ndarray) or value.dtype == np.float32, "float64 leaked into the state"
    return step


def torch_class(make_optimizer, n: int) -> Callable[[], None] | None:
    try:
        import torch
    except ImportError:
        return None
    p0, g = _arrays(n)
    p = torch.from_numpy(p0).requires_grad_()
    p.grad = torch.from_numpy(g)
    opt = make_optimizer(torch, [p])
    return opt.step


def _candidates_adam(n: int) -> dict[str, Callable[[], None]]:
    from minidl import optim
    from minidl.optim import rules

    p, g = _arrays(n)
    c = {
        "NumPy expressions (the rule, rules.adam)": pure_rule(rules.adam(LR, (B1, B2), EPS), n),
        "in-place NumPy (out=)": adam_in_place(p, g, LR, B1, B2, EPS),
        "in-place NumPy, np.float64 scalars": adam_in_place(*_arrays(n), LR, B1, B2, EPS, scalar=np.float64),
        FLOOR: fused_adam(*_arrays(n), LR, B1, B2, EPS),
        "minidl Adam.step() (fused kernel)": minidl_class(lambda ps: optim.Adam(ps, lr=LR), n),
    }
    for name, kw in (("PyTorch Adam (default)", {}), ("PyTorch Adam (fused=True)", {"fused": True})):
        step = torch_class(lambda torch, ps, kw=kw: torch.optim.Adam(ps, lr=LR, **kw), n)
        if step is not None:
            c[name] = step
    return c


def _candidates_sgd(n: int) -> dict[str, Callable[[], None]]:
    from minidl import optim
    from minidl.optim import rules

    c = {
        "NumPy expressions (the rule, rules.sgd)": pure_rule(rules.sgd(LR, momentum=MU), n),
        "in-place NumPy (out=)": sgd_momentum_in_place(*_arrays(n), LR, MU),
        "in-place NumPy, np.float64 scalars": sgd_momentum_in_place(*_arrays(n), LR, MU, scalar=np.float64),
        FLOOR: fused_sgd_momentum(*_arrays(n), LR, MU),
        "minidl SGD.step() (fused kernel)": minidl_class(lambda ps: optim.SGD(ps, lr=LR, momentum=MU), n),
    }
    for name, kw in (("PyTorch SGD (default)", {}), ("PyTorch SGD (fused=True)", {"fused": True})):
        step = torch_class(lambda torch, ps, kw=kw: torch.optim.SGD(ps, lr=LR, momentum=MU, **kw), n)
        if step is not None:
            c[name] = step
    return c


def run(quick: bool = False) -> Section:
    rows, verdicts = [], []
    for label, make in (("Adam", _candidates_adam), ("SGD momentum 0.9", _candidates_sgd)):
        candidates = make(N)
        timings = measure(candidates, number=2 if quick else 5, rounds=5 if quick else 9, warmup=2)
        floor = timings[FLOOR].median_s
        for impl, timing in timings.items():
            rows.append([label, impl, fmt_time(timing.median_s), spread(timing),
                         f"{timing.median_s / floor:.2f}×"])
        mine = next(t for k, t in timings.items() if k.startswith("minidl"))
        ratio = mine.median_s / floor
        verdicts.append(f"{label}: minidl {ratio:.2f}× the fused loop "
                        f"({'met' if ratio <= TARGET else 'not met'})")
        del candidates
    return Section(
        title=f"Optimizer step over {N / 1e6:.0f} M float32 parameters",
        header=["optimizer", "implementation", "median", "spread", "vs fused loop"],
        rows=rows,
        notes=[f"target: minidl's step ≤ {TARGET}× the fused loop; " + "; ".join(verdicts),
               "the fused loops (minidl's and the floor) run on one thread; PyTorch uses its thread pool",
               "np.float64 scalars: NumPy 2 computes float32 ⊗ float64-scalar in float64, then casts back"])
