"""One MLP training step (forward + backward + SGD update, float32): minidl against the
hand-written NumPy floor and PyTorch CPU."""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.harness import Section, fmt_time, measure, spread, time_mlp_steps, training_step
from benchmarks.reference_mlp import hand_written_step

CASES = [([784, 256, 128, 10], 128), ([64, 128, 10], 32)]
TARGET = 1.15  # minidl / hand-written


def _data(sizes: list[int], batch: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((batch, sizes[0])).astype(np.float32), rng.integers(0, sizes[-1], batch)


def minidl_step(sizes: list[int], batch: int):
    import minidl
    from minidl import nn, optim

    minidl.manual_seed(0)
    model = nn.MLP(sizes)
    opt = optim.SGD(model.parameters(), lr=0.01)
    x, y = (minidl.tensor(a) for a in _data(sizes, batch))

    return training_step(model, nn.functional.cross_entropy, opt, x, y), model


def hand_step(sizes: list[int], batch: int):
    import minidl
    from minidl import nn

    minidl.manual_seed(0)
    model = nn.MLP(sizes)  # same initial weights as minidl's
    weights = [m.weight.data.copy() for m in model if hasattr(m, "weight")]
    biases = [m.bias.data.copy() for m in model if hasattr(m, "bias")]
    x, y = _data(sizes, batch)
    return hand_written_step(weights, biases, x, y, 0.01)


def torch_step(sizes: list[int], batch: int):
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = (torch.from_numpy(a) for a in _data(sizes, batch))

    return training_step(model, torch.nn.functional.cross_entropy, opt, x, y)


def check_float32(step, model) -> None:
    """A float64 scalar anywhere would silently promote the model (NumPy 2 rules): refuse to time that."""
    step()
    for p in model.parameters():
        assert p.dtype == np.float32, "float64 leaked into a parameter"
        assert p.grad is None or p.grad.dtype == np.float32, "float64 leaked into a gradient"


def version_counter_cost(sizes: list[int], batch: int, quick: bool) -> tuple[float, float, Any]:
    """What the version counter (issue 14 §1) adds to one training step, timed in isolation.

    The engine records each input's ``_version`` when an op runs and compares it before that
    op's backward; here exactly those statements run over the step's own graph nodes
    (the loop form, a little slower than the engine's), beside the whole step.
    """
    import minidl
    from minidl.engine.autograd import topological_order

    step, model = minidl_step(sizes, batch)
    x = minidl.tensor(_data(sizes, batch)[0])
    loss = minidl.nn.functional.cross_entropy(model(x), minidl.tensor(_data(sizes, batch)[1]))
    nodes = topological_order(loss.grad_fn)

    def bookkeeping() -> None:
        for fn in nodes:
            fn.versions = tuple([x._version for x in fn.inputs])  # forward: record
            for t, v in zip(fn.inputs, fn.versions):  # backward: compare
                if t._version != v:
                    break

    timings = measure({"step": step, "bookkeeping": bookkeeping}, number=200 if quick else 1000,
                      rounds=5 if quick else 11)
    return timings["bookkeeping"].median_s, timings["step"].median_s, timings["bookkeeping"]


def run(quick: bool = False) -> Section:
    rows = []
    worst = 0.0
    for sizes, batch in CASES:
        step, model = minidl_step(sizes, batch)
        check_float32(step, model)
        candidates = {"hand-written NumPy": hand_step(sizes, batch), "minidl": step}
        t = torch_step(sizes, batch)
        if t is not None:
            candidates["PyTorch CPU"] = t
        name, timings, ref = time_mlp_steps(candidates, sizes, batch, quick)
        for impl, timing in timings.items():
            ratio = timing.median_s / ref
            if impl == "minidl":
                worst = max(worst, ratio)
            rows.append([name, impl, fmt_time(timing.median_s), spread(timing), f"{ratio:.2f}×"])
    sizes, batch = [64, 128, 10], 32
    cost, whole, timing = version_counter_cost(sizes, batch, quick)
    rows.append(["-".join(map(str, sizes)) + f", batch {batch}", "minidl: its version-counter bookkeeping",
                 fmt_time(cost), spread(timing), f"{cost / whole:.1%} of minidl's step"])
    return Section(
        title="MLP training step (forward + backward + SGD, float32)",
        header=["network", "implementation", "median", "spread", "vs hand-written"],
        rows=rows,
        notes=[f"target: minidl ≤ {TARGET}× the hand-written step; worst case measured here "
               f"{worst:.2f}× ({'met' if worst <= TARGET else 'not met'})",
               "version counter (in-place checks, issue 14): the statements it adds to the forward "
               "and backward pass, timed on the step's own graph; budget 3% of the step"])
