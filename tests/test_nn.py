"""``minidl.nn``: the Module registry, modes, state dicts, printing, layers, init and hooks."""

from __future__ import annotations

import math

import numpy as np
import pytest

import minidl as md
import minidl.nn.functional as F  # noqa: N812 - PyTorch's customary name
from minidl import nn
from minidl.nn import init

pytestmark = pytest.mark.backends  # also run on the stand-in (no NumPy may leak into GPU code)


class Block(nn.Module):
    """A custom module: a layer, an activation and a parameter of its own."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(2, 3, bias=False)
        self.act = nn.Tanh()
        self.scale = nn.Parameter(np.ones(3, dtype=np.float32))

    def forward(self, x: md.Tensor) -> md.Tensor:
        return self.act(self.fc(x)) * self.scale


def shares_memory(a, b) -> bool:
    """Whether two Tensors' arrays overlap in memory, on any backend (write into a, look at b)."""
    if type(a.data) is np.ndarray and type(b.data) is np.ndarray:
        return bool(np.shares_memory(a.data, b.data))
    before = b.numpy().copy()
    a.data[...] += 1
    try:
        return not np.array_equal(b.numpy(), before)
    finally:
        a.data[...] -= 1


def sample_model() -> nn.Sequential:
    return nn.Sequential(nn.Linear(4, 2), nn.ReLU(), Block())


# ---------------------------------------------------------------------------------------------
# Registry


def test_named_parameters_order_and_names() -> None:
    model = sample_model()
    names = [name for name, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "2.scale", "2.fc.weight"]
    assert [p.shape for p in model.parameters()] == [(2, 4), (2,), (3,), (3, 2)]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in model.parameters())
    assert list(dict(model.named_parameters())) == names


def test_mlp_parameter_names_match_pytorch() -> None:
    names = [n for n, _ in nn.MLP([5, 7, 3]).named_parameters()]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_children_and_modules() -> None:
    model = sample_model()
    children = list(model.children())
    assert [type(c).__name__ for c in children] == ["Linear", "ReLU", "Block"]
    assert [name for name, _ in model.named_children()] == ["0", "1", "2"]
    named = [(name, type(m).__name__) for name, m in model.named_modules()]
    assert named == [("", "Sequential"), ("0", "Linear"), ("1", "ReLU"), ("2", "Block"),
                     ("2.fc", "Linear"), ("2.act", "Tanh")]
    assert list(model.modules())[0] is model


def test_shared_parameter_and_module_counted_once() -> None:
    layer = nn.Linear(3, 3)
    twice = nn.Sequential(layer, nn.ReLU(), layer)
    assert len(list(twice.parameters())) == 2
    assert [n for n, _ in twice.named_parameters()] == ["0.weight", "0.bias"]

    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = nn.Linear(4, 4)
            self.decoder = nn.Linear(4, 4)
            self.decoder.weight = self.encoder.weight  # weight tying

    tied = Tied()
    assert [n for n, _ in tied.named_parameters()] == ["encoder.weight", "encoder.bias", "decoder.bias"]
    assert sum(p.numel() for p in tied.parameters()) == 16 + 4 + 4


def test_reassigning_an_attribute_replaces_the_registration() -> None:
    block = Block()
    block.fc = nn.Identity()
    assert [n for n, _ in block.named_parameters()] == ["scale"]
    block.scale = None  # no longer a Parameter
    assert list(block.parameters()) == []
    del block.act
    assert [n for n, _ in block.named_children()] == ["fc"]


def test_module_without_super_init_gives_a_clear_error() -> None:
    class Broken(nn.Module):
        def __init__(self) -> None:
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match="super"):
        Broken()


def test_train_and_eval_propagate() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout(0.5), Block()))
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    assert model.train() is model
    assert all(m.training for m in model.modules())
    model.train(False)
    assert not any(m.training for m in model.modules())


