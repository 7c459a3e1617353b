"""minidl.compile: a compiled step trains exactly like eager (bit-equal unfused, 1e-6 fused);
guards capture again when they should; what cannot be captured says so, naming the line."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import minidl
import minidl.nn.functional as F
from minidl import nn, optim
from minidl.backend import to_numpy
from minidl.compiler import GraphBreak, config

pytestmark = pytest.mark.backends


def _batches(n: int, shape: tuple[int, ...], classes: int = 10, seed: int = 0) -> list[tuple[minidl.Tensor, object]]:
    rng = np.random.default_rng(seed)
    xp = minidl.backend.xp
    return [(minidl.tensor(rng.standard_normal(shape).astype(np.float32)),
             xp.asarray(rng.integers(0, classes, shape[0]))) for _ in range(n)]


def _train_step(model: nn.Module, opt: optim.Optimizer):
    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def _pair(make_model, make_opt):
    """Two identical (model, optimizer) pairs from the same seed."""
    out = []
    for _ in range(2):
        minidl.manual_seed(0)
        model = make_model()
        out.append((model, make_opt(model)))
    return out


def _state(model: nn.Module) -> list[np.ndarray]:
    return [to_numpy(p.data) for p in model.parameters()] + [to_numpy(p.grad.data) for p in model.parameters()
                                                              if p.grad is not None]


OPTIMIZERS = {
    "sgd": lambda m: optim.SGD(m.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam": lambda m: optim.Adam(m.parameters(), lr=1e-2),
    "adamw": lambda m: optim.AdamW(m.parameters(), lr=1e-2),
    "adam-amsgrad-two-groups": lambda m: optim.Adam([{"params": list(m.parameters())[:2], "lr": 1e-2},
                                                     {"params": list(m.parameters())[2:]}], lr=3e-3, amsgrad=True),
}


def _assert_trained_alike(m1: nn.Module, m2: nn.Module, fuse: bool) -> None:
    """Weights and gradients bit-equal (unfused), or within 1e-6 of each tensor's scale (fused:
    a weight near 0 may differ by an ulp of its neighbours)."""
    for p, q in zip(_state(m1), _state(m2)):
        if fuse:
            assert np.abs(q - p).max() <= 1e-6 * np.abs(p).max()
        else:
            assert p.tobytes() == q.tobytes()


def _compare(make_model, make_opt, shape, fuse: bool, steps: int = 5, prepare=None) -> minidl.compiler.CompiledFunction:
    (m1, o1), (m2, o2) = _pair(make_model, make_opt)
    if prepare is not None:
        m1, o1 = prepare(m1, o1)
        m2, o2 = prepare(m2, o2)
    eager, compiled = _train_step(m1, o1), minidl.compile(_train_step(m2, o2), fuse=fuse)
    for x, y in _batches(steps, shape):
        minidl.manual_seed(1)
        a = eager(x, y)
        minidl.manual_seed(1)
        b = compiled(x, y)
        if fuse:
            np.testing.assert_allclose(to_numpy(b.data), to_numpy(a.data), rtol=1e-6, atol=1e-7)
        else:
            assert to_numpy(a.data).tobytes() == to_numpy(b.data).tobytes()
    _assert_trained_alike(m1, m2, fuse)
    assert compiled.cache[0].hits == steps - 1 and len(compiled.cache) == 1
    return compiled


@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
def test_unfused_mlp_step_is_bit_equal_to_eager(opt):
    _compare(lambda: nn.MLP([64, 128, 10]), OPTIMIZERS[opt], (32, 64), fuse=False)


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_unfused_cnn_step_is_bit_equal_to_eager(opt):
    _compare(lambda: nn.SmallCNN(1, 10, 8), OPTIMIZERS[opt], (4, 1, 8, 8), fuse=False, steps=3)


def test_unfused_dropout_draws_a_fresh_mask_each_replay():
    def model():
        return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 10))

    _compare(model, OPTIMIZERS["sgd"], (8, 16), fuse=False, steps=4)


def _pruned(model, opt):
    from minidl.compress import prune

    prune.l1_unstructured(model[0], "weight", amount=0.5)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    prune.enforce_masks(opt, model)
    return model, opt


def test_unfused_pruned_model_keeps_its_mask_and_equals_eager():
    compiled = _compare(lambda: nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)),
                        OPTIMIZERS["sgd"], (16, 64), fuse=False, prepare=_pruned)
    assert "SGD.step" in compiled.explain(file=open("/dev/null", "w"))  # noqa: SIM115


def _qat(model, opt):
    from minidl.compress import quantize as Q

    model = Q.prepare_qat(model, Q.get_default_qat_qconfig(bits=8))
    return model, optim.Adam(model.parameters(), lr=1e-2)


def test_unfused_qat_model_observes_each_batch_and_equals_eager():
    _compare(lambda: nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 10)),
             OPTIMIZERS["adam"], (8, 16), fuse=False, prepare=_qat)


@pytest.mark.parametrize("fuse", [False, True])
def test_scheduler_changing_lr_between_calls_is_honoured(fuse):
    (m1, o1), (m2, o2) = _pair(lambda: nn.MLP([8, 16, 3]), lambda m: optim.SGD(m.parameters(), lr=0.5, momentum=0.9))
    s1, s2 = optim.lr_scheduler.StepLR(o1, 1, gamma=0.1), optim.lr_scheduler.StepLR(o2, 1, gamma=0.1)
    eager, compiled = _train_step(m1, o1), minidl.compile(_train_step(m2, o2), fuse=fuse)
    for x, y in _batches(4, (4, 8), classes=3):
        eager(x, y), compiled(x, y)
        s1.step(), s2.step()
    _assert_trained_alike(m1, m2, fuse)


@pytest.mark.parametrize("fuse", [False, True])
def test_load_state_dict_and_replaced_parameters_stay_correct(fuse):
    (m1, o1), (m2, o2) = _pair(lambda: nn.MLP([8, 16, 3]), lambda m: optim.Adam(m.parameters(), lr=1e-2))
    eager, compiled = _train_step(m1, o1), minidl.compile(_train_step(m2, o2), fuse=fuse)
    batches = _batches(6, (4, 8), classes=3)
    for x, y in batches[:2]:
        eager(x, y), compiled(x, y)
    saved = o1.state_dict()
    o1.load_state_dict(saved), o2.load_state_dict(saved)  # new state arrays
    m1.load_state_dict(m1.state_dict()), m2.load_state_dict(m2.state_dict())
    for x, y in batches[2:4]:
        eager(x, y), compiled(x, y)
    # a parameter replaced by a new Tensor: a guard fails and the step is captured again
    for m in (m1, m2):
        m[0].bias = nn.Parameter(m[0].bias.data.copy())
    for x, y in batches[4:]:
        eager(x, y), compiled(x, y)
    assert len(compiled.cache) == 2 and "replaced" in compiled.recompile_reasons[0]
    _assert_trained_alike(m1, m2, fuse)


def test_guards_capture_again_on_shape_train_eval_and_grad_mode():
    minidl.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 3))
    forward = minidl.compile(lambda x: model(x), fuse=False)
    x4, x5 = minidl.randn(4, 8), minidl.randn(5, 8)
    forward(x4), forward(x4)
    assert len(forward.cache) == 1
    forward(x5)
    assert len(forward.cache) == 2 and "(4, 8)" in forward.recompile_reasons[-1]
    model.eval()
    out = forward(x4)
    assert len(forward.cache) == 3 and "training" in forward.recompile_reasons[-1]
    with minidl.no_grad():
        out2 = forward(x4)
    assert len(forward.cache) == 4 and "grad mode" in forward.recompile_reasons[-1]
    with minidl.no_grad():
        out3 = forward(x4)  # replayed: equal to eager eval
    assert len(forward.cache) == 4
    expected = model(x4)
    for o in (out, out2, out3):
        assert to_numpy(o.data).tobytes() == to_numpy(expected.data).tobytes()


def test_data_dependent_python_names_the_line_or_falls_back_once():
    minidl.manual_seed(0)
    model = nn.Linear(4, 2)

    def step(x):
        loss = model(x).sum()
        if loss > 0:  # data-dependent branch
            return loss * 2
        return loss

    x = minidl.randn(3, 4)
    with pytest.raises(GraphBreak, match=r"test_compile\.py:\d+.*bool\(tensor\)"):
        minidl.compile(step)(x)
    for read in (lambda t: t.item(), float, lambda t: t.numpy(), lambda t: t.tolist()):
        with pytest.raises(GraphBreak, match="data-dependent"):
            minidl.compile(lambda x, read=read: read(model(x).sum()))(x)
    lenient = minidl.compile(step, fallback=True)
    with pytest.warns(UserWarning, match="runs eagerly"):
        first = lenient(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        second = lenient(x)  # the warning is shown once
    assert to_numpy(first.data).tobytes() == to_numpy(second.data).tobytes() == to_numpy(step(x).data).tobytes()


def test_cache_limit_warns_and_runs_eagerly(monkeypatch):
    monkeypatch.setattr(config, "cache_size_limit", 3)
    minidl.manual_seed(0)
    model = nn.Linear(4, 2)
    forward = minidl.compile(model, fuse=False)
    with minidl.no_grad():
        for n in (1, 2, 3):
            forward(minidl.randn(n, 4))
        x = minidl.randn(7, 4)
        with pytest.warns(UserWarning, match="cache_size_limit"):
            out = forward(x)
        assert len(forward._compiled.cache) == 3
        assert to_numpy(out.data).tobytes() == to_numpy(model(x).data).tobytes()
    with pytest.warns(UserWarning, match="inference only"):
        forward(x)  # gradients on: the module runs eagerly


def test_bad_arguments_are_refused():
    with pytest.raises(TypeError, match="function or a Module"):
        minidl.compile(3)
    with pytest.raises(NotImplementedError, match="dynamic"):
        minidl.compile(lambda x: x, dynamic=True)


# -- fuse=True: the plan agrees with eager to float32 rounding ---------------------------------
@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
def test_fused_mlp_agrees_with_eager_after_five_steps(opt):
    compiled = _compare(lambda: nn.MLP([64, 128, 10]), OPTIMIZERS[opt], (32, 64), fuse=True)
    plan = compiled.cache[0].plan
    if minidl.backend.xp is np:  # on a GPU (or the stand-in) the replay is unfused
        assert plan is not None and not plan.unlowered
        assert any("softmax_cross_entropy_" in into for _, into in plan.groups)


def test_fused_models_with_unlowered_ops_still_agree():
    _compare(lambda: nn.SmallCNN(1, 10, 8), OPTIMIZERS["adam"], (4, 1, 8, 8), fuse=True, steps=3)
    _compare(lambda: nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)), OPTIMIZERS["sgd"], (16, 64),
             fuse=True, prepare=_pruned)
    _compare(lambda: nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 10)), OPTIMIZERS["adam"], (8, 16),
             fuse=True, prepare=_qat)


@pytest.mark.numpy_only
def test_fused_plan_shares_buffers_and_explains_itself(capsys):
    minidl.manual_seed(0)
    model = nn.MLP([16, 32, 32, 4])
    opt = optim.SGD(model.parameters(), lr=0.1)
    step = minidl.compile(_train_step(model, opt))
    x, y = _batches(1, (8, 16), classes=4)[0]
    step(x, y), step(x, y)
    plan = step.cache[0].plan
    owners = [len(lives) for _, _, lives in plan.buffers]
    assert max(owners) >= 2  # some buffer holds two values whose lifetimes do not overlap
    text = step.explain()
    for part in ("the guards, as generated", "-- graph:", "-- fusion groups:", "-- buffer plan:", "def replay("):
        assert part in text
    assert text in capsys.readouterr().out


@pytest.mark.numpy_only
def test_fused_loss_refuses_targets_outside_the_classes():
    minidl.manual_seed(0)
    model = nn.MLP([8, 4])
    step = minidl.compile(_train_step(model, optim.SGD(model.parameters(), lr=0.1)))
    x, y = _batches(1, (4, 8), classes=4)[0]
    step(x, y)
    with pytest.raises(IndexError, match="outside 0..3"):
        step(x, np.array([0, 1, 2, 7]))


@pytest.mark.numpy_only
def test_generated_kernels_equal_their_numpy_references():
    from minidl.compiler import codegen

    k = codegen.kernels()
    rng = np.random.default_rng(0)
    z = rng.standard_normal((6, 5)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    t = rng.integers(0, 5, 6)
    y1, y2 = z.copy(), z.copy()
    k.bias_relu_(y1, b)
    codegen.bias_relu_reference(y2, b)
    assert y1.tobytes() == y2.tobytes()
    g = rng.standard_normal((6, 5)).astype(np.float32)
    o1, o2 = np.empty_like(g), np.empty_like(g)
    k.relu_backward_(g, z, o1)
    codegen.relu_backward_reference(g, z, o2)
    assert np.array_equal(o1, o2)  # equal values (the kernel writes +0 where g·0 may be −0)
    z1, z2, g1, g2 = z.copy(), z.copy(), np.empty_like(z), np.empty_like(z)
    loss1 = k.softmax_cross_entropy_(z1, b, t, 1 / 6, g1)
    loss2 = codegen.softmax_cross_entropy_reference(z2, b, t, 1 / 6, g2)
    np.testing.assert_allclose(loss1, loss2, rtol=1e-6)
    np.testing.assert_allclose(g1, g2, rtol=1e-5, atol=1e-7)
    assert z1.tobytes() == z2.tobytes()


@pytest.mark.parametrize("fuse", [False, True])
def test_gradient_clipping_inside_the_step_is_replayed(fuse):
    (m1, o1), (m2, o2) = _pair(lambda: nn.MLP([8, 16, 3]), lambda m: optim.SGD(m.parameters(), lr=0.5))

    def make(model, opt):
        def step(x, y):
            opt.zero_grad()
            F.cross_entropy(model(x), y).backward()
            norm = nn.utils.clip_grad_norm_(model.parameters(), 0.1)
            opt.step()
            return norm

        return step

    eager, compiled = make(m1, o1), minidl.compile(make(m2, o2), fuse=fuse)
    for x, y in _batches(4, (4, 8), classes=3):
        a, b = eager(x, y), compiled(x, y)
        np.testing.assert_allclose(to_numpy(b.data), to_numpy(a.data), rtol=1e-6)
    for p, q in zip(_state(m1), _state(m2)):
        np.testing.assert_allclose(q, p, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("fuse", [False, True])
def test_gradients_accumulate_across_calls_without_zero_grad(fuse):
    (m1, _), (m2, _) = _pair(lambda: nn.MLP([8, 16, 3]), lambda m: None)

    def make(model):
        def accumulate(x, y):
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            return loss

        return accumulate

    eager, compiled = make(m1), minidl.compile(make(m2), fuse=fuse)
    for x, y in _batches(3, (4, 8), classes=3):
        eager(x, y), compiled(x, y)
    for p, q in zip(_state(m1), _state(m2)):
        np.testing.assert_allclose(q, p, rtol=1e-6, atol=1e-7)


def test_fit_with_compile_trains_like_eager():
    from minidl.data import ArrayDataset, DataLoader
    from minidl.train import fit

    rng = np.random.default_rng(0)
    xp = minidl.backend.xp
    data = ArrayDataset(xp.asarray(rng.standard_normal((50, 8)).astype(np.float32)), xp.asarray(rng.integers(0, 3, 50)))
    histories, models = [], []
    for compiled in (False, True):
        minidl.manual_seed(0)
        model = nn.MLP([8, 16, 3])
        opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        histories.append(fit(model, F.cross_entropy, opt, DataLoader(data, batch_size=16, shuffle=True, seed=0),
                             epochs=3, progress=False, compile=compiled))  # 50 = 3×16 + 2: a last, smaller batch
        models.append(model)
    np.testing.assert_allclose(histories[1].train_loss, histories[0].train_loss, rtol=1e-5)
    for p, q in zip(_state(models[0]), _state(models[1])):
        np.testing.assert_allclose(q, p, rtol=1e-5, atol=1e-6)


def test_compiled_model_for_inference_equals_eager():
    minidl.manual_seed(0)
    model = nn.MLP([16, 32, 4]).eval()
    fast = minidl.compile(model)
    assert isinstance(fast, minidl.compiler.OptimizedModule) and fast._orig_mod is model
    assert list(fast.parameters()) == list(model.parameters())  # everything else is the model's
    for seed in range(3):
        x = minidl.tensor(np.random.default_rng(seed).standard_normal((5, 16)).astype(np.float32))
        with minidl.no_grad():
            a, b = model(x), fast(x)
        np.testing.assert_allclose(to_numpy(b.data), to_numpy(a.data), rtol=1e-6, atol=1e-7)
    assert fast._compiled.cache[0].hits == 2


@pytest.mark.parametrize("fuse", [False, True])
def test_a_loss_built_from_scalars_returns_what_eager_returns(fuse):
    """0-d ops hand NumPy scalars to the backward pass; a tuple and a dict come back rebuilt."""
    (m1, o1), (m2, o2) = _pair(lambda: nn.MLP([8, 16, 3]), lambda m: optim.SGD(m.parameters(), lr=0.1))

    def make(model, opt):
        def step(x, y, scale=0.5):
            opt.zero_grad()
            out = model(x)
            loss = F.cross_entropy(out, y)
            total = loss * scale + loss * loss  # two gradients of `loss` meet, both 0-d
            total.backward()
            opt.step()
            return total, {"logits": out}

        return step

    eager, compiled = make(m1, o1), minidl.compile(make(m2, o2), fuse=fuse)
    for x, y in _batches(3, (4, 8), classes=3):
        (a, da), (b, db) = eager(x, y, scale=0.25), compiled(x, y, scale=0.25)
        np.testing.assert_allclose(to_numpy(b.data), to_numpy(a.data), rtol=1e-6)
        np.testing.assert_allclose(to_numpy(db["logits"].data), to_numpy(da["logits"].data), rtol=1e-6, atol=1e-7)
    _assert_trained_alike(m1, m2, fuse)


def test_an_input_converted_outside_the_ops_is_refused_not_baked():
    minidl.manual_seed(0)
    model = nn.Linear(4, 2)

    def forward(x):
        return model(minidl.tensor(x))  # a copy made by Python, not by an op: it would be baked in

    xp = minidl.backend.xp
    x = xp.asarray(np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32))
    with pytest.raises(minidl.compiler.CaptureError, match="input 0 converted"):
        minidl.compile(forward)(x)
    lenient = minidl.compile(forward, fallback=True)
    with pytest.warns(UserWarning, match="runs eagerly"):
        lenient(x)
    other = xp.asarray(np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32))
    assert to_numpy(lenient(other).data).tobytes() == to_numpy(forward(other).data).tobytes()


def test_a_hooked_tensor_elsewhere_does_not_block_capture():
    """Only the graph this backward walks counts: a hook on an unrelated tensor (even a
    removed one, whose tensor still lives) must not refuse the capture of another step."""
    other = minidl.randn(3, requires_grad=True)
    other.register_post_accumulate_grad_hook(lambda t: None)
    removed = minidl.randn(3, requires_grad=True)
    removed.register_post_accumulate_grad_hook(lambda t: None).remove()
    _compare(lambda: nn.MLP([8, 16, 10]), OPTIMIZERS["sgd"], (5, 8), fuse=False, steps=2)


@pytest.mark.parametrize("case", ["hook", "retain_grad"])
def test_an_uncapturable_backward_is_refused_before_it_runs_and_falls_back_whole(case):
    """A hooked parameter or retain_grad() cannot be replayed: without fallback the error names
    it; with fallback=True the eager backward runs whole, so the first call already trains
    exactly like eager (it used to skip or half-run the backward)."""
    def make(model, opt):
        calls = []
        if case == "hook":
            model[0].weight.register_post_accumulate_grad_hook(lambda t: calls.append(1))

        def step(x, y):
            opt.zero_grad()
            hidden = model[0](x)
            if case == "retain_grad":
                hidden.retain_grad()
            loss = F.cross_entropy(model[2](model[1](hidden)), y)
            loss.backward()
            opt.step()
            return loss
        return step, calls

    what = "post-accumulate-grad hook" if case == "hook" else "retain_grad"
    (m1, o1), (m2, o2) = _pair(lambda: nn.MLP([8, 16, 4]), OPTIMIZERS["adam"])
    with pytest.raises(minidl.compiler.CaptureError, match=what):
        minidl.compile(make(m2, o2)[0])(*_batches(1, (5, 8), classes=4)[0])
    (m1, o1), (m2, o2) = _pair(lambda: nn.MLP([8, 16, 4]), OPTIMIZERS["adam"])
    (eager, eager_calls), (lenient, lenient_calls) = make(m1, o1), make(m2, o2)
    lenient = minidl.compile(lenient, fallback=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the one-time "runs eagerly" warning
        for x, y in _batches(3, (5, 8), classes=4):
            a, b = eager(x, y), lenient(x, y)
            assert to_numpy(a.data).tobytes() == to_numpy(b.data).tobytes()
    _assert_trained_alike(m1, m2, fuse=False)
    assert eager_calls == lenient_calls


TEMPERATURE = 2.0


def test_a_number_read_from_globals_or_a_closure_is_guarded():
    """``x / temperature`` bakes the number into the capture, so a new value must capture
    again (Dynamo guards globals too) instead of silently replaying the old one."""
    global TEMPERATURE
    minidl.manual_seed(0)
    model = nn.Linear(4, 3)
    x = minidl.randn(2, 4)

    def by_global(x):
        return (model(x) / TEMPERATURE).sum()

    scale = 3.0

    def by_closure(x):
        return (model(x) * scale).sum()

    compiled_global, compiled_closure = minidl.compile(by_global), minidl.compile(by_closure)
    with minidl.no_grad():
        for _ in range(2):  # the second call replays
            assert to_numpy(compiled_global(x).data) == pytest.approx(to_numpy(by_global(x).data))
            assert to_numpy(compiled_closure(x).data) == pytest.approx(to_numpy(by_closure(x).data))
        try:
            TEMPERATURE = 4.0
            scale = -1.0
            assert to_numpy(compiled_global(x).data) == pytest.approx(to_numpy(by_global(x).data))
            assert to_numpy(compiled_closure(x).data) == pytest.approx(to_numpy(by_closure(x).data))
        finally:
            TEMPERATURE = 2.0
    assert compiled_global.recompile_reasons == ["the global variable TEMPERATURE changed from 2.0 to 4.0"]
    assert compiled_closure.recompile_reasons == ["the closure variable scale changed from 3.0 to -1.0"]
    assert "TEMPERATURE" in compiled_global.cache[0].guard_source


@pytest.mark.parametrize("fuse", [False, True])
def test_a_pruned_modules_weight_attribute_is_what_eager_leaves(fuse):
    """Pruning's forward pre-hook sets ``module.weight = weight_orig ⊙ mask`` in Python, which a
    replay does not run; the replay sets the attribute from the value it computed, so code that
    reads ``module.weight`` between steps (a gradual pruner) sees what eager shows — it used to
    see the first call's weight."""
    from minidl.compress import prune

    def run(compiled: bool) -> tuple[np.ndarray, np.ndarray]:
        minidl.manual_seed(0)
        m = nn.Linear(4, 3)
        prune.l1_unstructured(m, "weight", amount=0.5)
        opt = optim.SGD(m.parameters(), lr=0.5)

        def forward_backward(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(m(x), y)
            loss.backward()
            return loss

        step = minidl.compile(forward_backward, fuse=fuse) if compiled else forward_backward
        seen = []
        for x, y in _batches(3, (8, 4), classes=3):
            step(x, y)
            seen.append(to_numpy(m.weight.data).copy())
            opt.step()
        return np.stack(seen), to_numpy(m.weight_orig.data)

    (eager_seen, eager_orig), (seen, orig) = run(False), run(True)
    assert np.abs(seen - eager_seen).max() <= (1e-6 * np.abs(eager_seen).max() if fuse else 0)
    assert np.abs(orig - eager_orig).max() <= (1e-6 * np.abs(eager_orig).max() if fuse else 0)
