"""minidl.perf: Amdahl's law, the timing helper, and the per-op profile of a step."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl as md
from minidl import nn, optim
from minidl.perf import amdahl_speedup, measure, profile_ops, roofline_time


@given(p=st.floats(0, 1), s=st.floats(0.01, 1e6))
@settings(max_examples=50, deadline=None)
def test_amdahl_speedup(p, s):
    speedup = amdahl_speedup(p, s)
    # the part takes p/s of the old time, the rest 1 − p: total time 1/speedup
    assert np.isclose(1 / speedup, (1 - p) + p / s)
    if p < 1:
        assert speedup <= 1 / (1 - p) * (1 + 1e-9)  # bounded by the untouched part
    assert (speedup >= 1) == (s >= 1) or np.isclose(speedup, 1)


def test_amdahl_hand_computed_and_errors():
    assert amdahl_speedup(0.5, 2) == pytest.approx(4 / 3)
    assert amdahl_speedup(0.0, 100) == 1.0
    with pytest.raises(ValueError, match="fraction"):
        amdahl_speedup(1.5, 2)
    with pytest.raises(ValueError, match="factor"):
        amdahl_speedup(0.5, 0)


@given(flops=st.floats(0, 1e12), nbytes=st.floats(0, 1e12), peak=st.floats(1e6, 1e13),
       bandwidth=st.floats(1e6, 1e12))
@settings(max_examples=80, deadline=None)
def test_roofline_time_is_the_slower_of_compute_and_memory(flops, nbytes, peak, bandwidth):
    t = roofline_time(flops, nbytes, peak, bandwidth)
    assert t >= flops / peak and t >= nbytes / bandwidth
    assert t in (flops / peak, nbytes / bandwidth)
    if flops > 0 and nbytes > 0:  # the attained rate F/T is min(P_peak, AI · BW)
        assert np.isclose(flops / t, min(peak, flops / nbytes * bandwidth), rtol=1e-9)


def test_roofline_hand_computed_and_errors():
    # an elementwise add of n float32s: 1 FLOP per 12 bytes, memory-bound on any CPU
    n = 1_000_000
    assert roofline_time(n, 12 * n, peak_flops=1e11, bandwidth=1e10) == pytest.approx(12 * n / 1e10)
    # a 512³ matmul: 2·512³ FLOPs over 3·512²·4 bytes, compute-bound
    assert roofline_time(2 * 512**3, 3 * 512**2 * 4, 1e11, 1e10) == pytest.approx(2 * 512**3 / 1e11)
    with pytest.raises(ValueError, match="bandwidth"):
        roofline_time(1, 1, 1e9, 0)
    with pytest.raises(ValueError, match="nbytes"):
        roofline_time(1, -1, 1e9, 1e9)


def test_measure_with_the_cpu_clock_does_not_charge_a_pause():
    import time

    nap = {"sleep": lambda: time.sleep(0.01)}
    wall = measure(nap, number=1, rounds=3, warmup=0, settle=0)["sleep"].median
    cpu = measure(nap, number=1, rounds=3, warmup=0, settle=0, clock=time.process_time)["sleep"].median
    assert wall >= 0.01 > 0.005 > cpu  # sleeping takes wall time and (almost) no CPU time


def test_measure_times_every_candidate_in_every_round():
    calls = {"a": 0, "b": 0}

    def make(name):
        def fn():
            calls[name] += 1
        return fn

    timings = measure({"a": make("a"), "b": make("b")}, number=3, rounds=4, warmup=2, settle=0)
    assert calls == {"a": 2 + 12, "b": 2 + 12}
    assert all(len(t.samples) == 4 and t.median >= 0 and t.spread >= 0 for t in timings.values())


def test_profile_ops_finds_each_layer_once_per_step():
    md.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 3))
    opt = optim.SGD(model.parameters(), lr=0.1)
    x, y = md.randn(4, 1, 6, 6), md.tensor([0, 1, 2, 0])

    def step():
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    ops, total = profile_ops(step, steps=3, warmup=1)
    found = {(o.op, o.phase): o for o in ops}
    for op in ("Conv2d", "ReLU", "MaxPool2d", "Linear"):
        assert found[(op, "forward")].calls == 1 and found[(op, "backward")].calls == 1
    # max-pool's backward runs the scatter op's forward on arrays: not counted twice
    assert ("MaxPoolScatter", "forward") not in found
    assert total > 0 and sum(o.seconds for o in ops) <= total * 1.01