def test_zero_grad_set_to_none_or_zeros() -> None:
    model = sample_model()
    model(md.randn(3, 4)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad(set_to_none=False)
    for p in model.parameters():
        assert p.grad is not None and p.grad.dtype == p.dtype and p.grad.shape == p.shape
        assert not p.grad.numpy().any()
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


# ---------------------------------------------------------------------------------------------
# state_dict / load_state_dict


def test_state_dict_round_trip() -> None:
    md.manual_seed(0)
    source, target = sample_model(), sample_model()
    x = md.randn(5, 4)
    assert not np.allclose(source(x).numpy(), target(x).numpy())
    sd = source.state_dict()
    assert list(sd) == ["0.weight", "0.bias", "2.scale", "2.fc.weight"]
    result = target.load_state_dict(sd)
    assert list(result.missing_keys) == [] and list(result.unexpected_keys) == []
    np.testing.assert_array_equal(source(x).numpy(), target(x).numpy())


def test_load_state_dict_keeps_parameter_identity_and_copies() -> None:
    source, target = sample_model(), sample_model()
    before = {n: p for n, p in target.named_parameters()}
    ids = {n: id(p.data) for n, p in target.named_parameters()}
    target.load_state_dict(source.state_dict())
    for n, p in target.named_parameters():
        assert p is before[n]
        assert id(p.data) == ids[n]  # written in place: an optimizer built earlier stays valid
        assert not shares_memory(p, source.state_dict()[n])
    with md.no_grad():
        source[0].weight.fill_(123.0)
    assert not (target[0].weight.numpy() == 123.0).any()


def test_load_state_dict_accepts_numpy_arrays_and_casts() -> None:
    target = nn.Linear(2, 1)
    target.load_state_dict({"weight": np.array([[1.0, 2.0]]), "bias": np.array([0.5])})
    assert target.weight.dtype == md.float32
    np.testing.assert_array_equal(target.weight.numpy(), [[1.0, 2.0]])


def _snapshot(model: nn.Module) -> dict[str, np.ndarray]:
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def _assert_unchanged(model: nn.Module, snap: dict[str, np.ndarray]) -> None:
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), snap[k], err_msg=k)


def test_missing_keys_raise_naming_them_and_change_nothing() -> None:
    source, target = sample_model(), sample_model()
    sd = dict(source.state_dict())
    del sd["0.bias"], sd["2.scale"]
    snap = _snapshot(target)
    with pytest.raises(RuntimeError, match="missing") as info:
        target.load_state_dict(sd)
    assert "0.bias" in str(info.value) and "2.scale" in str(info.value)
    _assert_unchanged(target, snap)


def test_unexpected_keys_raise_naming_them_and_change_nothing() -> None:
    source, target = sample_model(), sample_model()
    sd = dict(source.state_dict())
    sd["3.weight"] = md.ones(2, 2)
    snap = _snapshot(target)
    with pytest.raises(RuntimeError, match="unexpected") as info:
        target.load_state_dict(sd)
    assert "3.weight" in str(info.value)
    _assert_unchanged(target, snap)


def test_shape_mismatch_names_key_and_both_shapes_and_changes_nothing() -> None:
    source, target = sample_model(), sample_model()
    sd = dict(source.state_dict())
    sd["2.fc.weight"] = md.ones(2, 3)  # listed last: earlier entries must not be written either
    snap = _snapshot(target)
    for strict in (True, False):
        with pytest.raises(RuntimeError) as info:
            target.load_state_dict(sd, strict=strict)
        msg = str(info.value)
        assert "2.fc.weight" in msg and "(2, 3)" in msg and "(3, 2)" in msg
        _assert_unchanged(target, snap)


@pytest.mark.parametrize("bad,given", [
    ([("0.weight", np.ones((3, 2)))], "list"),
    ((np.ones(3),), "tuple"),
    (np.ones(3), "ndarray"),
    ("model.npz", "str"),
], ids=["list_of_pairs", "tuple", "array", "path"])
def test_load_state_dict_of_a_non_dict_is_a_type_error_naming_what_was_given(bad, given) -> None:
    target = sample_model()
    snap = _snapshot(target)
    with pytest.raises(TypeError) as info:
        target.load_state_dict(bad)
    msg = str(info.value)
    assert "load_state_dict" in msg and "dict" in msg and f"got {given}" in msg
    _assert_unchanged(target, snap)


