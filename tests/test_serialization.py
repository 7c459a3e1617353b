"""``minidl.save`` / ``minidl.load``: bit-exact, pickle-free, atomic checkpoints."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import minidl as md
import minidl.nn.functional as F  # noqa: N812 - PyTorch's customary name
from minidl import backend, nn, optim


def assert_bit_equal(a, b) -> None:
    """Same dtype, shape and bytes (so nan payloads and the sign of −0.0 count)."""
    a = a.numpy() if isinstance(a, md.Tensor) else backend.to_numpy(a)
    b = b.numpy() if isinstance(b, md.Tensor) else backend.to_numpy(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes()


def assert_same_structure(saved, loaded) -> None:
    """Equal nested dicts/lists/tuples; arrays and Tensors bit-equal and of the same kind."""
    if isinstance(saved, md.Tensor):
        assert isinstance(loaded, md.Tensor)
    elif hasattr(saved, "shape"):  # arrays come back as arrays of the active backend
        assert type(loaded) is type(backend.xp.zeros(0))
    else:
        assert type(loaded) is type(saved)
    if isinstance(saved, dict):
        assert list(saved) == list(loaded)  # same keys, same order
        for k_saved, k_loaded in zip(saved, loaded):
            assert type(k_saved) is type(k_loaded)  # int keys stay ints, tuples stay tuples
            assert_same_structure(saved[k_saved], loaded[k_loaded])
    elif isinstance(saved, (list, tuple)):
        assert len(saved) == len(loaded)
        for s, lo in zip(saved, loaded):
            assert_same_structure(s, lo)
    elif hasattr(saved, "shape"):
        assert_bit_equal(saved, loaded)
    elif isinstance(saved, float) and np.isnan(saved):
        assert np.isnan(loaded)
    else:
        assert saved == loaded
        if isinstance(saved, float):
            assert np.copysign(1.0, saved) == np.copysign(1.0, loaded)


SPECIAL = [np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-45, 3.4e38, -1.5]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_model_state_dict_round_trip_is_bit_exact(tmp_path: Path, dtype: str) -> None:
    md.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8, dtype=dtype), nn.ReLU(), nn.Linear(8, len(SPECIAL), dtype=dtype))
    with md.no_grad():
        model[2].bias.copy_(np.array(SPECIAL, dtype=dtype))
    path = tmp_path / "model.npz"
    md.save(model.state_dict(), path)
    loaded = md.load(path)
    assert list(loaded) == list(model.state_dict())
    for k, v in model.state_dict().items():
        assert isinstance(loaded[k], md.Tensor)
        assert_bit_equal(loaded[k], v)
    fresh = nn.Sequential(nn.Linear(4, 8, dtype=dtype), nn.ReLU(), nn.Linear(8, len(SPECIAL), dtype=dtype))
    fresh.load_state_dict(loaded)
    for (_, a), (_, b) in zip(model.state_dict().items(), fresh.state_dict().items()):
        assert_bit_equal(a, b)


def test_arrays_and_plain_values_round_trip(tmp_path: Path) -> None:
    obj = {
        "ints": np.arange(5, dtype=np.int64), "u8": np.array([0, 255], dtype=np.uint8),
        "half": np.array([1.5, -0.0], dtype=np.float16), "bool": np.array([True, False]),
        "scalar_array": np.array(2.5), "empty": np.zeros((0, 3), dtype=np.float32),
        "strided": np.arange(10.0)[::3], "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        "tensor": md.tensor([1.0, 2.0]), "nested": {1: [1, 2.5, "x", None, True], (2, "a"): (3.0,)},
        "floats": [float(v) for v in SPECIAL], "big_int": 2 ** 62, "text": "héllo",
    }
    md.save(obj, tmp_path / "mixed.npz")
    loaded = md.load(tmp_path / "mixed.npz")
    assert_same_structure(obj, loaded)
    assert isinstance(loaded["tensor"], md.Tensor) and not isinstance(loaded["ints"], md.Tensor)


def _train_steps(model: nn.Module, opt: optim.Optimizer, batches) -> list[float]:
    losses = []
    for x, y in batches:
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def _batches(n: int, seed: int = 0) -> list[tuple[md.Tensor, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [(md.tensor(rng.standard_normal((8, 5)).astype(np.float32)), md.tensor(rng.integers(0, 3, 8)))
            for _ in range(n)]


def test_adam_state_dict_round_trip(tmp_path: Path) -> None:
    md.manual_seed(0)
    model = nn.MLP([5, 6, 3])
    opt = optim.Adam([{"params": [model[0].weight, model[0].bias]},
                      {"params": [model[2].weight, model[2].bias], "lr": 1e-2, "betas": (0.8, 0.99)}],
                     lr=1e-3, weight_decay=1e-4)
    _train_steps(model, opt, _batches(3))
    sd = opt.state_dict()
    assert set(sd["state"]) == {0, 1, 2, 3} and sd["state"][0]["step"] == 3
    md.save(sd, tmp_path / "opt.npz")
    loaded = md.load(tmp_path / "opt.npz")
    assert_same_structure(sd, loaded)
    assert loaded["param_groups"][1]["betas"] == (0.8, 0.99)
    assert isinstance(loaded["param_groups"][1]["betas"], tuple)


@pytest.mark.parametrize("make_optimizer", [
    lambda params: optim.Adam(params, lr=3e-3, weight_decay=1e-3),
    lambda params: optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True),
], ids=["adam", "sgd_nesterov"])
def test_resuming_from_a_checkpoint_continues_bit_exactly(tmp_path: Path, make_optimizer) -> None:
    batches = _batches(10)
    md.manual_seed(0)
    model = nn.MLP([5, 16, 3])
    opt = make_optimizer(model.parameters())
    _train_steps(model, opt, batches[:4])
    md.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": 4}, tmp_path / "ckpt.npz")
    uninterrupted = _train_steps(model, opt, batches[4:])

    md.manual_seed(1)  # different initial weights: everything must come from the file
    resumed_model = nn.MLP([5, 16, 3])
    resumed_opt = make_optimizer(resumed_model.parameters())
    ckpt = md.load(tmp_path / "ckpt.npz")
    resumed_model.load_state_dict(ckpt["model"])
    resumed_opt.load_state_dict(ckpt["optimizer"])
    assert ckpt["step"] == 4
    resumed = _train_steps(resumed_model, resumed_opt, batches[4:])
    assert resumed == uninterrupted
    for (_, a), (_, b) in zip(model.state_dict().items(), resumed_model.state_dict().items()):
        assert_bit_equal(a, b)


def test_str_and_pathlike_paths(tmp_path: Path) -> None:
    md.save({"a": md.ones(2)}, str(tmp_path / "s.npz"))
    md.save({"a": md.ones(2)}, tmp_path / "sub" / "p.npz")  # missing folders are created
    assert md.load(str(tmp_path / "sub" / "p.npz"))["a"].tolist() == [1.0, 1.0]
    assert md.load(tmp_path / "s.npz")["a"].tolist() == [1.0, 1.0]


# ---------------------------------------------------------------------------------------------
# Atomic save


@pytest.mark.parametrize("partial_write", [False, True])
def test_failed_save_keeps_the_previous_file_and_leaves_no_temp(tmp_path: Path, monkeypatch,
                                                                partial_write: bool) -> None:
    path = tmp_path / "ckpt.npz"
    md.save({"w": md.tensor([1.0, 2.0])}, path)
    before = path.read_bytes()

    def failing_savez(file, *args, **kwargs):
        if partial_write:
            file.write(b"PK\x03\x04 half a zip file")
        raise OSError("No space left on device")

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(OSError, match="No space"):
        md.save({"w": md.tensor([9.0, 9.0, 9.0])}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert md.load(path)["w"].tolist() == [1.0, 2.0]
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz"]  # no temporary file left behind


def test_failed_first_save_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    def failing_savez(*args, **kwargs):
        raise KeyboardInterrupt  # an interrupted save, not only an error

    monkeypatch.setattr(np, "savez", failing_savez)
    with pytest.raises(KeyboardInterrupt):
        md.save({"w": md.ones(3)}, tmp_path / "new.npz")
    assert os.listdir(tmp_path) == []


def test_unsaveable_object_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="set"):
        md.save({"a": {1, 2}}, tmp_path / "x.npz")
    assert os.listdir(tmp_path) == []


def test_saved_file_has_ordinary_permissions(tmp_path: Path) -> None:
    # An atomic save goes through a temporary file; the checkpoint must still get the
    # permissions any new file gets (umask), not the private 0600 of a temp file.
    ordinary = tmp_path / "ordinary"
    ordinary.write_bytes(b"")
    md.save({"a": md.ones(1)}, tmp_path / "ckpt.npz")
    assert oct((tmp_path / "ckpt.npz").stat().st_mode & 0o777) == oct(ordinary.stat().st_mode & 0o777)


# ---------------------------------------------------------------------------------------------
# Bad files and bad objects


def test_loading_a_foreign_npz_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "foreign.npz"
    np.savez(path, weights=np.ones(3))
    with pytest.raises(ValueError, match="minidl") as info:
        md.load(path)
    assert "foreign.npz" in str(info.value)


@pytest.mark.parametrize("content", [os.urandom(256), b"", b"hello, I am text\n"],
                         ids=["random_bytes", "empty", "text"])
def test_loading_a_random_file_gives_a_clear_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "junk.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not a minidl checkpoint"):
        md.load(path)


def test_loading_a_checkpoint_of_another_format_version(tmp_path: Path) -> None:
    import json

    meta = json.dumps({"format": 99, "object": None}).encode()
    np.savez(tmp_path / "future.npz", __minidl__=np.frombuffer(meta, dtype=np.uint8))
    with pytest.raises(ValueError, match="format"):
        md.load(tmp_path / "future.npz")


def test_saving_a_module_tells_you_to_save_its_state_dict(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="state_dict") as info:
        md.save(nn.Linear(2, 2), tmp_path / "m.npz")
    assert "load_state_dict" in str(info.value)
    with pytest.raises(TypeError, match="state_dict"):
        md.save({"model": nn.MLP([2, 2])}, tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


def test_files_load_without_pickle(tmp_path: Path) -> None:
    model = nn.MLP([3, 4, 2])
    opt = optim.Adam(model.parameters())
    _train_steps(model, opt, [(md.randn(4, 3), md.tensor([0, 1, 0, 1]))])
    path = tmp_path / "ckpt.npz"
    md.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, path)
    with np.load(path, allow_pickle=False) as archive:
        for name in archive.files:
            value = archive[name]  # an object array would raise here
            assert value.dtype != object
        assert "__minidl__" in archive.files


# ---------------------------------------------------------------------------------------------
# Values that only pickle could store are refused before anything is written (issue 14 §2)


@pytest.mark.parametrize("bad", [
    np.array([1, "a"], dtype=object),
    np.array([{"x": 1}, None], dtype=object),
    np.zeros(2, dtype=[("a", "f4"), ("b", object)]),
], ids=["object_array", "object_array_of_dicts", "structured_with_object_field"])
def test_an_object_array_is_refused_and_the_previous_checkpoint_survives(tmp_path: Path, bad) -> None:
    path = tmp_path / "ckpt.npz"
    md.save({"w": md.tensor([1.0, 2.0])}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match="object") as info:
        md.save({"w": md.tensor([3.0]), "extra": {"notes": bad}}, path)
    assert "['extra']['notes']" in str(info.value)  # where in the object the bad value sits
    assert "pickle" in str(info.value)
    assert path.read_bytes() == before
    assert md.load(path)["w"].tolist() == [1.0, 2.0]
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz"]


@pytest.mark.parametrize("bad, expected", [
    ({"a": {1, 2}}, "set"),
    ({"a": [1, object()]}, "object"),
    ({"a": np.datetime64("2020-01-01")}, "datetime64"),
    ({(1, frozenset([2])): 3}, "dict key"),
    ({md.tensor([1.0]).data.tobytes(): 1}, "dict key"),
], ids=["set", "plain_object", "datetime_scalar", "frozenset_in_key", "bytes_key"])
def test_other_unstorable_values_are_refused_before_writing(tmp_path: Path, bad, expected: str) -> None:
    path = tmp_path / "ckpt.npz"
    md.save({"w": md.ones(2)}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match=expected):
        md.save(bad, path)
    assert path.read_bytes() == before


def test_an_object_that_contains_itself_is_refused(tmp_path: Path) -> None:
    loop: list = [1]
    loop.append(loop)
    with pytest.raises(ValueError, match="contains itself"):
        md.save({"loop": loop}, tmp_path / "x.npz")
    assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------------------------------------
# Damaged files: one clear error naming the file (issue 14 §5)


def _checkpoint(tmp_path: Path) -> Path:
    path = tmp_path / "ckpt.npz"
    md.save({"w": md.tensor(np.arange(64, dtype=np.float32)), "step": 3}, path)
    return path


def test_flipped_bytes_give_a_clear_error_naming_the_file(tmp_path: Path) -> None:
    path = _checkpoint(tmp_path)
    data = bytearray(path.read_bytes())
    # flip bytes inside each member's stored data (the zip's CRC-32 catches it), then in the directory
    for offset in (len(data) // 4, len(data) // 3, len(data) // 2, len(data) - 30):
        damaged = bytearray(data)
        damaged[offset] ^= 0xFF
        path.write_bytes(bytes(damaged))
        with pytest.raises(ValueError) as info:
            md.load(path)
        assert str(path) in str(info.value)
        assert type(info.value) is ValueError  # not zipfile.BadZipFile, KeyError, UnicodeDecodeError


@pytest.mark.parametrize("meta", [b"not json", b'{"format": 1}', b'[1, 2]',
                                  b'{"format": 1, "object": {"__tensor__": "a9"}}',
                                  b'{"format": 1, "object": {"__dict__": [[[1], 2]]}}',
                                  b'{"format": 1, "object": {"__dict__": [[1]]}}', b"\xff\xfe"],
                         ids=["not_json", "no_object", "a_list", "missing_array", "list_key", "short_pair",
                              "not_utf8"])
def test_a_broken_metadata_member_gives_a_clear_error(tmp_path: Path, meta: bytes) -> None:
    path = tmp_path / "edited.npz"
    np.savez(path, __minidl__=np.frombuffer(meta, dtype=np.uint8), a0=np.ones(2))
    with pytest.raises(ValueError, match="damaged") as info:
        md.load(path)
    assert "edited.npz" in str(info.value)


def test_a_pickled_object_array_from_an_older_save_is_refused_by_name(tmp_path: Path) -> None:
    import json

    path = tmp_path / "old.npz"
    meta = json.dumps({"format": 1, "object": {"__array__": "a0"}}).encode()
    np.savez(path, __minidl__=np.frombuffer(meta, dtype=np.uint8), a0=np.array([1, "a"], dtype=object))
    with pytest.raises(ValueError, match="pickled object array") as info:
        md.load(path)
    assert "old.npz" in str(info.value) and "allow_pickle=True" in str(info.value)


def test_a_plain_npy_file_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "weights.npy"
    np.save(path, np.ones(3))
    with pytest.raises(ValueError, match=r"\.npy") as info:
        md.load(path)
    assert "weights.npy" in str(info.value) and "numpy.load" in str(info.value)
