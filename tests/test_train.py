"""``fit`` and ``evaluate``: an MLP learns the digits, and the loop keeps its promises."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest

import minidl as md
import minidl.nn.functional as F  # noqa: N812 - PyTorch's customary name
from minidl import nn, optim
from minidl.data import ArrayDataset, DataLoader, load_digits
from minidl.train import History, evaluate, fit


@pytest.fixture
def digits() -> tuple[ArrayDataset, ArrayDataset, ArrayDataset]:  # per test: on the test's backend
    return load_digits("train"), load_digits("val"), load_digits("test")


def small_problem(n: int = 40, seed: int = 0) -> ArrayDataset:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    return ArrayDataset(md.tensor(x).data, md.tensor(y).data)  # on the active backend, as load_digits


def test_mlp_learns_digits(digits) -> None:
    train, _, test = digits
    md.manual_seed(0)
    model = nn.MLP([64, 128, 10])
    optimizer = optim.Adam(model.parameters(), lr=3e-3)
    start = time.perf_counter()
    history = fit(model, F.cross_entropy, optimizer, DataLoader(train, batch_size=32, shuffle=True, seed=0),
                  epochs=20, progress=False)
    seconds = time.perf_counter() - start
    result = evaluate(model, DataLoader(test, batch_size=512), F.cross_entropy)
    assert result["samples"] == len(test) == 359
    assert result["accuracy"] >= 0.96, result
    assert result["loss"] < 0.15, result
    assert history.train_loss[-1] < history.train_loss[0] / 10
    assert history.train_accuracy[-1] > 0.99
    assert seconds < 10, f"20 epochs took {seconds:.1f} s (about 0.5 s expected)"


def test_history_has_one_entry_per_epoch(digits) -> None:
    train, val, _ = digits
    md.manual_seed(0)
    model = nn.MLP([64, 16, 10])
    loader = DataLoader(train, batch_size=128, shuffle=True, seed=0)
    history = fit(model, F.cross_entropy, optim.SGD(model.parameters(), lr=0.1), loader, epochs=3,
                  val_loader=DataLoader(val, batch_size=512), progress=False)
    assert isinstance(history, History)
    assert history.epochs == 3
    for name in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds"):
        values = getattr(history, name)
        assert len(values) == 3, name
        assert all(isinstance(v, float) and np.isfinite(v) for v in values), name
    assert history.steps == 3 * len(loader)
    assert history.lr == [0.1, 0.1, 0.1]
    assert all(0 <= a <= 1 for a in history.train_accuracy + history.val_accuracy)
    assert history.val_loss[-1] < history.val_loss[0]
    d = history.as_dict()
    assert d["train_loss"] == history.train_loss and d["steps"] == history.steps
    no_val = fit(model, F.cross_entropy, optim.SGD(model.parameters(), lr=0.1), loader, epochs=1,
                 progress=False)
    assert no_val.val_loss == [] and no_val.val_accuracy == [] and len(no_val.train_loss) == 1


def test_train_loss_is_the_sample_weighted_mean_of_the_batches() -> None:
    data = small_problem(10)
    model = nn.Linear(4, 2)
    seen = []

    def loss_fn(out, y):
        loss = F.cross_entropy(out, y)
        seen.append((loss.item(), len(y)))
        return loss

    history = fit(model, loss_fn, optim.SGD(model.parameters(), lr=0.0), DataLoader(data, batch_size=4),
                  epochs=1, progress=False)
    expected = sum(v * n for v, n in seen) / 10  # batches of 4, 4 and 2
    assert history.train_loss[0] == pytest.approx(expected, rel=1e-6)


def test_evaluate_restores_the_mode_and_records_nothing() -> None:
    md.manual_seed(0)
    model = nn.MLP([4, 32, 2], dropout=0.5)
    loader = DataLoader(small_problem(), batch_size=16)
    model.train()
    first = evaluate(model, loader, F.cross_entropy)
    assert model.training and all(m.training for m in model.modules())
    assert evaluate(model, loader, F.cross_entropy) == first  # dropout off while evaluating
    assert all(p.grad is None for p in model.parameters())
    model.eval()
    evaluate(model, loader)
    assert not model.training
    assert set(first) == {"accuracy", "loss", "samples"} and first["samples"] == 40


def test_evaluate_restores_train_mode_after_an_error() -> None:
    model = nn.MLP([4, 8, 2], dropout=0.1)

    def broken_loss(out, y):
        raise ZeroDivisionError("broken")

    with pytest.raises(ZeroDivisionError):
        evaluate(model, DataLoader(small_problem(), batch_size=8), broken_loss)
    assert model.training


@pytest.mark.parametrize("make_optimizer",
                         [lambda p: optim.SGD(p, lr=1e30), lambda p: optim.Adam(p, lr=1e30)],
                         ids=["sgd", "adam"])
def test_fit_raises_when_the_loss_becomes_nan(make_optimizer) -> None:
    md.manual_seed(0)
    model = nn.MLP([4, 16, 2])
    loader = DataLoader(small_problem(), batch_size=8)
    with np.errstate(all="ignore"):  # NumPy's own overflow warnings are tested below
        with pytest.raises(FloatingPointError) as info:
            fit(model, F.cross_entropy, make_optimizer(model.parameters()), loader, epochs=5,
                progress=False)
    msg = str(info.value)
    assert "epoch" in msg and "step" in msg and "learning rate" in msg


def test_diverging_fit_stops_with_its_own_error_not_a_numpy_warning() -> None:
    # pyproject.toml turns RuntimeWarnings raised inside minidl into errors: a diverging run
    # must end in fit's FloatingPointError (which says what to do), not in NumPy's
    # "overflow encountered in matmul" from the forward pass before it.
    md.manual_seed(0)
    model = nn.MLP([4, 16, 2])
    with warnings.catch_warnings():
        warnings.filterwarnings("error", category=RuntimeWarning, module="minidl")
        with pytest.raises(FloatingPointError):
            fit(model, F.cross_entropy, optim.Adam(model.parameters(), lr=1e30),
                DataLoader(small_problem(), batch_size=8), epochs=5, progress=False)


def test_fit_raises_on_nan_inputs() -> None:
    data = small_problem()
    data.features[3, 1] = np.nan
    model = nn.Linear(4, 2)
    with pytest.raises(FloatingPointError, match="nan"):
        fit(model, F.cross_entropy, optim.SGD(model.parameters(), lr=0.1),
            DataLoader(data, batch_size=40), epochs=1, progress=False)


def test_on_epoch_end_returning_true_stops_early() -> None:
    model = nn.Linear(4, 2)
    calls = []

    def on_epoch_end(epoch: int, history: History) -> bool:
        calls.append((epoch, history.epochs))
        return epoch == 2

    history = fit(model, F.cross_entropy, optim.SGD(model.parameters(), lr=0.1),
                  DataLoader(small_problem(), batch_size=8), epochs=10, on_epoch_end=on_epoch_end,
                  progress=False)
    assert calls == [(0, 1), (1, 2), (2, 3)]
    assert history.epochs == 3 and history.steps == 15


def test_on_step_end_called_once_per_step() -> None:
    model = nn.Linear(4, 2)
    steps = []
    loader = DataLoader(small_problem(), batch_size=16)  # 40 samples: 3 steps per epoch
    history = fit(model, F.cross_entropy, optim.SGD(model.parameters(), lr=0.1), loader, epochs=2,
                  on_step_end=steps.append, progress=False)
    assert steps == [1, 2, 3, 4, 5, 6]
    assert history.steps == 6


def test_scheduler_steps_once_per_epoch() -> None:
    class CountingScheduler:
        def __init__(self, optimizer) -> None:
            self.optimizer, self.calls = optimizer, 0

        def step(self) -> None:
            self.calls += 1
            self.optimizer.param_groups[0]["lr"] *= 0.5

    model = nn.Linear(4, 2)
    opt = optim.SGD(model.parameters(), lr=0.4)
    sched = CountingScheduler(opt)
    history = fit(model, F.cross_entropy, opt, DataLoader(small_problem(), batch_size=8), epochs=3,
                  scheduler=sched, progress=False)
    assert sched.calls == 3
    assert history.lr == [0.4, 0.2, 0.1]  # the lr each epoch trained with


def test_progress_false_prints_nothing(capsys) -> None:
    model = nn.MLP([4, 8, 2])
    loader = DataLoader(small_problem(), batch_size=8)
    fit(model, F.cross_entropy, optim.Adam(model.parameters()), loader, epochs=2,
        val_loader=loader, progress=False)
    evaluate(model, loader, F.cross_entropy)
    out, err = capsys.readouterr()
    assert out == "" and err == ""


def test_fit_zero_epochs_and_bad_epochs() -> None:
    model = nn.Linear(4, 2)
    before = model.weight.numpy().copy()
    loader = DataLoader(small_problem(), batch_size=8)
    history = fit(model, F.cross_entropy, optim.SGD(model.parameters(), lr=0.1), loader, epochs=0,
                  progress=False)
    assert history.epochs == 0 and history.steps == 0
    np.testing.assert_array_equal(model.weight.numpy(), before)
    for bad in (-1, 2.5):
        with pytest.raises(ValueError, match="epochs"):
            fit(model, F.cross_entropy, optim.SGD(model.parameters(), lr=0.1), loader, epochs=bad)


# ---------------------------------------------------------------------------------------------
# A bad batch never reaches the weights; NaN weights are never evaluated (issue 14 §2, §3)


@pytest.mark.parametrize("make_optimizer", [lambda p: optim.SGD(p, lr=0.1, momentum=0.9),
                                            lambda p: optim.Adam(p, lr=1e-2)], ids=["sgd", "adam"])
def test_a_nan_sample_stops_fit_before_the_update_and_the_weights_survive(make_optimizer) -> None:
    data = small_problem(n=48)
    data.features[2 * 8 + 8 + 5, 1] = np.nan  # sample 29: in the 4th batch of 8
    clean = ArrayDataset(data.features[:24], data.labels[:24])
    md.manual_seed(0)
    model = nn.MLP([4, 8, 2])
    optimizer = make_optimizer(model.parameters())
    fit(model, F.cross_entropy, optimizer, DataLoader(clean, batch_size=8), epochs=1, progress=False)
    snapshots = []

    def remember(step: int) -> None:
        snapshots.append({k: v.numpy().copy() for k, v in model.state_dict().items()})

    with pytest.raises(FloatingPointError) as info:
        fit(model, F.cross_entropy, optimizer, DataLoader(data, batch_size=8), epochs=1,
            progress=False, on_step_end=remember)
    msg = str(info.value)
    assert "epoch 1, batch 4" in msg and "inputs contain NaN" in msg
    assert len(snapshots) == 3  # three good batches were applied, the fourth was not
    for k, v in model.state_dict().items():
        assert np.isfinite(v.numpy()).all(), k
        np.testing.assert_array_equal(v.numpy(), snapshots[-1][k])


def test_evaluate_refuses_a_model_with_nan_weights() -> None:
    model = nn.MLP([4, 8, 2])
    with md.no_grad():
        model[2].weight.data[1, 3] = np.nan
    with pytest.raises(ValueError, match=r"2\.weight") as info:
        evaluate(model, DataLoader(small_problem(), batch_size=8))
    assert "NaN" in str(info.value)


def test_evaluate_refuses_nan_outputs() -> None:
    data = small_problem()
    data.features[9, 0] = np.nan
    with pytest.raises(ValueError, match="batch 2"):
        evaluate(nn.Linear(4, 2), DataLoader(data, batch_size=8))
