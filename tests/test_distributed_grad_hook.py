"""Tensor.register_post_accumulate_grad_hook: PyTorch's hook that DDP starts its all-reduces from."""

from __future__ import annotations

import numpy as np
import pytest

import minidl
from minidl import nn


def test_hooks_fire_during_backward_as_each_gradient_is_final():
    minidl.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    seen = []
    for name, p in model.named_parameters():
        p.register_post_accumulate_grad_hook(
            lambda t, name=name: seen.append((name, t.grad.data.copy(), model[0].weight.grad is None)))
    x = minidl.randn(5, 3)
    model(x).sum().backward()
    names = [s[0] for s in seen]
    assert names == ["2.weight", "2.bias", "0.weight", "0.bias"]  # last layer first
    # the last layer's hooks ran while the first layer's gradient was not there yet:
    # they fire in the middle of the backward pass, not after it
    assert seen[0][2] and not seen[-1][2]
    params = dict(model.named_parameters())
    for name, g, _ in seen:
        assert np.array_equal(g, params[name].grad.data)  # the hook saw the final .grad


def test_a_leaf_used_twice_fires_once_with_the_sum_and_accumulates_across_backwards():
    w = minidl.tensor([2.0, 3.0], requires_grad=True)
    calls = []
    handle = w.register_post_accumulate_grad_hook(lambda t: calls.append(t.grad.data.copy()))
    ((w * w).sum() + (w * 3.0).sum()).backward()  # d/dw = 2w + 3
    assert len(calls) == 1 and np.allclose(calls[0], [7.0, 9.0])
    (w * 1.0).sum().backward()
    assert len(calls) == 2 and np.allclose(calls[1], [8.0, 10.0])  # after accumulation into .grad
    handle.remove()
    (w * 1.0).sum().backward()
    assert len(calls) == 2


def test_hooks_do_not_fire_for_autograd_grad_and_are_refused_on_non_leaves():
    w = minidl.Tensor([1.0], requires_grad=True)
    calls = []
    w.register_post_accumulate_grad_hook(lambda t: calls.append(1))
    minidl.grad((w * 2.0).sum(), w)
    assert calls == [] and w.grad is None
    with pytest.raises(RuntimeError, match="non-leaf"):
        (w * 2.0).register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(TypeError, match="callable"):
        w.register_post_accumulate_grad_hook(3)


def test_gradients_are_the_same_with_and_without_hooks():
    minidl.manual_seed(1)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))
    x = minidl.randn(7, 4)
    (model(x) ** 2).sum().backward()
    plain = [p.grad.data.copy() for p in model.parameters()]
    model.zero_grad()
    handles = [p.register_post_accumulate_grad_hook(lambda t: None) for p in model.parameters()]
    (model(x) ** 2).sum().backward()
    for a, p in zip(plain, model.parameters()):
        assert np.array_equal(a, p.grad.data)
    for h in handles:
        h.remove()
