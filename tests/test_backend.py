"""The array backends: the stand-in behaves like CuPy, moves between devices, clear errors."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import minidl as md
from minidl import backend, nn, optim
from minidl.backend import standin

pytestmark = pytest.mark.numpy_only  # these tests choose their backends themselves


# -- the stand-in refuses to mix with NumPy, like CuPy ------------------------------------------

def test_standin_arrays_refuse_numpy_functions_and_implicit_conversion() -> None:
    a = standin.ones((2, 3), dtype=np.float32)
    for call in (lambda: np.exp(a), lambda: np.asarray(a), lambda: np.sum(a), lambda: np.zeros_like(a),
                 lambda: np.concatenate([a, a])):
        with pytest.raises(TypeError, match="leaked"):
            call()


def test_standin_arrays_refuse_to_mix_with_numpy_arrays() -> None:
    a = standin.ones(3)
    host = np.ones(3)
    for call in (lambda: a + host, lambda: host + a, lambda: a * host, lambda: a[np.array([0, 1])]):
        with pytest.raises(TypeError, match="leaked"):
            call()
    with pytest.raises(TypeError):
        a[0:2] = np.zeros(2)


def test_standin_arithmetic_and_reductions_stay_on_the_device() -> None:
    a = standin.arange(6, dtype=np.float32).reshape(2, 3)
    b = (a * 2 + 1.0) / standin.float32(2)
    assert type(b) is standin.ndarray and b.dtype == np.float32
    s = b.sum()
    assert type(s) is standin.ndarray and s.shape == ()  # 0-d array, not a NumPy scalar (as CuPy)
    assert standin.asnumpy(b.max(axis=1)).tolist() == [2.5, 5.5]
    assert type(standin.exp(a)) is standin.ndarray
    standin.add.at(a, standin.asarray([0, 0]), 1.0)
    assert standin.asnumpy(a)[0].tolist() == [2.0, 3.0, 4.0]


def test_standin_builtins_and_module_functions_behave_like_cupys() -> None:
    # the module defines its own abs and any (as cupy does); the builtins must still work
    a = standin.asarray(np.array([-1.5, 0.0, 2.0], dtype=np.float32))
    assert type(abs(a)) is standin.ndarray and standin.asnumpy(abs(a)).tolist() == [1.5, 0.0, 2.0]
    assert standin.get_array_module(np.ones(2)) is np
    assert standin.get_array_module(np.ones(2), a) is standin


def test_standin_random_gives_standin_arrays() -> None:
    rng = standin.random.default_rng(0)
    r = rng.random((2, 2), dtype=np.float32)
    assert type(r) is standin.ndarray and r.dtype == np.float32
    assert type(standin.random.randn(3)) is standin.ndarray


def test_get_array_module_follows_the_data() -> None:
    assert backend.get_array_module(np.ones(2)) is np
    assert backend.get_array_module(standin.ones(2)) is standin
    assert backend.get_array_module(np.ones(2), standin.ones(2)) is standin
    assert backend.get_array_module(1.0, None) is np


# -- choosing a backend ---------------------------------------------------------------------------

def test_set_backend_changes_where_new_tensors_live_and_use_restores_it() -> None:
    assert backend.get_backend() == "numpy"
    with backend.use("standin"):
        t = md.randn(2, 3)
        assert type(t.data) is standin.ndarray and t.device == "gpu"
        assert type(md.tensor(np.ones(2)).data) is standin.ndarray  # host data goes to the backend
        assert type(md.from_numpy(np.ones(2)).data) is np.ndarray  # from_numpy shares host memory
    assert backend.get_backend() == "numpy"
    assert type(md.randn(2).data) is np.ndarray


def test_unknown_backend_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="'numpy', 'cupy' or 'standin'"):
        backend.set_backend("tensorflow")


def test_asking_for_cupy_without_it_says_what_is_missing() -> None:
    try:
        import cupy  # noqa: F401
    except ImportError:
        with pytest.raises(RuntimeError, match="not installed.*pip install"):
            backend.set_backend("cupy")
        return
    try:  # CuPy is installed: either a GPU works, or the error names the missing GPU
        backend.set_backend("cupy")
    except RuntimeError as e:
        assert "GPU" in str(e)
    finally:
        backend.set_backend("numpy")


def test_minidl_backend_environment_variable() -> None:
    env = dict(os.environ, MINIDL_BACKEND="standin")
    code = "import minidl; print(minidl.backend.get_backend(), type(minidl.zeros(2).data).__module__)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["standin", "minidl.backend.standin"]


# -- moving between devices -----------------------------------------------------------------------

def test_tensor_to_gpu_and_back_keeps_values_and_requires_grad() -> None:
    backend._load("standin")  # no GPU here: the stand-in plays it
    x = md.tensor([[1.0, -2.0]], requires_grad=True)
    g = x.to("gpu")
    assert g.device == "gpu" and g.requires_grad and g.is_leaf
    assert g.to("gpu") is g  # already there: no copy
    back = g.to("cpu")
    assert back.device == "cpu" and back.numpy().tolist() == [[1.0, -2.0]]
    with pytest.raises(ValueError, match="'cpu' or 'gpu'"):
        x.to("tpu")


def test_module_to_gpu_keeps_parameter_objects_so_optimizers_stay_valid() -> None:
    backend._load("standin")
    md.manual_seed(0)
    model = nn.MLP([4, 8, 2])
    params = list(model.parameters())
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model.to("gpu")
    assert [id(p) for p in model.parameters()] == [id(p) for p in params]
    assert all(p.device == "gpu" for p in params)
    x = md.ones(3, 4).to("gpu")  # wherever "gpu" is here: CuPy on a GPU machine, else the stand-in
    y = md.tensor([0, 1, 1]).to("gpu")
    before = params[0].numpy().copy()
    opt.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    assert params[0].device == "gpu" and not np.array_equal(params[0].numpy(), before)
    model.to("cpu")
    assert all(type(p.data) is np.ndarray for p in params)


def test_mixing_devices_in_one_op_names_both_devices() -> None:
    with backend.use("standin"):
        gpu = md.ones(3)
    cpu = md.ones(3)
    with pytest.raises(RuntimeError, match=r"same device.*gpu \(standin\).*cpu \(numpy\)"):
        gpu + cpu
    with pytest.raises(RuntimeError, match="same device"):
        md.matmul(cpu, gpu)
    with backend.use("standin"):
        logits = md.randn(2, 3)
    with pytest.raises(RuntimeError, match="cross_entropy.*same device"):
        nn.functional.cross_entropy(logits, md.Tensor._wrap(np.array([0, 1])))


def test_indexing_with_host_index_arrays_works_on_the_device() -> None:
    with backend.use("standin"):
        x = md.arange(6.0).requires_grad_()
        y = x[np.array([0, 0, 5])]
        y.sum().backward()
        assert x.grad.numpy().tolist() == [2.0, 0, 0, 0, 0, 1.0]
        # writing through host masks and index arrays, with host values, works too
        w = md.zeros(4)
        w[np.array([True, False, True, False])] = 1.0
        w[np.array([3])] = np.array([5.0], dtype=np.float32)  # host
        assert backend.device_of(w.data) == "gpu" and w.numpy().tolist() == [1.0, 0.0, 1.0, 5.0]


def test_save_and_load_work_from_the_device(tmp_path) -> None:
    with backend.use("standin"):
        md.manual_seed(0)
        model = nn.Linear(3, 2)
        md.save(model.state_dict(), tmp_path / "m.npz")
        loaded = md.load(tmp_path / "m.npz")
        assert type(loaded["weight"].data) is standin.ndarray
        assert np.array_equal(loaded["weight"].numpy(), model.weight.numpy())
    host = md.load(tmp_path / "m.npz")
    assert type(host["weight"].data) is np.ndarray


def test_training_on_the_standin_matches_numpy_exactly() -> None:
    """The same seed on both backends gives the same weights: the backends compute alike."""
    from minidl.data import DataLoader, load_digits
    from minidl.train import fit

    def train(name: str) -> np.ndarray:
        with backend.use(name):
            md.manual_seed(0)
            model = nn.MLP([64, 16, 10])
            fit(model, nn.functional.cross_entropy, optim.Adam(model.parameters(), lr=1e-2),
                DataLoader(load_digits("train"), batch_size=64, shuffle=True, seed=0), epochs=2,
                progress=False)
            return model[0].weight.numpy()

    np.testing.assert_allclose(train("standin"), train("numpy"), rtol=1e-6, atol=1e-6)


def test_dataloader_yields_batches_on_the_requested_device() -> None:
    from minidl.data import DataLoader, load_digits

    backend._load("standin")
    host = load_digits("test")
    assert type(host.features) is np.ndarray
    x, y = next(iter(DataLoader(host, batch_size=8, device="gpu")))
    assert x.device == "gpu" and y.device == "gpu" and x.shape == (8, 64)
    with pytest.raises(ValueError, match="device"):
        DataLoader(host, batch_size=8, device="tpu")


def test_to_device_moves_arrays_and_leaves_tensors_to_their_own_to() -> None:
    """The backend knows arrays only (it sits below the engine): Tensors move with ``.to``."""
    backend._load("standin")  # no GPU here: the stand-in plays it
    a = np.arange(3.0)
    assert backend.to_device(a, "cpu") is a  # already there: no copy
    moved = backend.to_device(a, "gpu")
    assert backend.device_of(moved) == "gpu"
    back = backend.to_device(moved, "cpu")
    assert type(back) is np.ndarray and np.array_equal(back, a)
    with pytest.raises(TypeError, match=r"tensor.to\(device\)"):
        backend.to_device(md.tensor([1.0]), "gpu")
    with pytest.raises(ValueError, match="device must be 'cpu' or 'gpu'"):
        backend.to_device(a, "tpu")
    t = md.tensor([1.0, 2.0])
    assert t.to("cpu") is t  # the same Tensor when nothing moves, as PyTorch
