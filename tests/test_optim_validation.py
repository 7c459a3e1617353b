"""Bad input to an optimizer is a clear error, and a failed load changes nothing (issue 14)."""

from __future__ import annotations

import numpy as np
import pytest

import minidl
from minidl import nn, optim

pytestmark = pytest.mark.backends


def _param(*shape: int) -> minidl.Tensor:
    return minidl.tensor(np.ones(shape, np.float32), requires_grad=True)


# -- the parameter list -------------------------------------------------------------------------

def test_a_tensor_instead_of_a_list_is_a_type_error_as_in_pytorch() -> None:
    model = nn.Linear(3, 2)
    with pytest.raises(TypeError, match=r"should be an iterable of Tensors or dicts, but got minidl.Tensor"):
        optim.SGD(model.weight, lr=0.1)
    with pytest.raises(TypeError, match=r"model.parameters\(\)"):
        optim.Adam(model)
    with pytest.raises(TypeError, match="iterable of Tensors or dicts, but got int"):
        optim.SGD(3, lr=0.1)
    with pytest.raises(TypeError, match=r"\[\{'params'"):
        optim.SGD({"params": [model.weight]}, lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD({model.weight}, lr=0.1)
    with pytest.raises(TypeError, match="one of the params is str"):
        optim.SGD(["weight"], lr=0.1)


def test_the_same_parameter_twice_is_refused_in_one_group_and_across_groups() -> None:
    p, q = _param(2), _param(3)
    with pytest.raises(ValueError, match=r"same parameter twice \(positions 0 and 2"):
        optim.SGD([p, q, p], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p]}, {"params": [q, p]}], lr=0.1)
    opt = optim.SGD([p], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [p]})
    assert len(opt.param_groups) == 1


# -- the settings ----------------------------------------------------------------------------------

BAD = [
    (optim.Adam, dict(betas=0.9), TypeError, r"betas: expected a pair \(β₁, β₂\).*got float 0.9"),
    (optim.Adam, dict(betas=(0.9, 0.999, 0.5)), ValueError, "betas: expected a pair"),
    (optim.Adam, dict(betas=(0.9, "x")), TypeError, r"betas\[1\]: expected a number \(got str"),
    (optim.Adam, dict(lr=float("inf")), ValueError, "lr: expected a finite number"),
    (optim.Adam, dict(eps=float("nan")), ValueError, "eps"),
    (optim.Adam, dict(amsgrad="yes"), TypeError, "amsgrad: expected True or False"),
    (optim.AdamW, dict(weight_decay=None), TypeError, r"weight_decay: expected a number \(got NoneType"),
    (optim.SGD, dict(lr=0.1, momentum=True), TypeError, "momentum: expected a number"),
    (optim.SGD, dict(lr=0.1, dampening=float("inf")), ValueError, "dampening"),
    (optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=1), TypeError, "nesterov: expected True or False"),
    (optim.SGD, dict(lr=0.1, maximize="no"), TypeError, "maximize: expected True or False"),
    (optim.GD, dict(lr=[0.1]), TypeError, r"lr: expected a number \(got list"),
    (optim.RMSprop, dict(alpha=-0.5), ValueError, r"alpha: must be >= 0.0 \(got -0.5\)"),
    (optim.RMSprop, dict(centered=None), TypeError, "centered"),
    (optim.RMSprop, dict(weight_decay=-1.0), ValueError, "weight_decay"),
    (optim.Adagrad, dict(eps=-1.0), ValueError, r"eps: must be >= 0.0 \(got -1.0\)"),
    (optim.Adagrad, dict(lr=-0.1), ValueError, "lr"),
    (optim.Adagrad, dict(weight_decay="0"), TypeError, "weight_decay"),
]


@pytest.mark.parametrize("cls, kwargs, error, message", BAD)
def test_bad_settings_name_the_argument_the_expectation_and_the_value(cls, kwargs, error, message) -> None:
    with pytest.raises(error, match=message):
        cls([_param(2)], **kwargs)


def test_numpy_numbers_and_bools_are_fine_settings() -> None:
    opt = optim.Adam([_param(2)], lr=np.float32(0.01), betas=[np.float64(0.8), 0.99], amsgrad=np.bool_(True))
    assert opt.param_groups[0]["betas"] == (0.8, 0.99)


# -- loading a state dict ----------------------------------------------------------------------------

def _trained_adam() -> tuple[optim.Adam, list[minidl.Tensor]]:
    params = [_param(2, 3), _param(3)]
    opt = optim.Adam(params, lr=0.01)
    for p in params:
        p.grad = minidl.tensor(np.full(p.shape, 0.5, np.float32))
    opt.step()
    opt.step()
    return opt, params