def test_load_state_dict_with_list_values_names_the_keys_and_changes_nothing() -> None:
    source, target = sample_model(), sample_model()
    sd = {k: v.numpy().tolist() for k, v in source.state_dict().items()}  # json-style lists
    snap = _snapshot(target)
    with pytest.raises(TypeError) as info:
        target.load_state_dict(sd)
    msg = str(info.value)
    assert "'0.weight' (list)" in msg and "Tensor or an array" in msg and "minidl.tensor" in msg
    _assert_unchanged(target, snap)
    sd = {k: md.tensor(np.asarray(v)) for k, v in sd.items()}  # what the message suggests works
    target.load_state_dict(sd)
    sd = {k: np.asarray(v.numpy()) for k, v in source.state_dict().items()}
    sd["0.bias"] = sd["0.bias"].astype(str)  # strings of the right shape: refused before any copy
    with pytest.raises(TypeError, match=r"'0\.bias' \(dtype <U"):
        target.load_state_dict(sd)


def test_non_strict_returns_missing_and_unexpected() -> None:
    source, target = sample_model(), sample_model()
    sd = dict(source.state_dict())
    del sd["0.weight"]
    sd["extra"] = md.ones(1)
    result = target.load_state_dict(sd, strict=False)
    assert list(result.missing_keys) == ["0.weight"]
    assert list(result.unexpected_keys) == ["extra"]
    missing, unexpected = result  # a named pair, as PyTorch's _IncompatibleKeys
    assert missing == ["0.weight"] and unexpected == ["extra"]
    np.testing.assert_array_equal(target[0].bias.numpy(), source[0].bias.numpy())


# ---------------------------------------------------------------------------------------------
# Printing


def test_repr_matches_pytorch_layout() -> None:
    model = nn.Sequential(nn.Sequential(nn.Linear(4, 2)), Block(), nn.ReLU(), nn.LeakyReLU(0.2),
                          nn.Softmax(dim=1), nn.Flatten(), nn.Identity())
    # the text printed by torch.nn for the same model
    expected = """Sequential(
  (0): Sequential(
    (0): Linear(in_features=4, out_features=2, bias=True)
  )
  (1): Block(
    (fc): Linear(in_features=2, out_features=3, bias=False)
    (act): Tanh()
  )
  (2): ReLU()
  (3): LeakyReLU(negative_slope=0.2)
  (4): Softmax(dim=1)
  (5): Flatten(start_dim=1, end_dim=-1)
  (6): Identity()
)"""
    assert repr(model) == expected
    assert repr(nn.Linear(3, 1)) == "Linear(in_features=3, out_features=1, bias=True)"
    assert repr(nn.ReLU()) == "ReLU()"
    assert repr(nn.Dropout(0.3)).startswith("Dropout(p=0.3")


# ---------------------------------------------------------------------------------------------
# Linear


def test_linear_default_init_bounds() -> None:
    md.manual_seed(0)
    layer = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    for p in (layer.weight, layer.bias):
        v = p.numpy()
        assert p.dtype == md.float32
        assert np.abs(v).max() <= bound
        assert np.abs(v).max() > 0.98 * bound  # really uniform over the whole interval
        assert abs(v.mean()) < 0.1 * bound
    w = layer.weight.numpy()
    assert w.var() == pytest.approx(bound ** 2 / 3, rel=0.02)  # U(−b, b) has variance b²/3
    assert layer.weight.shape == (300, 400) and layer.bias.shape == (300,)


def test_linear_forward_is_x_w_transpose_plus_b() -> None:
    layer = nn.Linear(3, 2, dtype="float64")
    x = np.arange(6.0).reshape(2, 3)
    expected = x @ layer.weight.numpy().T + layer.bias.numpy()
    np.testing.assert_allclose(layer(md.tensor(x)).numpy(), expected, rtol=1e-12)
    assert nn.Linear(3, 2, bias=False).bias is None
    assert [n for n, _ in nn.Linear(3, 2, bias=False).named_parameters()] == ["weight"]


