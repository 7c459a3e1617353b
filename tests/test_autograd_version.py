"""The version counter (PyTorch's ``_version``) and anomaly detection (issue 14 §1).

An in-place change of a tensor that backward still needs must raise, never give a wrong
gradient; in-place changes of tensors backward does not read keep working. The gradient
values in the "still works" cases are worked out by hand.
"""

from __future__ import annotations

import numpy as np
import pytest

import minidl as md
import minidl.nn.functional as F  # noqa: N812 - PyTorch's customary name
from minidl import nn, optim
from minidl.autograd import detect_anomaly, is_anomaly_enabled, set_detect_anomaly

pytestmark = pytest.mark.backends


def modified(op: str, which: str, version: int = 1, expected: int = 0) -> str:
    """The part of the error message that names the op, the input and the versions (a regex)."""
    return f"modified by an inplace operation: {op} {which} is at version {version}; expected version {expected}"


# -- the counter ------------------------------------------------------------------------------


@pytest.mark.parametrize("op", [
    lambda t: t.add_(1.0), lambda t: t.sub_(1.0), lambda t: t.mul_(2.0), lambda t: t.div_(2.0),
    lambda t: t.zero_(), lambda t: t.fill_(3.0), lambda t: t.copy_(np.ones(2)),
    lambda t: t.clamp_(0.0, 1.0), lambda t: t.__setitem__(0, 5.0),
], ids=["add_", "sub_", "mul_", "div_", "zero_", "fill_", "copy_", "clamp_", "setitem"])
def test_every_inplace_op_bumps_the_version_once(op) -> None:
    t = md.tensor([0.5, 2.0])
    assert t._version == 0
    op(t)
    assert t._version == 1
    op(t)
    assert t._version == 2


def test_new_tensors_start_at_version_zero() -> None:
    x = md.tensor([1.0, 2.0], requires_grad=True)
    assert x._version == 0 and (x * 2)._version == 0 and md.zeros(3)._version == 0
    (x * x).sum().backward()
    assert x.grad._version == 0


def test_writes_through_data_are_not_counted() -> None:
    """As in PyTorch, ``.data`` is the untracked escape hatch: its writes are invisible to backward."""
    w = md.tensor([1.0, 1.0, 1.0], requires_grad=True)
    c = md.tensor([1.0, 2.0, 3.0])
    loss = (w * c).sum()
    c.data[...] = 100.0
    assert c._version == 0
    loss.backward()  # no error: the user chose to bypass the check
    np.testing.assert_allclose(w.grad.numpy(), [100.0, 100.0, 100.0])


def test_version_is_a_plain_int_that_an_optimizer_may_bump() -> None:
    p = md.tensor([1.0], requires_grad=True)
    p._version += 1
    assert p._version == 1 and type(p._version) is int
    p._bump_version()
    assert p._version == 2


# -- the reproductions of issue 14 ------------------------------------------------------------


def test_changing_a_saved_factor_in_place_raises() -> None:
    w = md.tensor([1.0, 1.0, 1.0], requires_grad=True)
    c = md.tensor([1.0, 2.0, 3.0])
    loss = (w * c).sum()
    c.mul_(100)
    with pytest.raises(RuntimeError, match=modified("MulBackward", "input 1")):
        loss.backward()
    assert w.grad is None  # no wrong gradient left behind


def test_changing_an_input_under_no_grad_raises() -> None:
    x = md.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * x).sum()
    with md.no_grad():
        x.mul_(10)
    with pytest.raises(RuntimeError, match=modified("MulBackward", "input 0")):
        y.backward()


def test_setitem_on_a_saved_tensor_raises() -> None:
    w = md.tensor([1.0, 1.0, 1.0], requires_grad=True)
    c = md.tensor([1.0, 2.0, 3.0])
    loss = (w * c).sum()
    c[0] = 7.0
    with pytest.raises(RuntimeError, match=modified("MulBackward", "input 1")):
        loss.backward()


def test_sub_on_an_input_batch_raises() -> None:
    md.manual_seed(0)
    model = nn.Linear(4, 3)
    x = md.randn(5, 4)
    loss = F.cross_entropy(model(x), md.tensor([0, 1, 2, 0, 1]))
    x.sub_(x.mean())  # "normalize" the batch after the forward pass
    with pytest.raises(RuntimeError, match=modified("LinearBackward", "input 0")):
        loss.backward()


def test_optimizer_step_between_two_backwards_of_a_retained_graph_raises() -> None:
    md.manual_seed(0)
    model = nn.MLP([4, 8, 3])
    opt = optim.SGD(model.parameters(), lr=0.1)
    loss = F.cross_entropy(model(md.randn(6, 4)), md.tensor([0, 1, 2, 0, 1, 2]))
    loss.backward(retain_graph=True)
    params = list(model.parameters())
    before = [p._version for p in params]
    opt.step()
    assert [p._version for p in params] == [v + 1 for v in before]  # the update is an in-place change
    # The second layer's weight is read to send the gradient back to the hidden layer.
    with pytest.raises(RuntimeError, match=modified("LinearBackward", "input 1")):
        loss.backward()


