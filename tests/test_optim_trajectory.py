"""optim.trajectory: the points an optimizer visits, as the lessons' contour plots draw them."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl
from minidl import optim


@settings(max_examples=30, deadline=None)
@given(c=st.floats(0.1, 10.0), lr=st.floats(0.01, 0.15), x0=st.floats(-3.0, 3.0), steps=st.integers(0, 20))
def test_gd_on_a_quadratic_follows_the_closed_form(c, lr, x0, steps):
    # f(θ) = ½ c θ²: one GD step multiplies θ by (1 − lr·c), so θₖ = θ₀ (1 − lr·c)ᵏ
    path = optim.trajectory(lambda t: 0.5 * c * (t * t).sum(), lambda p: optim.GD(p, lr=lr), steps, (x0,))
    expected = np.float32(x0) * (1 - lr * c) ** np.arange(steps + 1)
    assert path.shape == (steps + 1, 1)
    np.testing.assert_allclose(path[:, 0], expected, rtol=1e-4, atol=1e-5)


def test_matches_the_hand_written_loop_with_momentum():
    def f(t):
        return (1 - t[0]) ** 2 + 100 * (t[1] - t[0] * t[0]) ** 2

    theta = minidl.tensor(np.array([-1.2, 1.0], np.float32), requires_grad=True)
    opt = optim.SGD([theta], lr=1e-3, momentum=0.9)
    by_hand = [theta.numpy().copy()]
    for _ in range(25):
        opt.zero_grad()
        f(theta).backward()
        opt.step()
        by_hand.append(theta.numpy().copy())
    path = optim.trajectory(f, lambda p: optim.SGD(p, lr=1e-3, momentum=0.9), 25, (-1.2, 1.0))
    np.testing.assert_array_equal(path, np.array(by_hand))


def test_bad_steps_are_named():
    with pytest.raises(ValueError, match=r"steps must be an int >= 0 \(got -1\)"):
        optim.trajectory(lambda t: (t * t).sum(), lambda p: optim.GD(p, lr=0.1), -1, (1.0,))
