"""``minidl.data``: the bundled digits, stratified splits and the DataLoader."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl as md
from minidl import backend
from minidl.data import ArrayDataset, DataLoader, load_digits, stratified_split

DIGIT_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
FRACTIONS = {"train": 0.6, "val": 0.2, "test": 0.2}


def host(a) -> np.ndarray:
    """A NumPy copy of an array of any backend (datasets live on the active backend)."""
    return backend.to_numpy(a)


def _row_keys(features) -> set[bytes]:
    return {row.tobytes() for row in np.ascontiguousarray(host(features))}


# ---------------------------------------------------------------------------------------------
# load_digits


def test_digits_all() -> None:
    ds = load_digits("all")
    assert len(ds) == 1797
    features, labels = host(ds.features), host(ds.labels)
    assert np.bincount(labels).tolist() == DIGIT_COUNTS
    assert features.shape == (1797, 64)
    assert features.dtype == np.float32 and labels.dtype == np.int64
    assert features.min() == 0.0 and features.max() == 1.0
    assert type(ds.features) is type(backend.xp.zeros(1))  # on the active backend
    assert ds.num_classes == 10 and ds.num_features == 64
    assert ds.class_names == [str(d) for d in range(10)]


def test_digits_splits_are_disjoint_and_cover_everything() -> None:
    everything = load_digits("all")
    splits = {name: load_digits(name) for name in FRACTIONS}
    assert sum(len(s) for s in splits.values()) == 1797
    # Compare samples as (pixels, label) rows: the bundled set has a few duplicate images,
    # so compare sorted lists (multisets), not sets.
    def rows(ds: ArrayDataset) -> list[bytes]:
        table = np.concatenate([host(ds.features), host(ds.labels)[:, None].astype(np.float32)], axis=1)
        return sorted(row.tobytes() for row in table)

    combined = sorted(sum((rows(s) for s in splits.values()), []))
    assert combined == rows(everything)


def test_digits_split_indices_are_disjoint_and_cover_everything() -> None:
    labels = host(load_digits("all").labels)
    idx = stratified_split(labels, FRACTIONS, seed=0)
    joined = np.concatenate([idx[k] for k in FRACTIONS])
    assert len(joined) == 1797
    np.testing.assert_array_equal(np.sort(joined), np.arange(1797))
    for k in FRACTIONS:  # and load_digits uses exactly these indices
        np.testing.assert_array_equal(host(load_digits(k).labels), labels[idx[k]])


@pytest.mark.parametrize("seed", [0, 7])
def test_digits_splits_are_stratified(seed: int) -> None:
    for name, fraction in FRACTIONS.items():
        counts = np.bincount(host(load_digits(name, seed=seed).labels), minlength=10)
        ideal = fraction * np.array(DIGIT_COUNTS)
        assert (np.abs(counts - ideal) <= 1).all(), (name, counts.tolist(), ideal.tolist())


def test_digits_split_depends_on_the_seed_only() -> None:
    a, b = load_digits("train", seed=3), load_digits("train", seed=3)
    np.testing.assert_array_equal(host(a.features), host(b.features))
    np.testing.assert_array_equal(host(a.labels), host(b.labels))
    c = load_digits("train", seed=4)
    assert _row_keys(a.features) != _row_keys(c.features)


def test_digits_unflattened() -> None:
    ds = load_digits("test", flatten=False)
    assert ds.features.shape == (len(ds), 1, 8, 8)
    np.testing.assert_array_equal(host(ds.features).reshape(len(ds), 64), host(load_digits("test").features))


def test_digits_dtype_option_and_bad_split() -> None:
    assert load_digits("val", dtype="float64").features.dtype == np.float64
    with pytest.raises(ValueError, match="split") as info:
        load_digits("training")
    assert "'training'" in str(info.value)


# ---------------------------------------------------------------------------------------------
# stratified_split


def test_stratified_split_small_case() -> None:
    labels = np.array([0] * 10 + [1] * 5)
    idx = stratified_split(labels, {"a": 0.6, "b": 0.4}, seed=1)
    assert np.bincount(labels[idx["a"]]).tolist() == [6, 3]
    assert np.bincount(labels[idx["b"]]).tolist() == [4, 2]
    assert sorted(np.concatenate([idx["a"], idx["b"]]).tolist()) == list(range(15))
    assert all((np.diff(v) > 0).all() for v in idx.values())  # sorted, no repeats


@pytest.mark.parametrize("fractions", [{"a": 0.5, "b": 0.6}, {"a": 1.2, "b": -0.2}, {"a": 0.3}])
def test_stratified_split_rejects_bad_fractions(fractions) -> None:
    with pytest.raises(ValueError, match="fractions"):
        stratified_split(np.zeros(10, dtype=int), fractions)


# ---------------------------------------------------------------------------------------------
# DataLoader


def numbered_dataset(n: int) -> ArrayDataset:
    """Sample i has features (i, −i) and label i, so a batch shows which samples it holds."""
    ids = np.arange(n)
    features = np.stack([ids, -ids], axis=1).astype(np.float32)
    return ArrayDataset(md.tensor(features).data, md.tensor(ids).data)  # on the active backend


def epoch_ids(loader: DataLoader) -> list[list[int]]:
    batches = []
    for x, y in loader:
        assert isinstance(x, md.Tensor) and isinstance(y, md.Tensor)
        np.testing.assert_array_equal(x.numpy()[:, 0], y.numpy())  # features stay with labels
        batches.append(y.tolist())
    return batches


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 40), batch_size=st.integers(1, 12), shuffle=st.booleans(),
       drop_last=st.booleans(), seed=st.integers(0, 3))
def test_every_sample_once_per_epoch(n: int, batch_size: int, shuffle: bool, drop_last: bool,
                                     seed: int) -> None:
    loader = DataLoader(numbered_dataset(n), batch_size=batch_size, shuffle=shuffle,
                        drop_last=drop_last, seed=seed)
    expected_batches = n // batch_size if drop_last else math.ceil(n / batch_size)
    assert len(loader) == expected_batches
    for _ in range(2):
        batches = epoch_ids(loader)
        assert len(batches) == expected_batches
        seen = [i for b in batches for i in b]
        assert len(seen) == len(set(seen))  # never twice
        if drop_last:
            assert all(len(b) == batch_size for b in batches)
            assert len(seen) == n - n % batch_size
        else:
            assert sorted(seen) == list(range(n))  # every sample exactly once
            assert all(len(b) == batch_size for b in batches[:-1])
        if not shuffle:
            assert seen == list(range(len(seen)))


def test_drop_last_semantics() -> None:
    ds = numbered_dataset(10)
    assert [len(b) for b in epoch_ids(DataLoader(ds, batch_size=4))] == [4, 4, 2]
    assert [len(b) for b in epoch_ids(DataLoader(ds, batch_size=4, drop_last=True))] == [4, 4]
    assert len(DataLoader(ds, batch_size=4, drop_last=True)) == 2
    assert epoch_ids(DataLoader(ds, batch_size=20, drop_last=True)) == []
    assert len(DataLoader(ds, batch_size=20)) == 1


def test_seeded_shuffle_is_reproducible_and_changes_every_epoch() -> None:
    ds = numbered_dataset(100)
    a = DataLoader(ds, batch_size=100, shuffle=True, seed=5)
    b = DataLoader(ds, batch_size=100, shuffle=True, seed=5)
    a1, a2, a3 = epoch_ids(a), epoch_ids(a), epoch_ids(a)
    assert epoch_ids(b) == a1 and epoch_ids(b) == a2  # same seed, same sequence of orders
    assert a1 != a2 and a2 != a3  # a new order every epoch
    assert a1[0] != list(range(100))
    c = DataLoader(ds, batch_size=100, shuffle=True, seed=6)
    assert epoch_ids(c) != a1


def test_unseeded_shuffle_follows_manual_seed() -> None:
    # minidl.manual_seed promises "the same weights, dropout masks and shuffles", as
    # torch.manual_seed does for a DataLoader without its own generator.
    ds = numbered_dataset(50)
    md.manual_seed(11)
    first = epoch_ids(DataLoader(ds, batch_size=50, shuffle=True))
    md.manual_seed(11)
    second = epoch_ids(DataLoader(ds, batch_size=50, shuffle=True))
    assert first == second


@pytest.mark.parametrize("batch_size", [0, -3, 2.5, "8", None])
def test_batch_size_validation(batch_size) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(numbered_dataset(5), batch_size=batch_size)


def test_empty_dataset_is_rejected() -> None:
    with pytest.raises(ValueError, match="empty"):
        DataLoader(numbered_dataset(0), batch_size=2)


class PairList:
    """A list-like dataset that is not an ArrayDataset: (x, y) pairs read one at a time."""

    def __init__(self, pairs: list) -> None:
        self.pairs = pairs
        self.reads = 0

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int):
        self.reads += 1
        return self.pairs[i]


def test_dataset_of_array_pairs() -> None:
    pairs = [(np.array([i, i + 0.5], dtype=np.float32), i % 3) for i in range(7)]
    ds = PairList(pairs)
    batches = list(DataLoader(ds, batch_size=3))
    assert ds.reads == 7
    assert [tuple(x.shape) for x, _ in batches] == [(3, 2), (3, 2), (1, 2)]
    x, y = batches[1]
    assert x.dtype == md.float32 and y.dtype == md.int64
    np.testing.assert_array_equal(x.numpy(), [[3, 3.5], [4, 4.5], [5, 5.5]])
    np.testing.assert_array_equal(y.numpy(), [0, 1, 2])
    plain_list = list(DataLoader(pairs, batch_size=7, shuffle=True, seed=0))
    assert sorted(plain_list[0][1].tolist()) == sorted(i % 3 for i in range(7))


def test_dataset_of_tensor_pairs() -> None:
    # Samples that are minidl Tensors are stacked into one numeric batch (as torch's collate does).
    pairs = [(md.tensor([float(i), -float(i)]), i) for i in range(5)]
    x, y = next(iter(DataLoader(pairs, batch_size=4)))
    assert x.dtype == md.float32 and x.shape == (4, 2)
    np.testing.assert_array_equal(x.numpy(), [[0, 0], [1, -1], [2, -2], [3, -3]])
    np.testing.assert_array_equal(y.numpy(), [0, 1, 2, 3])


def test_transform_is_applied_per_batch() -> None:
    loader = DataLoader(numbered_dataset(4), batch_size=2, transform=lambda x, y: (x * 2, y + 10))
    x, y = next(iter(loader))
    np.testing.assert_array_equal(x.numpy(), [[0, 0], [2, -2]])
    np.testing.assert_array_equal(y.numpy(), [10, 11])


def test_array_dataset() -> None:
    ds = numbered_dataset(6)
    x, y = ds[2]
    assert host(y) == 2 and host(x).tolist() == [2.0, -2.0]
    xs, ys = ds[md.tensor([0, 5]).data]
    assert host(ys).tolist() == [0, 5]
    sub = ds.subset(md.tensor([1, 3]).data, name="odd")
    assert len(sub) == 2 and sub.name == "odd" and host(sub.labels).tolist() == [1, 3]
    with pytest.raises(ValueError, match="length"):
        ArrayDataset(np.zeros((3, 2)), np.zeros(4))