def _snapshot(opt: optim.Optimizer) -> tuple[list, dict]:
    state = {id(p): {k: (np.array(minidl.backend.to_numpy(v)) if hasattr(v, "shape") else v)
                     for k, v in s.items()} for p, s in opt.state.items()}
    groups = [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
    return groups, state


def _assert_unchanged(opt: optim.Optimizer, before: tuple[list, dict]) -> None:
    groups, state = _snapshot(opt)
    assert groups == before[0]
    assert state.keys() == before[1].keys()
    for key, s in state.items():
        assert s.keys() == before[1][key].keys()
        for k, v in s.items():
            np.testing.assert_array_equal(v, before[1][key][k], strict=True)


def _broken(kind: str, good: dict) -> object:
    sd = {"state": {i: dict(s) for i, s in good["state"].items()},
          "param_groups": [dict(g) for g in good["param_groups"]]}
    if kind == "second state has the wrong shape":  # today: the first moments are cleared before this is found
        sd["state"][1]["exp_avg"] = np.zeros(4, np.float32)
    elif kind == "a state array of strings":
        sd["state"][1]["exp_avg_sq"] = np.array(["a", "b", "c"])
    elif kind == "SGD's state into Adam":
        sd["state"][1] = {"momentum_buffer": np.zeros(3, np.float32)}
    elif kind == "a missing moment":
        del sd["state"][0]["exp_avg_sq"]
    elif kind == "a bad setting":
        sd["param_groups"][0]["lr"] = -1.0
    elif kind == "a state for no parameter":
        sd["state"][7] = dict(sd["state"][0])
    elif kind == "too many parameters":
        sd["param_groups"][0]["params"] = [0, 1, 2]
    elif kind == "two groups":
        sd["param_groups"].append(dict(sd["param_groups"][0]))
    elif kind == "a list":
        return [sd]
    elif kind == "no state key":
        del sd["state"]
    elif kind == "a step that is not a number":
        sd["state"][0]["step"] = "2"
    return sd


@pytest.mark.parametrize("kind", ["second state has the wrong shape", "a state array of strings",
                                  "SGD's state into Adam", "a missing moment", "a bad setting",
                                  "a state for no parameter", "too many parameters", "two groups", "a list",
                                  "no state key", "a step that is not a number"])
def test_a_failed_load_changes_nothing(kind) -> None:
    opt, _ = _trained_adam()
    good = opt.state_dict()
    before = _snapshot(opt)
    with pytest.raises((TypeError, ValueError)):
        opt.load_state_dict(_broken(kind, good))
    _assert_unchanged(opt, before)
    opt.load_state_dict(good)  # the good one still loads
    _assert_unchanged(opt, before)


def test_load_errors_say_what_is_wrong() -> None:
    opt, _ = _trained_adam()
    good = opt.state_dict()
    with pytest.raises(ValueError, match=r"1, 'exp_avg' has shape \(4,\), but the parameter has shape \(3,\)"):
        opt.load_state_dict(_broken("second state has the wrong shape", good))
    with pytest.raises(ValueError, match=r"keys \['momentum_buffer'\]; Adam with these settings keeps"):
        opt.load_state_dict(_broken("SGD's state into Adam", good))
    with pytest.raises(TypeError, match="'state' and 'param_groups' \\(got list\\)"):
        opt.load_state_dict(_broken("a list", good))
    with pytest.raises(ValueError, match=r"invalid lr: must be >= 0.0 \(got -1.0\)"):
        opt.load_state_dict(_broken("a bad setting", good))


def test_a_state_saved_as_float64_is_loaded_as_the_parameter_dtype() -> None:
    opt, params = _trained_adam()
    sd = opt.state_dict()
    sd["state"][0] = {k: (v.astype(np.float64) if hasattr(v, "astype") else v) for k, v in sd["state"][0].items()}
    opt.load_state_dict(sd)
    assert opt.state[params[0]]["exp_avg"].dtype == np.float32


def test_momentum_switched_on_later_loads_without_a_buffer() -> None:
    """OneCycleLR may turn momentum on mid-run: a saved SGD state without its buffer is fine."""
    p = _param(2)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    opt.load_state_dict({"state": {0: {}}, "param_groups": [{"lr": 0.1, "momentum": 0.9, "params": [0]}]})
    p.grad = minidl.tensor(np.ones(2, np.float32))
    opt.step()
    np.testing.assert_allclose(minidl.backend.to_numpy(opt.state[p]["momentum_buffer"]), np.ones(2))


# -- the version counter -------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam, optim.RMSprop])
def test_every_update_of_a_parameter_bumps_its_version(cls) -> None:
    p, frozen = _param(2), _param(2)
    opt = cls([p, frozen], lr=0.1)
    p.grad = minidl.tensor(np.ones(2, np.float32))
    v, w = p._version, frozen._version
    opt.step()
    opt.step()
    assert p._version == v + 2 and frozen._version == w  # no grad: not updated, not bumped
