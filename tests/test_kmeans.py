"""K-means weight sharing and Huffman coding: the properties Deep Compression relies on.

Every weight maps to its nearest centroid; Lloyd never raises the within-cluster error;
the centroid gradient is the sum over its cluster; pruned weights stay zero through
fine-tuning; the Huffman code is prefix-free, round-trips, is optimal (equal to a brute
force over all prefix codes) and within one bit of the entropy."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minidl
from minidl import nn, optim
from minidl.compress import prune
from minidl.compress.quantize import coding, kmeans
from minidl.engine.gradcheck import gradcheck

finite = st.floats(-100, 100, allow_nan=False, allow_infinity=False, width=64)
values_1d = hnp.arrays(np.float64, st.integers(1, 60), elements=finite)


# -- the clustering ----------------------------------------------------------------------------

@settings(deadline=None, max_examples=150)
@given(values_1d, hnp.arrays(np.float64, st.integers(1, 9), elements=finite))
def test_assign_picks_a_nearest_centroid(values, centroids) -> None:
    index = kmeans.assign(values, centroids)
    distance = np.abs(values[:, None] - centroids[None, :])
    chosen = distance[np.arange(values.size), index]
    assert (chosen == distance.min(axis=1)).all()
    # of several equal centroids, the lowest index is the one used
    for i in index:
        assert i == np.flatnonzero(centroids == centroids[i]).min()
    # a value halfway between two centroids goes to the smaller one
    assert kmeans.assign(np.array([0.5]), np.array([1.0, 0.0])).tolist() == [1]


@settings(deadline=None, max_examples=100)
@given(hnp.arrays(np.float64, st.integers(2, 80), elements=finite), st.integers(1, 4),
       st.sampled_from(kmeans.INITS))
def test_kmeans_maps_every_kept_weight_to_its_nearest_stored_centroid(w, bits, init) -> None:
    w = w.astype(np.float32)
    mask = np.arange(w.size) % 3 != 1  # a third pruned
    book = kmeans.kmeans_quantize(w, bits, init, mask=mask)
    assert book.k == 2 ** bits and book.centroids.dtype == np.float32
    assert (book.index[~mask] == kmeans.PRUNED).all() and (book.decode()[~mask] == 0).all()
    kept = w[mask].astype(np.float64)
    c = book.centroids.astype(np.float64)
    distance = np.abs(kept[:, None] - c[None, :])
    assert (distance[np.arange(kept.size), book.index[mask]] == distance.min(axis=1)).all()


@settings(deadline=None, max_examples=100)
@given(values_1d, st.integers(1, 5), st.sampled_from(kmeans.INITS), st.integers(0, 3))
def test_lloyd_never_increases_the_within_cluster_error(values, bits, init, seed) -> None:
    start = kmeans.initial_centroids(values, 2 ** bits, init, seed)
    start_error = kmeans.within_cluster_error(values, kmeans.assign(values, start), start)
    c, index, history = kmeans.lloyd(values, start, max_iter=50, tol=0.0)
    errors = [start_error, *history, kmeans.within_cluster_error(values, index, c)]
    scale = float((values ** 2).sum()) + 1.0
    for before, after in zip(errors, errors[1:]):
        assert after <= before + 1e-12 * scale  # float64 rounding of the means only


def test_one_lloyd_iteration_equals_the_reference_assign_then_update() -> None:
    rng = np.random.default_rng(0)
    v = rng.normal(size=500)
    c = np.linspace(-2, 2, 8)
    fast, _, _ = kmeans.lloyd(v, c, max_iter=1)
    np.testing.assert_allclose(fast, kmeans.update_centroids(v, kmeans.assign(v, c), c), rtol=1e-12)


def test_hand_computed_clusters_and_the_empty_cluster_rule() -> None:
    book = kmeans.kmeans_quantize(np.array([1.0, 2.0, 10.0, 11.0]), 1)
    np.testing.assert_array_equal(book.centroids, [1.5, 10.5])
    np.testing.assert_array_equal(book.index, [0, 0, 1, 1])
    # centroid 10 gets no value: it stays exactly where it was
    c = kmeans.update_centroids(np.array([0.0, 0.0, 1.0]), np.array([0, 0, 2]), np.array([0.0, 10.0, 1.0]))
    np.testing.assert_array_equal(c, [0.0, 10.0, 1.0])
    # fewer distinct values than clusters: the extra clusters stay empty, the values are exact
    book = kmeans.kmeans_quantize(np.array([3.0, 3.0, -1.0]), 3)
    np.testing.assert_array_equal(book.decode(), [3.0, 3.0, -1.0])


def test_initializations() -> None:
    v = np.arange(101, dtype=np.float64)
    np.testing.assert_allclose(kmeans.initial_centroids(v, 5, "linear"), [0, 25, 50, 75, 100])
    np.testing.assert_allclose(kmeans.initial_centroids(v, 2, "density"), [25, 75])
    a = kmeans.initial_centroids(v, 4, "random", seed=1)
    assert np.array_equal(a, kmeans.initial_centroids(v, 4, "random", seed=1))
    assert not np.array_equal(a, kmeans.initial_centroids(v, 4, "random", seed=2))
    assert set(a) <= set(v)


def test_deterministic_with_a_seed() -> None:
    w = np.random.default_rng(3).normal(size=(20, 30)).astype(np.float32)
    for init in kmeans.INITS:
        a, b = kmeans.kmeans_quantize(w, 3, init, seed=5), kmeans.kmeans_quantize(w, 3, init, seed=5)
        assert np.array_equal(a.centroids, b.centroids) and np.array_equal(a.index, b.index)


@pytest.mark.parametrize("kwargs, message", [
    ({"bits": 0}, "bits must be an int in \\[1, 16\\]"),
    ({"bits": 3, "init": "kmeans++"}, "init must be one of"),
    ({"bits": 3, "mask": np.ones((2, 2), bool)}, "mask has shape"),
])
def test_bad_arguments_are_named(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        kmeans.kmeans_quantize(np.zeros((3, 3), np.float32), **kwargs)


def test_nan_weights_are_refused() -> None:
    with pytest.raises(ValueError, match="NaN"):
        kmeans.kmeans_quantize(np.array([1.0, np.nan]), 1)


# -- the trainable codebook --------------------------------------------------------------------

def test_centroid_gradient_is_the_sum_over_its_cluster() -> None:
    rng = np.random.default_rng(0)
    index = rng.integers(-1, 4, size=(6, 5)).astype(np.int32)
    g = rng.normal(size=(6, 5))
    c = minidl.tensor(rng.normal(size=4), requires_grad=True, dtype=minidl.float64)
    w = kmeans.CodebookLookup(index)(c)
    (w * minidl.tensor(g, dtype=minidl.float64)).sum().backward()
    expected = [g[index == j].sum() for j in range(4)]
    np.testing.assert_allclose(c.grad.numpy(), expected, rtol=1e-12)
    assert (w.numpy()[index == -1] == 0).all()
    gradcheck(lambda c: (kmeans.CodebookLookup(index)(c) ** 2).sum(),
              [minidl.tensor(rng.normal(size=4), requires_grad=True, dtype=minidl.float64)])


def test_shared_layer_trains_its_centroids_and_pruned_weights_stay_zero() -> None:
    minidl.manual_seed(0)
    layer = nn.Linear(12, 7)
    prune.l1_unstructured(layer, "weight", amount=0.5)
    pruned = ~minidl.backend.to_numpy(prune.get_mask(layer, "weight"))
    book = kmeans.share_weights(layer, "weight", bits=2)
    assert [n for n, _ in layer.named_parameters()] == ["weight_centroids", "bias"]
    assert (book.index[pruned] == kmeans.PRUNED).all()
    opt = optim.SGD(layer.parameters(), lr=0.1, momentum=0.9)
    x = minidl.tensor(np.random.default_rng(1).normal(size=(16, 12)).astype(np.float32))
    before = layer.weight_centroids.numpy().copy()
    for _ in range(3):
        opt.zero_grad()
        (layer(x) ** 2).mean().backward()
        opt.step()
    assert not np.array_equal(before, layer.weight_centroids.numpy())
    layer(x)  # the hook refreshes the weight
    w = layer.weight.numpy()
    assert (w[pruned] == 0).all()
    assert len(np.unique(w[~pruned])) <= 4
    np.testing.assert_array_equal(kmeans.codebook_of(layer).decode(), w)
    # the state_dict holds the codebook and the indices; loading it into a fresh shared layer works
    other = nn.Linear(12, 7)
    kmeans.share_weights(other, "weight", bits=2)
    other.load_state_dict(layer.state_dict())
    np.testing.assert_array_equal(other(x).numpy(), layer(x).numpy())


@pytest.mark.numpy_only
def test_sharing_then_fine_tuning_recovers_accuracy_on_digits() -> None:
    from minidl.data import DataLoader, load_digits
    from minidl.train import evaluate, fit

    minidl.manual_seed(0)
    train, test = load_digits("train"), load_digits("test")
    model = nn.MLP([64, 64, 10])
    fit(model, nn.functional.cross_entropy, optim.Adam(model.parameters(), lr=3e-3),
        DataLoader(train, batch_size=32, shuffle=True, seed=0), epochs=8, progress=False)
    loader = DataLoader(test, batch_size=512)
    float_acc = evaluate(model, loader)["accuracy"]
    kmeans.share_model_weights(model, bits=1)
    shared_acc = evaluate(model, loader)["accuracy"]
    fit(model, nn.functional.cross_entropy, optim.Adam(model.parameters(), lr=1e-2),
        DataLoader(train, batch_size=32, shuffle=True, seed=0), epochs=3, progress=False)
    tuned_acc = evaluate(model, loader)["accuracy"]
    assert float_acc > 0.9
    assert shared_acc < float_acc  # two values per matrix lose accuracy...
    assert tuned_acc > shared_acc  # ...and training the two values wins some back
    assert all(m.weight_centroids.shape == (2,) for m, _ in kmeans.shared_weight_modules(model))


# -- Huffman coding ------------------------------------------------------------------------------

counts_strategy = st.dictionaries(st.integers(0, 40), st.integers(1, 1000), min_size=1, max_size=12)


@settings(deadline=None, max_examples=200)
@given(counts_strategy)
def test_huffman_is_prefix_free_and_within_one_bit_of_the_entropy(counts) -> None:
    code = coding.HuffmanCode(coding.huffman_code_lengths(counts))
    assert coding.is_prefix_free(code.codes)
    h, mean = coding.entropy_bits(counts), code.mean_length(counts)
    assert h - 1e-9 <= mean < h + 1 or (len(counts) == 1 and mean == 1)
    assert sum(2.0 ** -n for n in code.lengths.values()) <= 1.0  # Kraft


@settings(deadline=None, max_examples=100)
@given(st.lists(st.integers(1, 50), min_size=1, max_size=6))
def test_huffman_is_optimal_against_brute_force_over_all_prefix_codes(counts) -> None:
    lengths = coding.huffman_code_lengths(dict(enumerate(counts)))
    assert sum(c * lengths[i] for i, c in enumerate(counts)) == coding.optimal_prefix_cost(counts)


@settings(deadline=None, max_examples=100)
@given(st.lists(st.integers(-3, 20), min_size=0, max_size=300))
def test_huffman_round_trips(symbols) -> None:
    code = coding.HuffmanCode.fit(symbols if symbols else [0])
    data, nbits = code.encode(symbols)
    assert nbits == sum(code.lengths[s] for s in symbols)
    assert len(data) == (nbits + 7) // 8
    assert code.decode(data, nbits, len(symbols)).tolist() == symbols


def test_huffman_hand_computed() -> None:
    lengths = coding.huffman_code_lengths({"a": 1, "b": 1, "c": 2})
    assert lengths == {"a": 2, "b": 2, "c": 1}
    assert coding.canonical_codes({0: 1, 1: 2, 2: 2}) == {0: (0b0, 1), 1: (0b10, 2), 2: (0b11, 2)}
    assert coding.huffman_code_lengths({7: 5}) == {7: 1}
    with pytest.raises(ValueError, match="not in the code"):
        coding.HuffmanCode({0: 1, 1: 1}).encode([2])


@settings(deadline=None, max_examples=100)
@given(hnp.arrays(np.int64, st.integers(1, 200), elements=st.integers(-1, 5)), st.integers(1, 4))
def test_sparse_stream_keeps_every_kept_position_and_symbol(index, gap_bits) -> None:
    stream = coding.sparse_stream(index, k=6, gap_bits=gap_bits)
    assert ((stream.gaps >= 1) & (stream.gaps <= 2 ** gap_bits)).all()
    positions, symbols = stream.positions_and_symbols()
    np.testing.assert_array_equal(positions, np.flatnonzero(index != -1))
    np.testing.assert_array_equal(symbols, index[index != -1])


def test_huffman_size_is_the_length_of_a_real_stream() -> None:
    rng = np.random.default_rng(0)
    w = rng.normal(size=(64, 100)).astype(np.float32)
    w[np.abs(w) < 1.0] = 0  # about 68% pruned
    book = kmeans.kmeans_quantize(w, 4, mask=w != 0)
    size = coding.huffman_nbytes(book.index, book.k)
    stream = coding.sparse_stream(book.index, k=book.k)
    expected = sum(coding.HuffmanCode.fit(stream.symbols).lengths[s] for s in stream.symbols.tolist())
    assert size.index_bits == expected
    counts = Counter(stream.symbols.tolist())
    assert size.index_bits / len(stream.symbols) < coding.entropy_bits(counts) + 1
    assert size.nbytes < coding.fixed_width_sparse_nbytes(stream, 4 + 1) + 4 * book.k < w.nbytes


# -- k-means against uniform, and the pipeline's sizes ---------------------------------------------

def test_uniform_baseline_is_the_qparams_formula() -> None:
    from minidl.compress.quantize import sharing_vs_uniform as sv

    w = np.random.default_rng(0).normal(size=(4, 6)).astype(np.float32)
    per_tensor = sv.uniform_weight(w, 3, per_channel=False)
    s = np.abs(w).max() / 3  # symmetric, narrow [-3, 3] at 3 bits: max|w| / ((qmax - qmin) / 2)
    np.testing.assert_allclose(per_tensor, np.clip(np.rint(w / np.float32(s)), -3, 3) * np.float32(s), rtol=1e-6)
    assert len(np.unique(per_tensor)) <= 7
    per_channel = sv.uniform_weight(w, 3, per_channel=True)
    assert all(len(np.unique(row)) <= 7 for row in per_channel)


def test_trainable_uniform_weights_pass_the_straight_through_gradient() -> None:
    from minidl.compress.quantize import sharing_vs_uniform as sv

    minidl.manual_seed(0)
    model = nn.MLP([5, 4, 2])
    sv.quantize_weights_uniform(model, 2, per_channel=True, trainable=True)
    x = minidl.tensor(np.random.default_rng(0).normal(size=(8, 5)).astype(np.float32))
    model(x).sum().backward()
    assert model[0].weight_float.grad is not None and np.abs(model[0].weight_float.grad.numpy()).sum() > 0
    assert all(len(np.unique(row)) <= 3 for row in model[0].weight.numpy())


def test_pipeline_sizes_count_every_byte() -> None:
    from minidl.compress.quantize import sharing_vs_uniform as sv

    minidl.manual_seed(0)
    model = nn.MLP([40, 30, 10])
    prune.global_unstructured(prune.parameters_to_prune(model), amount=0.8)
    s = sv.pipeline_sizes(model, bits=4)
    assert s.weights == 40 * 30 + 30 * 10 and s.kept == round(0.2 * s.weights)
    assert s.bias_bytes == 4 * (30 + 10)
    assert s.float32_dense == 4 * s.weights + s.bias_bytes
    assert s.int8_dense == s.weights + 4 * (30 + 10) + s.bias_bytes  # one byte per weight + a scale per row
    assert s.float32_dense > s.int8_dense > s.int8_sparse > s.kmeans_sparse
    assert s.ratio("kmeans_huffman") == s.float32_dense / s.kmeans_huffman


def test_dense_sizes_at_b_bits_per_method() -> None:
    from minidl.compress.quantize import sharing_vs_uniform as sv

    model = nn.MLP([16, 8, 4])
    sizes = sv.weight_nbytes_at(model, 3)
    packed = -(-16 * 8 * 3 // 8) + -(-8 * 4 * 3 // 8)  # ⌈n·b/8⌉ per matrix
    assert sizes["uniform per-tensor"] == packed + 2 * 4
    assert sizes["uniform per-channel"] == packed + 4 * (8 + 4)
    assert sizes["k-means"] == packed + 2 * 4 * 8
    # Huffman never needs more bits than the fixed-width code; its table costs a byte per symbol
    assert sizes["k-means + Huffman"] <= sizes["k-means"] + 2 * 8