def test_linear_input_feature_mismatch_names_both_shapes() -> None:
    layer = nn.Linear(4, 3)
    with pytest.raises(ValueError) as info:
        layer(md.ones(2, 5))
    msg = str(info.value)
    assert "(2, 5)" in msg and "(3, 4)" in msg


@pytest.mark.parametrize("args", [(0, 3), (3, -1), (2.5, 3)])
def test_linear_rejects_bad_sizes(args) -> None:
    with pytest.raises(ValueError, match="positive int"):
        nn.Linear(*args)


# ---------------------------------------------------------------------------------------------
# Dropout


def test_dropout_is_inverted_and_preserves_the_mean() -> None:
    md.manual_seed(0)
    x = md.ones(400, 250)
    layer = nn.Dropout(0.3)
    y = layer(x).numpy()
    assert y.dtype == np.float32
    zero_share = (y == 0).mean()
    assert zero_share == pytest.approx(0.3, abs=0.01)
    np.testing.assert_allclose(y[y != 0], 1 / 0.7, rtol=1e-6)  # survivors scaled by 1/(1−p)
    assert y.mean() == pytest.approx(1.0, abs=0.01)


def test_dropout_gradient_uses_the_same_mask() -> None:
    md.manual_seed(1)
    x = md.ones(50, 20, requires_grad=True)
    y = F.dropout(x, 0.5)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.numpy())  # ∂y/∂x = mask/(1−p) = y for x = 1


def test_dropout_is_identity_in_eval_mode_and_for_p_zero() -> None:
    x = md.randn(20, 10)
    layer = nn.Dropout(0.9).eval()
    np.testing.assert_array_equal(layer(x).numpy(), x.numpy())
    np.testing.assert_array_equal(nn.Dropout(0.0)(x).numpy(), x.numpy())
    np.testing.assert_array_equal(F.dropout(x, 0.5, training=False).numpy(), x.numpy())


def test_dropout_p_one_zeros_everything_with_finite_gradient() -> None:
    x = md.randn(5, 4, requires_grad=True)
    y = nn.Dropout(1.0)(x)
    assert not y.numpy().any()
    y.sum().backward()
    assert np.isfinite(x.grad.numpy()).all() and not x.grad.numpy().any()


def test_dropout_masks_differ_between_calls() -> None:
    md.manual_seed(0)
    x = md.ones(10, 10)
    layer = nn.Dropout(0.5)
    assert not np.array_equal(layer(x).numpy(), layer(x).numpy())


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_p_out_of_range_raises(p: float) -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        nn.Dropout(p)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        F.dropout(md.ones(2), p)


# ---------------------------------------------------------------------------------------------
# MLP


def test_mlp_structure() -> None:
    model = nn.MLP([64, 128, 10])
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear"]
    assert (model[0].in_features, model[0].out_features) == (64, 128)
    assert (model[2].in_features, model[2].out_features) == (128, 10)
    assert sum(p.numel() for p in model.parameters()) == 64 * 128 + 128 + 128 * 10 + 10
    assert model(md.randn(7, 64)).shape == (7, 10)


def test_mlp_options() -> None:
    deep = nn.MLP([8, 6, 4, 2], activation=nn.Tanh, dropout=0.25)
    assert [type(m).__name__ for m in deep] == ["Linear", "Tanh", "Dropout", "Linear", "Tanh",
                                                "Dropout", "Linear"]
    assert deep[2].p == 0.25
    assert all(m.bias is None for m in nn.MLP([3, 2, 1], bias=False) if isinstance(m, nn.Linear))
    assert [type(m).__name__ for m in nn.MLP([3, 2])] == ["Linear"]
    with pytest.raises(ValueError):
        nn.MLP([5])


# ---------------------------------------------------------------------------------------------
# init


def test_calculate_gain_values() -> None:
    assert init.calculate_gain("linear") == 1.0
    assert init.calculate_gain("sigmoid") == 1.0
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("selu") == pytest.approx(0.75)
    with pytest.raises(ValueError, match="swish"):
        init.calculate_gain("swish")


FAN_OUT, FAN_IN = 300, 500


