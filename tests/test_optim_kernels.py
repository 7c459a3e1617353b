"""The fused Numba optimizer loops (minidl/kernels/optim.py) equal the pure rules bit for bit.

``adam_step_`` and ``sgd_step_`` (in minidl/optim/adam.py and sgd.py) pair each loop with its
reference through ``kernels.dispatch``: ``.fast`` runs the loop, ``.reference`` the rule.

Each kernel does the rule's float32 (or float64) operations in the rule's order, with the
scalars rounded to the array's dtype the way NumPy rounds a Python float; IEEE arithmetic
then gives identical bits. So the check here is ``array_equal``, not a tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minidl
from minidl import kernels, optim
from minidl.optim import rules
from minidl.optim.adam import adam_step_
from minidl.optim.sgd import sgd_step_

pytestmark = pytest.mark.numpy_only  # Numba kernels take NumPy arrays only

SETTINGS = settings(max_examples=25, deadline=None)


def _copy_state(state: dict) -> dict:
    return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in state.items()}


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], np.ndarray):
            assert a[k].dtype == b[k].dtype, k
            np.testing.assert_array_equal(a[k], b[k], err_msg=k, strict=True)
        else:
            assert a[k] == b[k], k


@st.composite
def problems(draw: st.DrawFn, dtype=None):
    dtype = dtype or draw(st.sampled_from([np.float32, np.float64]))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=5))
    elements = st.floats(-10, 10, allow_nan=False, width=32)
    theta = draw(hnp.arrays(dtype, shape, elements=elements))
    grads = [draw(hnp.arrays(dtype, shape, elements=elements)) for _ in range(draw(st.integers(1, 4)))]
    if draw(st.booleans()):
        grads.insert(1, np.zeros(shape, dtype))
    return theta, grads


def _run(step, rule, theta, grads, hyper):
    """The same steps through the fused path and the reference path; both results."""
    results = []
    for path in (step.fast, step.reference):
        p = theta.copy(order="K")  # keep the layout under test
        state = rule.init(p)
        for g in grads:
            path(p, g, state, **hyper)
        results.append((p, state))
    return results


@SETTINGS
@given(problem=problems(), lr=st.floats(1e-4, 1.0), b1=st.floats(0.0, 0.99), b2=st.floats(0.0, 0.9999),
       eps=st.sampled_from([0.0, 1e-8, 1e-3]), wd=st.sampled_from([0.0, 0.01, 0.5]),
       amsgrad=st.booleans(), maximize=st.booleans(), bias_correction=st.booleans(),
       decoupled=st.booleans())
def test_adam_kernel_equals_the_rule_bit_for_bit(problem, lr, b1, b2, eps, wd, amsgrad, maximize,
                                                  bias_correction, decoupled) -> None:
    theta, grads = problem
    if eps == 0.0:  # 0/0 on a (near-)zero gradient is NaN for both; keep the comparison meaningful
        grads = [np.where(np.abs(g) < 1e-3, np.asarray(1, g.dtype), g) for g in grads]
    hyper = dict(lr=lr, beta1=b1, beta2=b2, eps=eps, weight_decay=wd, amsgrad=amsgrad, maximize=maximize,
                 bias_correction=bias_correction, decoupled_weight_decay=decoupled)
    rule = rules.adam(lr, (b1, b2), eps, wd, amsgrad, maximize, bias_correction, decoupled)
    (p_fast, s_fast), (p_ref, s_ref) = _run(adam_step_, rule, theta, grads, hyper)
    np.testing.assert_array_equal(p_fast, p_ref, strict=True)
    _assert_same(s_fast, s_ref)
    assert s_fast["step"] == len(grads)


@SETTINGS
@given(problem=problems(), lr=st.floats(1e-4, 1.0), momentum=st.sampled_from([0.0, 0.5, 0.9]),
       dampening=st.sampled_from([0.0, 0.1]), wd=st.sampled_from([0.0, 0.01]), nesterov=st.booleans(),
       maximize=st.booleans())
def test_sgd_kernel_equals_the_rule_bit_for_bit(problem, lr, momentum, dampening, wd, nesterov,
                                                 maximize) -> None:
    theta, grads = problem
    if nesterov and (momentum == 0 or dampening != 0):
        nesterov = False
    hyper = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=wd, nesterov=nesterov,
                 maximize=maximize)
    rule = rules.sgd(lr, momentum, dampening, wd, nesterov, maximize)
    (p_fast, s_fast), (p_ref, s_ref) = _run(sgd_step_, rule, theta, grads, hyper)
    np.testing.assert_array_equal(p_fast, p_ref, strict=True)
    _assert_same(s_fast, s_ref)


def test_the_momentum_buffer_never_aliases_the_gradient() -> None:
    for path in (sgd_step_.fast, sgd_step_.reference):
        p, g, state = np.zeros(3, np.float32), np.ones(3, np.float32), {"momentum_buffer": None}
        path(p, g, state, lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False,
             maximize=False)
        g[:] = 5
        np.testing.assert_array_equal(state["momentum_buffer"], np.ones(3, np.float32))


def test_layouts_the_kernel_cannot_take_fall_back_to_the_rule() -> None:
    """A Fortran-ordered parameter or a float64 gradient for a float32 parameter: same answer."""
    rng = np.random.default_rng(0)
    theta = np.asfortranarray(rng.standard_normal((4, 3)).astype(np.float32))
    grads = [rng.standard_normal((4, 3)) for _ in range(3)]  # float64
    hyper = dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.1, amsgrad=True,
                 maximize=False, bias_correction=True, decoupled_weight_decay=False)
    rule = rules.adam(0.01, (0.9, 0.999), 1e-8, 0.1, True)
    (p_fast, s_fast), (p_ref, s_ref) = _run(adam_step_, rule, theta, grads, hyper)
    np.testing.assert_array_equal(p_fast, p_ref)
    assert p_fast.dtype == np.float32 and p_fast.flags.f_contiguous


def test_classes_give_the_same_result_with_kernels_off() -> None:
    """``MINIDL_NUMBA=0`` (or CuPy arrays) takes the reference path: identical training."""
    def train(enabled: bool) -> list[np.ndarray]:
        previous = kernels.numba_enabled()
        kernels.set_numba_enabled(enabled)
        try:
            minidl.manual_seed(0)
            model = minidl.nn.MLP([5, 7, 3])
            opts = [optim.Adam(model[0].parameters(), lr=0.01, amsgrad=True),
                    optim.SGD(model[2].parameters(), lr=0.1, momentum=0.9, nesterov=True)]
            x = minidl.tensor(np.random.default_rng(1).standard_normal((8, 5)).astype(np.float32))
            y = minidl.tensor(np.arange(8) % 3)
            for _ in range(4):
                for o in opts:
                    o.zero_grad()
                minidl.nn.functional.cross_entropy(model(x), y).backward()
                for o in opts:
                    o.step()
            return [p.data.copy() for p in model.parameters()]
        finally:
            kernels.set_numba_enabled(previous)

    for a, b in zip(train(True), train(False)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("step", [adam_step_, sgd_step_])
def test_kernels_keep_float32(step) -> None:
    p, g = np.ones(4, np.float32), np.full(4, 0.5, np.float32)
    rule = rules.adam() if step is adam_step_ else rules.sgd(0.1, momentum=0.9)
    state = rule.init(p)
    hyper = (dict(lr=np.float64(1e-3), beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False,
                  maximize=False, bias_correction=True, decoupled_weight_decay=False)
             if step is adam_step_ else
             dict(lr=np.float64(0.1), momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False,
                  maximize=False))
    step(p, g, state, **hyper)
    assert p.dtype == np.float32
    assert all(v.dtype == np.float32 for v in state.values() if isinstance(v, np.ndarray))


@pytest.mark.parametrize("amsgrad, maximize, decoupled", [(False, False, False), (True, True, False),
                                                          (False, False, True), (True, False, True)])
def test_adam_kernel_bit_exact_on_a_long_array(amsgrad, maximize, decoupled) -> None:
    """Long enough for LLVM's vectorized loop body (the hypothesis arrays are mostly its tail)."""
    rng = np.random.default_rng(7)
    theta = rng.standard_normal(4099).astype(np.float32)
    grads = [rng.standard_normal(4099).astype(np.float32) * s for s in (1.0, 1e-3, 0.0, 10.0)]
    hyper = dict(lr=3e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.05, amsgrad=amsgrad,
                 maximize=maximize, bias_correction=True, decoupled_weight_decay=decoupled)
    rule = rules.adam(3e-3, (0.9, 0.999), 1e-8, 0.05, amsgrad, maximize, True, decoupled)
    (p_fast, s_fast), (p_ref, s_ref) = _run(adam_step_, rule, theta, grads, hyper)
    np.testing.assert_array_equal(p_fast, p_ref, strict=True)
    _assert_same(s_fast, s_ref)


