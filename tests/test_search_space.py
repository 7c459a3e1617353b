"""Search spaces: the grid enumerates the product exactly once, sampling without replacement
never repeats, log-uniform samples are uniform in log space, encodings round-trip."""

from __future__ import annotations

import contextlib
import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minidl.search import (
    Categorical,
    IntLogUniform,
    IntUniform,
    LogUniform,
    SearchSpace,
    Uniform,
    grid_search,
    random_search,
)
from minidl.search.space import point_key

SETTINGS = settings(max_examples=30, deadline=None)

# a space of 1..3 lists of 1..4 distinct values, under random names
small_lists = st.dictionaries(
    st.text("abcdefgh", min_size=1, max_size=3),
    st.lists(st.integers(-5, 5), min_size=1, max_size=4, unique=True),
    min_size=1, max_size=3)


def _record(params, budget):
    return 0.0


@SETTINGS
@given(small_lists)
def test_grid_enumerates_the_product_exactly_once_in_sorted_key_order(spec):
    points = list(SearchSpace(spec).grid())
    keys = sorted(spec)
    expected = [dict(zip(keys, combo)) for combo in itertools.product(*(spec[k] for k in keys))]
    assert points == expected  # same points, same order: last sorted key varies fastest
    assert len({point_key(p) for p in points}) == math.prod(len(v) for v in spec.values())
    result = grid_search(_record, spec, progress=False)
    assert [t.params for t in result.trials] == expected


def test_grid_of_a_list_of_dicts_is_the_union_with_shared_points_once():
    spec = [{"opt": ["sgd"], "lr": [0.1, 0.01], "momentum": [0.0, 0.9]},
            {"opt": ["adam"], "lr": [0.001, 0.01]},
            {"opt": ["adam"], "lr": [0.01, 0.1]}]  # adam / 0.01 appears twice
    points = list(SearchSpace(spec).grid())
    assert len(points) == 4 + 2 + 1
    assert len({point_key(p) for p in points}) == len(points)
    assert points[0] == {"lr": 0.1, "momentum": 0.0, "opt": "sgd"}
    assert {"lr": 0.1, "opt": "adam"} in points and {"lr": 0.01, "opt": "adam"} in points


def test_grid_rejects_continuous_distributions_with_a_clear_message():
    with pytest.raises(TypeError, match="'lr' is LogUniform"):
        grid_search(_record, {"lr": LogUniform(1e-4, 1e-1)}, progress=False)


def test_ranges_and_constants_take_part_in_the_grid():
    points = list(SearchSpace({"depth": range(1, 4), "act": "relu"}).grid())
    assert points == [{"act": "relu", "depth": d} for d in (1, 2, 3)]


@SETTINGS
@given(small_lists, st.integers(0, 2**31 - 1), st.integers(1, 70))
def test_random_search_over_lists_never_repeats_a_point(spec, seed, n):
    size = math.prod(len(v) for v in spec.values())
    with pytest.warns(UserWarning, match="distinct points") if n > size else contextlib.nullcontext():
        result = random_search(_record, spec, n, seed=seed, progress=False)
    keys = [point_key(t.params) for t in result.trials]
    assert len(keys) == len(set(keys)) == min(n, size)
    assert all(SearchSpace(spec).contains(t.params) for t in result.trials)


def test_random_search_without_replacement_over_a_huge_grid():
    # 10^12 points: drawn by index without building the grid
    spec = {f"p{i}": list(range(10)) for i in range(12)}
    result = random_search(_record, spec, 50, seed=3, progress=False)
    assert len({point_key(t.params) for t in result.trials}) == 50


def test_random_search_with_a_distribution_samples_with_replacement():
    # one distribution makes the space infinite: integer draws then repeat by chance
    result = random_search(_record, {"k": IntUniform(0, 2), "x": ["a"]}, 30, seed=0, progress=False)
    values = [t.params["k"] for t in result.trials]
    assert set(values) == {0, 1, 2} and len(values) == 30


def _ks_uniform(u: np.ndarray) -> float:
    """Kolmogorov–Smirnov distance of a sample from U(0, 1): max |F_n(u) − u|."""
    u = np.sort(u)
    n = len(u)
    i = np.arange(1, n + 1)
    return float(max(np.max(i / n - u), np.max(u - (i - 1) / n)))


def test_log_uniform_samples_stay_in_range_and_are_uniform_in_log_space():
    low, high, n = 1e-4, 1e-1, 4000
    rng = np.random.default_rng(12345)
    x = np.array(LogUniform(low, high).sample(rng, n))
    assert x.min() >= low and x.max() <= high
    u = (np.log(x) - math.log(low)) / (math.log(high) - math.log(low))
    # 1.63/√n is the 1 % critical value of the KS statistic
    assert _ks_uniform(u) < 1.63 / math.sqrt(n)
    # ...and the test has teeth: plain uniform draws on the same range fail it by far
    x_lin = np.array(Uniform(low, high).sample(rng, n))
    u_lin = (np.log(x_lin) - math.log(low)) / (math.log(high) - math.log(low))
    assert _ks_uniform(u_lin) > 0.5
    # a third of the draws in each decade
    decades = np.histogram(np.log10(x), bins=[-4, -3, -2, -1])[0] / n
    np.testing.assert_allclose(decades, 1 / 3, atol=0.03)


