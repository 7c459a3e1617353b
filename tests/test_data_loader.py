"""DataLoader: every sample exactly once per epoch, reproducible orders, transforms, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl
from minidl.backend import to_numpy
from minidl.data import ArrayDataset, DataLoader, load_digits


def numbered(n: int) -> ArrayDataset:
    """Features that say which sample they are, so a batch shows its own indices."""
    x = np.arange(n, dtype=np.float32).reshape(n, 1) * np.ones((1, 3), dtype=np.float32)
    return ArrayDataset(x, np.arange(n) % 4, name="numbered")


@settings(deadline=None, max_examples=40)
@given(n=st.integers(1, 60), batch_size=st.integers(1, 17), shuffle=st.booleans(), drop_last=st.booleans(),
       seed=st.one_of(st.none(), st.integers(0, 2**31)))
def test_every_sample_exactly_once_per_epoch(n, batch_size, shuffle, drop_last, seed):
    loader = DataLoader(numbered(n), batch_size, shuffle=shuffle, drop_last=drop_last, seed=seed)
    for _ in range(2):
        batches = [x.data[:, 0].astype(int) for x, _ in loader]
        assert len(batches) == len(loader)
        seen = np.concatenate(batches) if batches else np.array([], dtype=int)
        assert len(set(seen.tolist())) == len(seen)  # never twice
        if drop_last:
            assert all(len(b) == batch_size for b in batches)
            assert len(seen) == n - n % batch_size
        else:
            assert sorted(seen.tolist()) == list(range(n))  # every one
        if not shuffle:
            assert seen.tolist() == list(range(len(seen)))


def test_same_seed_same_orders_and_epochs_differ():
    data = numbered(50)
    a, b = DataLoader(data, 8, shuffle=True, seed=3), DataLoader(data, 8, shuffle=True, seed=3)
    epochs_a = [[x.data[:, 0].tolist() for x, _ in a] for _ in range(3)]
    epochs_b = [[x.data[:, 0].tolist() for x, _ in b] for _ in range(3)]
    assert epochs_a == epochs_b
    assert epochs_a[0] != epochs_a[1]
    other = [x.data[:, 0].tolist() for x, _ in DataLoader(data, 8, shuffle=True, seed=4)]
    assert other != epochs_a[0]


def test_epoch_k_is_the_kth_permutation_of_the_seeded_generator():
    # the documented stream, which every seeded result in the course depends on
    loader = DataLoader(numbered(25), 25, shuffle=True, seed=11)
    rng = np.random.default_rng(11)
    for _ in range(3):
        assert next(iter(loader))[0].data[:, 0].astype(int).tolist() == rng.permutation(25).tolist()


def test_set_epoch_resumes_the_sequence():
    data = numbered(30)
    loader = DataLoader(data, 30, shuffle=True, seed=1)
    orders = [next(iter(loader))[0].data[:, 0].tolist() for _ in range(3)]
    resumed = DataLoader(data, 30, shuffle=True, seed=1)
    resumed.set_epoch(2)
    assert next(iter(resumed))[0].data[:, 0].tolist() == orders[2]
    assert loader.order(epoch=1).tolist() == orders[1]


def test_without_a_seed_manual_seed_makes_it_reproducible():
    data = numbered(40)
    minidl.manual_seed(7)
    first = [x.data[:, 0].tolist() for x, _ in DataLoader(data, 10, shuffle=True)]
    minidl.manual_seed(7)
    second = [x.data[:, 0].tolist() for x, _ in DataLoader(data, 10, shuffle=True)]
    assert first == second


def test_batches_are_tensors_with_matching_labels():
    data = load_digits("val")
    x, y = next(iter(DataLoader(data, 32, shuffle=True, seed=0)))
    assert isinstance(x, minidl.Tensor) and isinstance(y, minidl.Tensor)
    assert x.shape == (32, 64) and x.dtype == np.float32 and y.dtype == np.int64
    features, labels = to_numpy(data.features), to_numpy(data.labels)
    rows = [int(np.flatnonzero((features == row).all(axis=1))[0]) for row in x.numpy()[:5]]
    assert labels[rows].tolist() == y.numpy()[:5].tolist()


def test_transform_runs_once_per_batch_on_arrays():
    calls = []

    def double_and_shift(x, y):
        calls.append(len(x))
        assert isinstance(x, np.ndarray) and isinstance(y, np.ndarray)  # arrays, before wrapping
        return x * 2, y + 100

    out = list(DataLoader(numbered(10), 4, transform=double_and_shift))
    assert calls == [4, 4, 2]
    np.testing.assert_array_equal(out[0][0].data[:, 0], [0, 2, 4, 6])
    np.testing.assert_array_equal(out[0][1].data, [100, 101, 102, 103])


def test_any_indexable_dataset_is_stacked_sample_by_sample():
    pairs = [(np.full(3, i, dtype=np.float32), i % 2) for i in range(7)]
    batches = list(DataLoader(pairs, 3))
    assert [b[0].shape for b in batches] == [(3, 3), (3, 3), (1, 3)]
    assert batches[0][1].data.tolist() == [0, 1, 0] and batches[0][1].dtype == np.int64


def test_bad_arguments():
    data = numbered(5)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        DataLoader(data, 0)
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(data, 2.5)
    with pytest.raises(ValueError, match="empty dataset"):
        DataLoader(data.subset(np.array([], dtype=int)), 2)
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        DataLoader(data, 2, shuffle=True, seed=-1)
    with pytest.raises(TypeError, match="transform must be callable"):
        DataLoader(data, 2, transform="flip")
    with pytest.raises(ValueError, match="epoch"):
        DataLoader(data, 2).set_epoch(-1)


def test_ragged_samples_name_the_sample_and_both_shapes():
    pairs = [(np.zeros(3, dtype=np.float32), 0) for _ in range(10)]
    pairs[6] = (np.zeros(4, dtype=np.float32), 1)
    loader = DataLoader(pairs, 4)
    with pytest.raises(ValueError) as info:
        list(loader)
    msg = str(info.value)
    assert "sample 6 has shape (4,)" in msg and "sample 4 has shape (3,)" in msg
    shuffled = DataLoader(pairs, 10, shuffle=True, seed=0)  # indices are the dataset's, not the batch's
    with pytest.raises(ValueError, match=r"sample 6 has shape \(4,\)|has shape \(3,\) but sample 6"):
        list(shuffled)
    labels = [(np.zeros(2), np.zeros(2)), (np.zeros(2), np.zeros(3))]
    with pytest.raises(ValueError, match=r"label 1 has shape \(3,\)"):
        list(DataLoader(labels, 2))