# -- what keeps working -----------------------------------------------------------------------


def test_inplace_change_of_a_tensor_backward_does_not_read_is_fine() -> None:
    a = md.tensor([1.0, 2.0], requires_grad=True)
    b = md.tensor([3.0, 4.0])
    z = ((a + b) * 3.0).sum()
    b.add_(1.0)  # the sum's gradient does not depend on b's values
    z.backward()
    np.testing.assert_allclose(a.grad.numpy(), [3.0, 3.0])


def test_weight_not_read_by_its_own_gradient() -> None:
    """y = x Wᵀ with x constant: ∂L/∂W = Gᵀ x never reads W, so changing W first is harmless
    (PyTorch saves W only when x needs a gradient)."""
    w = md.tensor([[1.0, 2.0]], requires_grad=True)
    x = md.tensor([[3.0, 5.0]])
    y = F.linear(x, w).sum()
    with md.no_grad():
        w.mul_(10)
    y.backward()
    np.testing.assert_allclose(w.grad.numpy(), [[3.0, 5.0]])


def test_retained_graph_twice_without_changes() -> None:
    x = md.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0])


def test_changing_a_saved_output_raises() -> None:
    x = md.tensor([0.0, 1.0], requires_grad=True)
    y = x.exp()  # exp's backward reads its output
    s = y.sum()
    with md.no_grad():
        y.mul_(2)
    with pytest.raises(RuntimeError, match=modified("ExpBackward", "output 0")):
        s.backward()


def test_changing_a_detached_copy_counts_as_a_change_of_its_base() -> None:
    x = md.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    x.detach().mul_(3)  # shares memory with x, as in PyTorch
    assert x._version == 1
    with pytest.raises(RuntimeError, match="MulBackward input 0"):
        y.backward()


def test_version_check_under_create_graph() -> None:
    w = md.tensor([1.0, 2.0], requires_grad=True)
    c = md.tensor([3.0, 4.0])
    loss = (w * w * c).sum()
    c.fill_(0.0)
    with pytest.raises(RuntimeError, match="MulBackward input 1 is at version 1"):
        md.grad(loss, w, create_graph=True)


# -- anomaly detection -------------------------------------------------------------------------


def test_anomaly_names_the_op_and_where_it_ran() -> None:
    x = md.tensor([0.0, 1.0], requires_grad=True)
    with detect_anomaly():
        assert is_anomaly_enabled()
        y = (x.sqrt() * 0.0).sum()  # sqrt'(0) = ∞, times 0: NaN
        with np.errstate(all="ignore"), pytest.raises(
                RuntimeError, match="Function 'SqrtBackward' returned nan values") as err:
            y.backward()
    assert not is_anomaly_enabled()
    message = str(err.value)
    assert "test_autograd_version.py" in message and "x.sqrt()" in message  # the forward line


def test_without_anomaly_mode_nan_passes_silently_and_no_stack_is_kept() -> None:
    x = md.tensor([0.0, 1.0], requires_grad=True)
    y = x.sqrt()
    assert y.grad_fn.forward_stack is None  # stacks cost time: recorded only in anomaly mode
    with np.errstate(all="ignore"):
        (y * 0.0).sum().backward()
    assert np.isnan(x.grad.numpy()[0])


def test_set_detect_anomaly_switches_and_restores() -> None:
    set_detect_anomaly(True)
    try:
        assert is_anomaly_enabled()
        x = md.tensor([1.0, -1.0], requires_grad=True)
        y = x * x
        assert y.grad_fn.forward_stack is not None
        y.sum().backward()  # finite gradients: anomaly mode changes nothing
        np.testing.assert_allclose(x.grad.numpy(), [2.0, -2.0])
        with set_detect_anomaly(False):
            assert not is_anomaly_enabled()
        assert is_anomaly_enabled()
    finally:
        set_detect_anomaly(False)
    assert not is_anomaly_enabled()


def test_detect_anomaly_as_a_decorator() -> None:
    @detect_anomaly()
    def step() -> None:
        x = md.tensor([0.0], requires_grad=True)
        (x.sqrt() * 0.0).sum().backward()

    with np.errstate(all="ignore"), pytest.raises(RuntimeError, match="SqrtBackward"):
        step()
    assert not is_anomaly_enabled()


def test_autograd_namespace_is_reachable_from_minidl() -> None:
    assert md.autograd.detect_anomaly is detect_anomaly
    assert md.autograd.grad is md.grad