def test_sgd_kernel_bit_exact_on_a_long_array() -> None:
    rng = np.random.default_rng(8)
    theta = rng.standard_normal(4099).astype(np.float32)
    grads = [rng.standard_normal(4099).astype(np.float32) for _ in range(3)]
    hyper = dict(lr=0.05, momentum=0.9, dampening=0.0, weight_decay=1e-3, nesterov=True, maximize=False)
    (p_fast, s_fast), (p_ref, s_ref) = _run(sgd_step_, rules.sgd(**hyper), theta, grads, hyper)
    np.testing.assert_array_equal(p_fast, p_ref, strict=True)
    _assert_same(s_fast, s_ref)


def test_a_strided_gradient_still_takes_the_kernel_and_gives_the_same_bits(monkeypatch) -> None:
    import minidl.optim.adam as adam_module

    rng = np.random.default_rng(9)
    theta = rng.standard_normal((6, 5)).astype(np.float32)
    wide = [rng.standard_normal((5, 12)).astype(np.float32) for _ in range(3)]
    grads = [w[:, ::2].T for w in wide]  # transposed, strided views of shape (6, 5)
    assert not grads[0].flags.c_contiguous
    hyper = dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False,
                 maximize=False, bias_correction=True, decoupled_weight_decay=False)
    rule = rules.adam(0.01)
    p_ref, s_ref = theta.copy(), rule.init(theta)
    for g in grads:
        adam_step_.reference(p_ref, g, s_ref, **hyper)

    def no_fallback(*args, **kwargs):
        raise AssertionError("the fused path fell back to the reference")

    monkeypatch.setattr(adam_module, "adam_reference", no_fallback)
    p_fast, s_fast = theta.copy(), rule.init(theta)
    for g in grads:
        adam_step_.fast(p_fast, g, s_fast, **hyper)
    np.testing.assert_array_equal(p_fast, p_ref, strict=True)
    _assert_same(s_fast, s_ref)


def test_the_sgd_fused_path_runs_the_loop_not_the_reference(monkeypatch) -> None:
    import minidl.optim.sgd as sgd_module

    def no_fallback(*args, **kwargs):
        raise AssertionError("the fused path fell back to the reference")

    rng = np.random.default_rng(10)
    theta, grads = rng.standard_normal(50).astype(np.float32), [rng.standard_normal(50).astype(np.float32)] * 2
    hyper = dict(lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False)
    (p_ref, s_ref), = [r for r in _run(sgd_step_, rules.sgd(**hyper), theta, grads, hyper)][1:]
    monkeypatch.setattr(sgd_module, "sgd_reference", no_fallback)
    p_fast, s_fast = theta.copy(), rules.sgd(**hyper).init(theta)
    for g in grads:
        sgd_step_.fast(p_fast, g, s_fast, **hyper)
    np.testing.assert_array_equal(p_fast, p_ref, strict=True)
    _assert_same(s_fast, s_ref)