def test_integer_distributions_include_both_ends_equally():
    rng = np.random.default_rng(0)
    k = np.array(IntUniform(1, 4).sample(rng, 8000))
    assert set(np.unique(k)) == {1, 2, 3, 4}
    np.testing.assert_allclose(np.bincount(k)[1:] / len(k), 0.25, atol=0.02)
    w = IntLogUniform(8, 256).sample(rng, 4000)
    assert all(isinstance(v, int) and 8 <= v <= 256 for v in w)
    # log-uniform: as many widths in [8, 32) as in [64, 256] (each about two octaves)
    w = np.array(w)
    assert abs(np.mean(w < 32) - np.mean(w >= 64)) < 0.05


def test_samples_are_python_scalars_so_no_float64_reaches_a_float32_model():
    rng = np.random.default_rng(0)
    space = SearchSpace({"lr": LogUniform(1e-3, 1.0), "u": Uniform(0, 1), "k": IntUniform(1, 3),
                         "c": list(np.array([0.5, 1.5]))})
    for _ in range(5):
        p = space.sample(rng)
        assert type(p["lr"]) is float and type(p["u"]) is float and type(p["k"]) is int
        assert type(p["c"]) is float


@SETTINGS
@given(st.integers(0, 10_000))
def test_encode_decode_round_trip_and_unit_cube(seed):
    rng = np.random.default_rng(seed)
    space = SearchSpace([{"opt": ["sgd"], "lr": LogUniform(1e-4, 1.0), "momentum": Uniform(0.0, 0.99),
                          "width": IntLogUniform(8, 256)},
                         {"opt": ["adam", "adamw"], "lr": LogUniform(1e-5, 1e-1), "depth": range(1, 5)}])
    points = [space.sample(rng) for _ in range(8)]
    u = space.encode(points)
    assert u.shape == (8, space.n_columns) and u.min() >= 0 and u.max() <= 1
    decoded = space.decode(u)
    for p, q in zip(points, decoded):
        assert p.keys() == q.keys()
        for k in p:
            assert (p[k] == q[k]) if not isinstance(p[k], float) else math.isclose(p[k], q[k], rel_tol=1e-9)
    np.testing.assert_allclose(space.snap(u), u, atol=1e-12)  # valid points are fixed points of snap
    # any row of the cube snaps to a valid point
    noisy = space.snap(rng.uniform(size=(20, space.n_columns)))
    assert all(space.contains(p) for p in space.decode(noisy))


def test_latin_hypercube_puts_one_point_in_each_slice():
    rng = np.random.default_rng(0)
    space = SearchSpace({"a": Uniform(0, 1), "b": LogUniform(1e-3, 1), "c": ["x", "y"]})
    pts = space.latin_hypercube(rng, 10)
    u = space.encode(pts)
    for col in (0, 1):  # ordinal columns: one point per tenth
        assert sorted(np.floor(u[:, col] * 10).astype(int)) == list(range(10))
    assert sorted(p["c"] for p in pts).count("x") == 5  # categories dealt in equal shares


@pytest.mark.parametrize("make, error, match", [
    (lambda: {"lr": (1e-3, 1e-1)}, TypeError, "write choices as a list"),
    (lambda: {"lr": []}, ValueError, "must not be empty"),
    (lambda: {"lr": LogUniform(0.0, 1.0)}, ValueError, "log scale needs low > 0"),
    (lambda: {"lr": Uniform(1.0, 1.0)}, ValueError, "need low < high"),
    (lambda: {"lr": Uniform(0.0, float("inf"))}, ValueError, "high must be finite"),
    (lambda: {"lr": Uniform("0", 1)}, TypeError, "low must be a number"),
    (lambda: {"k": IntUniform(1.5, 3)}, ValueError, "must be integers"),
    (lambda: {"k": range(3, 3)}, ValueError, "must not be empty"),
    (lambda: {"act": ["relu", "tanh", "relu"]}, ValueError, "'relu' appears twice"),
    (lambda: {1: [1, 2]}, TypeError, "names must be strings"),
    (lambda: "lr", TypeError, "space must be a dict"),
    (lambda: [], ValueError, "must not be an empty list"),
])
def test_bad_spaces_get_clear_errors(make, error, match):
    with pytest.raises(error, match=match):
        SearchSpace(make())


def test_categorical_choices_are_kept_as_given():
    space = SearchSpace({"act": Categorical(["relu", "tanh"]), "flag": [True, False], "none": [None, 1]})
    assert space.grid_size() == 8
    assert all(space.contains(p) for p in space.grid())
