"""load_mnist / load_fashion_mnist on the shared files: splits, scaling, layouts on disk."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from minidl.backend import to_numpy
from minidl.data import DataFileError, load_fashion_mnist, load_mnist, load_mnist_if_available
from minidl.data.mnist import MNIST
from tests.conftest import SHARED_DATA


@pytest.fixture(scope="module")
def loaded_splits():
    """Splits loaded once per backend for the module (shared_data is per test, so check the folder here)."""
    if not (SHARED_DATA / "mnist").is_dir():
        pytest.skip(f"needs the shared datasets at {SHARED_DATA} (present in CI, absent in a user's clone)")
    return {}


@pytest.fixture
def mnist_splits(loaded_splits, array_backend):
    """train / val / test on the test's backend (each backend's loaded once)."""
    if array_backend not in loaded_splits:
        loaded_splits[array_backend] = {s: load_mnist(s, root=SHARED_DATA) for s in ("train", "val", "test")}
    return loaded_splits[array_backend]


def test_split_sizes_and_types(mnist_splits):
    train, val, test = mnist_splits["train"], mnist_splits["val"], mnist_splits["test"]
    assert (len(train), len(val), len(test)) == (50000, 10000, 10000)
    for ds in (train, val, test):
        assert ds.features.dtype == np.float32 and ds.features.shape[1:] == (784,)
        assert ds.labels.dtype == np.int64
        assert 0.0 <= float(ds.features.min()) and float(ds.features.max()) == 1.0
        assert ds.num_classes == 10 and ds.class_names[3] == "3"
    assert test.labels[:5].tolist() == [7, 2, 1, 0, 4]
    assert train.name == "mnist/train"


def test_validation_is_a_stratified_disjoint_carve_out(mnist_splits):
    everything = load_mnist("all", root=SHARED_DATA)  # official train, then official test
    assert len(everything) == 70000
    assert everything.labels[:5].tolist() == [5, 0, 4, 1, 9]
    assert everything.labels[60000:60005].tolist() == [7, 2, 1, 0, 4]
    official = everything.subset(slice(0, 60000))
    train, val = mnist_splits["train"], mnist_splits["val"]
    # each official training image lands in exactly one of train / val
    counts = np.bincount(to_numpy(official.labels))
    assert counts.tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    val_counts = np.bincount(to_numpy(val.labels))
    np.testing.assert_array_equal(np.bincount(to_numpy(train.labels)) + val_counts, counts)
    np.testing.assert_allclose(val_counts / 10000, counts / 60000, atol=1e-4)
    total = float(official.features.sum(dtype=np.float64))
    parts = float(train.features.sum(dtype=np.float64) + val.features.sum(dtype=np.float64))
    assert parts == pytest.approx(total)


def test_validation_split_is_seeded(shared_data, mnist_splits):
    again = load_mnist("val", root=shared_data, seed=0)
    np.testing.assert_array_equal(to_numpy(again.features), to_numpy(mnist_splits["val"].features))
    other = load_mnist("val", root=shared_data, seed=1)
    assert not np.array_equal(to_numpy(other.labels), to_numpy(again.labels))
    small = load_mnist("val", root=shared_data, val_size=5000)
    assert len(small) == 5000


def test_unflattened_images(shared_data):
    test = load_mnist("test", root=shared_data, flatten=False)
    assert test.features.shape == (10000, 1, 28, 28)
    flat = load_mnist("test", root=shared_data)
    np.testing.assert_array_equal(to_numpy(test.features.reshape(10000, 784)), to_numpy(flat.features))


def test_fashion_mnist(shared_data):
    test = load_fashion_mnist("test", root=shared_data)
    assert len(test) == 10000 and test.class_names[9] == "Ankle boot"
    assert np.bincount(to_numpy(test.labels)).tolist() == [1000] * 10
    assert test.name == "fashion-mnist/test"


def test_bad_arguments(shared_data):
    with pytest.raises(ValueError, match="split must be one of"):
        load_mnist("training", root=shared_data)
    with pytest.raises(ValueError, match="val_size"):
        load_mnist("val", root=shared_data, val_size=60000)
    with pytest.raises(ValueError, match="floating-point"):
        load_mnist("test", root=shared_data, dtype="uint8")
    assert load_mnist("test", root=shared_data, dtype="float64").features.dtype == np.float64


def test_torchvision_layout_and_unpacked_files(shared_data, tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in MNIST.files:
        (raw / f.name).symlink_to(shared_data / "mnist" / f.name)
    assert len(load_mnist("test", root=tmp_path, download=False)) == 10000
    plain = tmp_path / "plain"
    plain.mkdir()
    for f in MNIST.files:
        target = plain / f.name
        if "labels" in f.name:  # some people keep them gunzipped
            target.with_suffix("").write_bytes(gzip.decompress((shared_data / "mnist" / f.name).read_bytes()))
        else:
            target.symlink_to(shared_data / "mnist" / f.name)
    assert load_mnist("test", root=plain, download=False).labels[:3].tolist() == [7, 2, 1]


def test_fashion_files_are_not_taken_for_mnist(shared_data, monkeypatch):
    # the same four file names: a folder of Fashion-MNIST must not load as MNIST
    with pytest.raises(DataFileError, match=r"is not MNIST's: .*\[1000, 1000.*Fashion-MNIST"):
        load_mnist("test", root=shared_data / "fashion-mnist", download=False)
    with pytest.raises(DataFileError, match="is not Fashion-MNIST's"):
        load_fashion_mnist("test", root=shared_data / "mnist", download=False)


def test_files_that_do_not_belong_together(shared_data, tmp_path):
    for f in MNIST.files:
        source = "t10k-labels-idx1-ubyte.gz" if f.name == "train-labels-idx1-ubyte.gz" else f.name
        (tmp_path / f.name).symlink_to(shared_data / "mnist" / source)
    with pytest.raises(DataFileError, match="60000 images but .* 10000 labels"):
        load_mnist("train", root=tmp_path, download=False)


def test_load_mnist_if_available_says_why_and_returns_none(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MINIDL_DATA", str(tmp_path / "home"))  # no cached copy to fall back on
    assert load_mnist_if_available(root=tmp_path, download=False) is None
    assert capsys.readouterr().out.startswith("MNIST not used: ")


def test_load_mnist_if_available_gives_train_and_test(shared_data):
    train, test = load_mnist_if_available(root=SHARED_DATA, download=False)
    assert (len(train), len(test)) == (50_000, 10_000)