@pytest.mark.parametrize("fill,expected_std", [
    (lambda t: init.xavier_uniform_(t), math.sqrt(2 / (FAN_IN + FAN_OUT))),
    (lambda t: init.xavier_normal_(t), math.sqrt(2 / (FAN_IN + FAN_OUT))),
    (lambda t: init.xavier_uniform_(t, gain=init.calculate_gain("tanh")),
     5 / 3 * math.sqrt(2 / (FAN_IN + FAN_OUT))),
    (lambda t: init.kaiming_uniform_(t, nonlinearity="relu"), math.sqrt(2 / FAN_IN)),
    (lambda t: init.kaiming_normal_(t, nonlinearity="relu"), math.sqrt(2 / FAN_IN)),
    (lambda t: init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu"), math.sqrt(2 / FAN_OUT)),
    (lambda t: init.kaiming_uniform_(t, a=math.sqrt(5)), 1 / math.sqrt(3 * FAN_IN)),  # Linear's
    (lambda t: init.normal_(t, 0.0, 0.02), 0.02),
], ids=["xavier_uniform", "xavier_normal", "xavier_tanh", "kaiming_uniform", "kaiming_normal",
        "kaiming_fan_out", "kaiming_a_sqrt5", "normal"])
def test_init_std(fill, expected_std: float) -> None:
    md.manual_seed(0)
    p = nn.Parameter(np.zeros((FAN_OUT, FAN_IN), dtype=np.float32))
    data_id = id(p.data)
    out = fill(p)
    assert out is p and id(p.data) == data_id  # filled in place
    assert p.dtype == md.float32
    assert p.numpy().std() == pytest.approx(expected_std, rel=0.02)
    assert abs(p.numpy().mean()) < 0.02 * expected_std


def test_uniform_inits_respect_their_bounds() -> None:
    md.manual_seed(0)
    p = nn.Parameter(np.zeros((FAN_OUT, FAN_IN), dtype=np.float32))
    init.xavier_uniform_(p)
    assert np.abs(p.numpy()).max() <= math.sqrt(6 / (FAN_IN + FAN_OUT))
    init.kaiming_uniform_(p, nonlinearity="relu")
    assert np.abs(p.numpy()).max() <= math.sqrt(6 / FAN_IN)


def test_init_constant_and_errors() -> None:
    p = nn.Parameter(np.zeros((2, 3), dtype=np.float32))
    init.constant_(p, 0.5)
    np.testing.assert_array_equal(p.numpy(), np.full((2, 3), 0.5))
    init.ones_(p)
    assert (p.numpy() == 1).all()
    init.zeros_(p)
    assert not p.numpy().any()
    with pytest.raises(ValueError, match="2 dims"):
        init.xavier_uniform_(nn.Parameter(np.zeros(3, dtype=np.float32)))
    with pytest.raises(ValueError, match="mode"):
        init.kaiming_normal_(p, mode="fan_avg")


# ---------------------------------------------------------------------------------------------
# Hooks


def test_forward_hook_sees_and_can_replace_the_output() -> None:
    layer = nn.Linear(3, 2)
    seen = []
    handle = layer.register_forward_hook(lambda m, args, out: seen.append((m, args, out)))
    x = md.randn(4, 3)
    y = layer(x)
    assert len(seen) == 1
    m, args, out = seen[0]
    assert m is layer and args[0] is x and out is y
    replace = layer.register_forward_hook(lambda m, args, out: out * 0.0)
    assert not layer(x).numpy().any()
    handle.remove()
    replace.remove()
    layer(x)
    assert len(seen) == 2  # the first hook ran for the second call, not after removal
    np.testing.assert_array_equal(layer(x).numpy(), y.numpy())


def test_forward_pre_hook_can_replace_the_input() -> None:
    layer = nn.Identity()
    calls = []
    h1 = layer.register_forward_pre_hook(lambda m, args: calls.append(args))
    h2 = layer.register_forward_pre_hook(lambda m, args: args[0] * 2.0)  # single value, not a tuple
    x = md.tensor([1.0, 2.0])
    np.testing.assert_array_equal(layer(x).numpy(), [2.0, 4.0])
    assert calls[0][0] is x
    h2.remove()
    np.testing.assert_array_equal(layer(x).numpy(), [1.0, 2.0])
    h1.remove()
    h1.remove()  # removing twice is harmless
    layer(x)
    assert len(calls) == 2


def test_hooks_run_in_registration_order() -> None:
    layer = nn.Identity()
    order = []
    layer.register_forward_hook(lambda m, a, o: order.append("first"))
    layer.register_forward_hook(lambda m, a, o: order.append("second"))
    layer(md.ones(1))
    assert order == ["first", "second"]


# ---------------------------------------------------------------------------------------------
# Seeding


def test_manual_seed_reproduces_init() -> None:
    md.manual_seed(123)
    a = nn.MLP([6, 5, 3])
    r1 = md.randn(4)
    md.manual_seed(123)
    b = nn.MLP([6, 5, 3])
    r2 = md.randn(4)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb
        np.testing.assert_array_equal(va.numpy(), vb.numpy())
    np.testing.assert_array_equal(r1.numpy(), r2.numpy())
    md.manual_seed(124)
    c = nn.MLP([6, 5, 3])
    assert not np.array_equal(a[0].weight.numpy(), c[0].weight.numpy())


@pytest.mark.parametrize("seed", [-1, 1.5, "0"])
def test_manual_seed_rejects_bad_seeds(seed) -> None:
    with pytest.raises(ValueError, match="seed"):
        md.manual_seed(seed)


def test_linear_and_conv2d_make_their_parameters_one_way() -> None:
    # one helper (nn.init.add_weight_and_bias) for both layers: shapes, dtype, bias=False, bound
    for layer, shape, fan_in in ((nn.Linear(6, 4), (4, 6), 6), (nn.Conv2d(3, 5, (2, 3)), (5, 3, 2, 3), 18)):
        assert layer.weight.shape == shape and layer.bias.shape == (shape[0],)
        assert layer.weight.dtype == md.get_default_dtype() == layer.bias.dtype
        bound = 1 / np.sqrt(fan_in)
        assert np.abs(layer.weight.numpy()).max() <= bound and np.abs(layer.bias.numpy()).max() <= bound
    for layer in (nn.Linear(6, 4, bias=False), nn.Conv2d(3, 5, 2, bias=False)):
        assert layer.bias is None and list(layer.state_dict()) == ["weight"]
    assert nn.Linear(2, 2, dtype=md.float64).weight.dtype == md.float64

    class Ones(nn.Linear):  # a subclass's reset_parameters is the one called, as in PyTorch
        def reset_parameters(self) -> None:
            nn.init.ones_(self.weight)
            nn.init.zeros_(self.bias)

    m = Ones(3, 2)
    assert m.weight.numpy().tolist() == [[1, 1, 1], [1, 1, 1]] and m.bias.numpy().tolist() == [0, 0]


@pytest.mark.numpy_only  # the split runs on NumPy arrays only
def test_linear_split_over_threads_gives_the_unsplit_values_and_gradients(monkeypatch):
    """A large Linear splits its three products by rows over minidl's threads (kernels/matmul.py)."""
    from minidl.engine.ops import linalg
    from minidl.kernels import matmul
    from minidl.threads import num_threads

    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((9, 6)), rng.standard_normal((4, 6)), rng.standard_normal(4)

    def run():
        xt, wt, bt = (md.tensor(a, requires_grad=True) for a in (x, w, b))
        y = md.nn.functional.linear(xt, wt, bt)
        (y * y).sum().backward()
        return y.numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()

    whole = run()
    calls = []
    real = matmul.matmul_rows_split
    monkeypatch.setattr(linalg, "matmul_rows_split", lambda a, b_: calls.append(a.shape) or real(a, b_))
    monkeypatch.setattr(linalg, "SPLIT_FROM", 1)
    monkeypatch.setattr(matmul, "MIN_MACS", 1)
    with num_threads(2):
        split = run()
    assert calls == [(9, 6), (9, 4), (4, 9)]  # y = x Wᵀ, ∂L/∂x = G W, ∂L/∂W = Gᵀ x
    for a, b_ in zip(whole, split):
        np.testing.assert_allclose(a, b_, rtol=1e-12, atol=1e-12)
