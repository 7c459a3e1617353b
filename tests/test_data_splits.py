"""Splits and subsampling: exact sizes, stratification, seeds, the digits splits kept stable."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minidl.backend import to_numpy
from minidl.data import (
    ArrayDataset,
    load_digits,
    random_split,
    stratified_sample,
    stratified_split,
    subsample,
)
from minidl.data.splits import apportion, stratified_holdout


def test_apportion_hand_vectors():
    assert apportion([1, 1, 1], 10).tolist() == [4, 3, 3]  # remainder to the lowest index on ties
    assert apportion([5923, 6742], 1000).tolist() == [468, 532]
    assert apportion([1, 0, 3], 7).tolist() == [2, 0, 5]
    with pytest.raises(ValueError, match="non-negative with a positive sum"):
        apportion([0, 0], 3)


@settings(deadline=None, max_examples=50)
@given(weights=st.lists(st.integers(0, 1000), min_size=1, max_size=12).filter(lambda w: sum(w) > 0),
       total=st.integers(0, 5000))
def test_apportion_sums_exactly_and_stays_within_one_of_the_quota(weights, total):
    shares = apportion(weights, total)
    assert shares.sum() == total
    exact = total * np.array(weights) / sum(weights)
    assert np.all(np.abs(shares - exact) < 1)


def test_digits_splits_are_unchanged():
    # the numbers every lesson and chapter was written against (60/20/20, seed 0)
    train, val, test = (load_digits(s) for s in ("train", "val", "test"))
    assert (len(train), len(val), len(test)) == (1078, 360, 359)
    assert train.labels[:8].tolist() == [0, 1, 4, 5, 6, 8, 9, 0]
    assert val.labels[:8].tolist() == [3, 7, 3, 0, 0, 1, 8, 1]
    assert float(test.features.sum()) == 6987.4375
    with pytest.raises(ValueError, match="floating-point"):
        load_digits("train", dtype="int64")


def test_stratified_split_is_a_partition():
    labels = np.repeat(np.arange(3), [10, 20, 30])
    parts = stratified_split(labels, {"a": 0.5, "b": 0.5}, seed=2)
    assert np.intersect1d(parts["a"], parts["b"]).size == 0
    assert sorted(np.concatenate(list(parts.values())).tolist()) == list(range(60))
    assert np.bincount(labels[parts["a"]]).tolist() == [5, 10, 15]
    with pytest.raises(ValueError, match="sum to 1"):
        stratified_split(labels, {"a": 0.5, "b": 0.6})


def test_stratified_holdout_has_the_exact_size():
    labels = np.repeat(np.arange(10), [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])
    rest, held = stratified_holdout(labels, 10000, seed=0)
    assert len(held) == 10000 and len(rest) == 50000
    assert np.intersect1d(rest, held).size == 0
    np.testing.assert_allclose(np.bincount(labels[held]) / 10000, np.bincount(labels) / 60000, atol=1e-4)


def test_balanced_sample_needs_enough_of_every_class():
    labels = np.repeat([0, 1], [3, 50])
    assert np.bincount(labels[stratified_sample(labels, 6, balanced=True)]).tolist() == [3, 3]
    with pytest.raises(ValueError, match="needs 4 samples of class 0, which has only 3"):
        stratified_sample(labels, 8, balanced=True)
    with pytest.raises(ValueError, match="size must be an int"):
        stratified_sample(labels, 54)


@pytest.mark.parametrize("strategy", ["random", "stratified", "balanced"])
def test_subsample_sizes_seeds_and_order(strategy):
    train = load_digits("train")
    sub = subsample(train, 0.2, strategy=strategy, seed=5)
    assert len(sub) == round(0.2 * len(train))
    assert sub.class_names == train.class_names and "216/1078" in sub.name
    again = subsample(train, 0.2, strategy=strategy, seed=5)
    np.testing.assert_array_equal(to_numpy(sub.features), to_numpy(again.features))
    other = subsample(train, 0.2, strategy=strategy, seed=6)
    assert not np.array_equal(to_numpy(sub.features), to_numpy(other.features))
    # every subsampled row is a row of the training set, in the training set's order
    features = to_numpy(train.features)
    index = [int(np.flatnonzero((features == row).all(axis=1))[0]) for row in to_numpy(sub.features[:20])]
    assert index == sorted(index)


def test_subsample_strategies_differ_in_class_counts():
    labels = np.repeat(np.arange(3), [100, 200, 700])
    data = ArrayDataset(np.arange(1000, dtype=np.float32)[:, None], labels)
    assert np.bincount(subsample(data, size=100, strategy="stratified").labels).tolist() == [10, 20, 70]
    assert np.bincount(subsample(data, size=99, strategy="balanced").labels).tolist() == [33, 33, 33]
    counts = [np.bincount(subsample(data, size=30, seed=s).labels, minlength=3) for s in range(20)]
    assert len({tuple(c) for c in counts}) > 1  # random: class counts vary from draw to draw


def test_subsample_bad_arguments():
    data = load_digits("val")
    with pytest.raises(ValueError, match="exactly one of fraction and size"):
        subsample(data)
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\]"):
        subsample(data, 1.5)
    with pytest.raises(ValueError, match="rounds to 0"):
        subsample(data, 0.001)
    with pytest.raises(ValueError, match="strategy must be one of"):
        subsample(data, 0.5, strategy="first")


def test_random_split_like_pytorch():
    data = ArrayDataset(np.arange(10, dtype=np.float32)[:, None], np.arange(10) % 2)
    parts = random_split(data, [0.34, 0.33, 0.33], seed=0)
    assert [len(p) for p in parts] == [4, 3, 3]  # floors 3, 3, 3; the remainder goes to the first
    values = np.concatenate([p.features[:, 0] for p in parts])
    assert sorted(values.tolist()) == list(range(10))
    sized = random_split(data, [7, 3], seed=1)
    assert [len(p) for p in sized] == [7, 3]
    strat = random_split(load_digits("train"), [0.5, 0.5], stratify=True)
    assert abs(np.bincount(to_numpy(strat[0].labels)) - np.bincount(to_numpy(strat[1].labels))).max() <= 1
    with pytest.raises(ValueError, match="summing to 10"):
        random_split(data, [5, 4])
